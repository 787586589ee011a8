"""Routings: where each top resource lives (its pod and bottom id), filtered by resource
type, pod, top id, project or status."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from horizon import tables

from cascade_dashboard.common import ListView


class RoutingFilter(tables.FilterAction):  # type: ignore[misc]
    filter_type = "server"
    filter_choices = (
        ("resource_type", _("Resource Type ="), True),
        ("pod_id", _("Pod ID ="), True),
        ("top_id", _("Top ID ="), True),
        ("project_id", _("Project ID ="), True),
        ("status", _("Status ="), True),
    )


class RoutingsTable(tables.DataTable):  # type: ignore[misc]
    resource_type = tables.Column("resource_type", verbose_name=_("Resource Type"))
    top_id = tables.Column("top_id", verbose_name=_("Top ID"))
    pod_id = tables.Column("pod_id", verbose_name=_("Pod ID"))
    bottom_id = tables.Column("bottom_id", verbose_name=_("Bottom ID"))
    project = tables.Column("project_id", verbose_name=_("Project ID"))
    status = tables.Column("status", verbose_name=_("Status"))

    class Meta:
        name = "routings"
        verbose_name = _("Routings")
        table_actions = (RoutingFilter,)


class IndexView(ListView):
    table_class = RoutingsTable
    page_title = _("Routings")
    path = "/routings"
    key = "routings"

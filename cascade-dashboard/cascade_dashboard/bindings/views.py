"""Bindings: which pod serves each project in each AZ, filtered by project or AZ."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from horizon import tables

from cascade_dashboard.common import ListView


class BindingFilter(tables.FilterAction):  # type: ignore[misc]
    filter_type = "server"
    filter_choices = (
        ("project_id", _("Project ID ="), True),
        ("az", _("Availability Zone ="), True),
    )


class BindingsTable(tables.DataTable):  # type: ignore[misc]
    project = tables.Column("project_id", verbose_name=_("Project ID"))
    az = tables.Column("az", verbose_name=_("Availability Zone"))
    pod_id = tables.Column("pod_id", verbose_name=_("Pod ID"))
    created_at = tables.Column("created_at", verbose_name=_("Created At"))

    class Meta:
        name = "bindings"
        verbose_name = _("Bindings")
        table_actions = (BindingFilter,)


class IndexView(ListView):
    table_class = BindingsTable
    page_title = _("Bindings")
    path = "/bindings"
    key = "bindings"

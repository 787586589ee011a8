"""Jobs: the queue of cross-pod work, filtered by type, status, project or resource,
with Redo (queue a failed or finished job to run again now)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from horizon import tables

from cascade_dashboard import api
from cascade_dashboard.common import ListView


class JobFilter(tables.FilterAction):  # type: ignore[misc]
    filter_type = "server"
    filter_choices = (
        ("status", _("Status ="), True),
        ("type", _("Type ="), True),
        ("project_id", _("Project ID ="), True),
        ("resource_id", _("Resource ID ="), True),
    )


class RedoJob(tables.BatchAction):  # type: ignore[misc]
    """POST /v1/jobs/{id}/redo: a job that is not running is queued to run now."""

    name = "redo"

    @staticmethod
    def action_present(count: int) -> Any:
        return ngettext_lazy("Redo Job", "Redo Jobs", count)

    @staticmethod
    def action_past(count: int) -> Any:
        return ngettext_lazy("Queued Job Again", "Queued Jobs Again", count)

    def allowed(self, request: Any, job: api.Row | None = None) -> bool:
        return job is None or job.status != "running"

    def action(self, request: Any, obj_id: str) -> None:
        api.client(request).action(f"/jobs/{obj_id}/redo", "job")


class JobsTable(tables.DataTable):  # type: ignore[misc]
    id = tables.Column("id", verbose_name=_("ID"))
    type = tables.Column("type", verbose_name=_("Type"))
    resource = tables.Column("resource_id", verbose_name=_("Resource ID"))
    project = tables.Column("project_id", verbose_name=_("Project ID"))
    status = tables.Column("status", verbose_name=_("Status"))
    attempts = tables.Column("attempts", verbose_name=_("Attempts"))
    run_after = tables.Column("run_after", verbose_name=_("Run After"))
    last_error = tables.Column(
        lambda job: job.last_error or "-", verbose_name=_("Last Error"), truncate=80
    )

    class Meta:
        name = "jobs"
        verbose_name = _("Jobs")
        table_actions = (JobFilter, RedoJob)
        row_actions = (RedoJob,)


class IndexView(ListView):
    table_class = JobsTable
    page_title = _("Jobs")
    path = "/jobs"
    key = "jobs"
    newest_first = True

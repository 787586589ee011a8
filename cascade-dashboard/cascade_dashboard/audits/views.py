"""Audits (each run's status and counts by finding code) and each audit's findings, with
Repair (queue the finding's first offered repair as a job)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from horizon import tables

from cascade_dashboard import api
from cascade_dashboard.common import ListView


def counts(audit: api.Row) -> str:
    found = audit.counts or {}
    return ", ".join(f"{code}: {n}" for code, n in sorted(found.items())) or "-"


class AuditsTable(tables.DataTable):  # type: ignore[misc]
    id = tables.Column(
        "id",
        verbose_name=_("ID"),
        link=lambda audit: reverse("horizon:cascade:audits:findings", args=[audit.id]),
    )
    status = tables.Column("status", verbose_name=_("Status"))
    trigger = tables.Column("trigger", verbose_name=_("Trigger"))
    pod = tables.Column(lambda audit: audit.pod_id or _("every pod"), verbose_name=_("Pod ID"))
    pods = tables.Column("pods_audited", verbose_name=_("Pods Audited"))
    unavailable = tables.Column(
        lambda audit: ", ".join(audit.pods_unavailable or []) or "-",
        verbose_name=_("Pods Unavailable"),
    )
    counts = tables.Column(counts, verbose_name=_("Findings"))
    created_at = tables.Column("created_at", verbose_name=_("Created At"))

    class Meta:
        name = "audits"
        verbose_name = _("Audits")


class IndexView(ListView):
    table_class = AuditsTable
    page_title = _("Audits")
    path = "/audits"
    key = "audits"
    newest_first = True


class FindingFilter(tables.FilterAction):  # type: ignore[misc]
    filter_type = "server"
    filter_choices = (
        ("code", _("Code ="), True),
        ("severity", _("Severity ="), True),
        ("resource_type", _("Resource Type ="), True),
        ("pod_id", _("Pod ID ="), True),
        ("repair_status", _("Repair Status ="), True),
    )


class RepairFinding(tables.BatchAction):  # type: ignore[misc]
    """POST /v1/audits/{audit}/findings/{id}/repair: its first offered repair, as a job."""

    name = "repair"

    @staticmethod
    def action_present(count: int) -> Any:
        return ngettext_lazy("Repair Finding", "Repair Findings", count)

    @staticmethod
    def action_past(count: int) -> Any:
        return ngettext_lazy("Queued Repair", "Queued Repairs", count)

    def allowed(self, request: Any, finding: api.Row | None = None) -> bool:
        return finding is None or (bool(finding.repairs) and not finding.repair_status)

    def action(self, request: Any, obj_id: str) -> None:
        audit = self.table.kwargs["audit_id"]
        api.client(request).action(f"/audits/{audit}/findings/{obj_id}/repair", "finding")


class FindingsTable(tables.DataTable):  # type: ignore[misc]
    code = tables.Column("code", verbose_name=_("Code"))
    severity = tables.Column("severity", verbose_name=_("Severity"))
    resource_type = tables.Column("resource_type", verbose_name=_("Resource Type"))
    top_id = tables.Column(lambda f: f.top_id or "-", verbose_name=_("Top ID"))
    pod_id = tables.Column(lambda f: f.pod_id or "-", verbose_name=_("Pod ID"))
    detail = tables.Column("detail", verbose_name=_("Detail"), truncate=80)
    repairs = tables.Column(lambda f: ", ".join(f.repairs or []) or "-", verbose_name=_("Repairs"))
    repair_status = tables.Column(lambda f: f.repair_status or "-", verbose_name=_("Repair Status"))

    class Meta:
        name = "findings"
        verbose_name = _("Findings")
        table_actions = (FindingFilter, RepairFinding)
        row_actions = (RepairFinding,)


class FindingsView(ListView):
    table_class = FindingsTable
    key = "findings"

    @property
    def page_title(self) -> str:
        return str(_("Findings of audit %s") % self.kwargs["audit_id"])

    def list_path(self) -> str:
        return f"/audits/{self.kwargs['audit_id']}/findings"

"""Usage reports (`os-simple-tenant-usage`) of several pods as one cloud's (no HTTP types).

Nova builds a report over its cells one after the other: a page of at most
`limit` instances, taken from the cell that has the marker on (the cells
before it are skipped), then from the following cells from their start,
each asked for what is left of the page. The top does the same over the
pods, each pod's report asked `detailed` so that its instances can be
counted, and joins the reports: a tenant's usage is the sum of its usages
in each pod, its server usages the pods' in pod order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOTALS = ("total_local_gb_usage", "total_vcpus_usage", "total_memory_mb_usage", "total_hours")


def server_usages(report: Any) -> list[dict[str, Any]]:
    """The server usages of one tenant's report (none when it is not one)."""
    found = report.get("server_usages") if isinstance(report, dict) else None
    return [item for item in found or [] if isinstance(item, dict)]


def joined(reports: Iterable[dict[str, Any]], detailed: bool) -> list[dict[str, Any]]:
    """Tenant reports of several pods (in pod order) joined by tenant, in the order the
    tenants first appear: totals summed, server usages one after the other (kept only
    when `detailed`), the period as the first pod reported it."""
    tenants: dict[str, dict[str, Any]] = {}
    for report in reports:
        if not report:
            continue
        tenant = str(report.get("tenant_id"))
        summary = tenants.get(tenant)
        if summary is None:
            summary = {key: value for key, value in report.items() if key != "server_usages"}
            if detailed:
                summary["server_usages"] = []
            tenants[tenant] = summary
        else:
            for key in TOTALS:
                summary[key] = _number(summary.get(key)) + _number(report.get(key))
        if detailed:
            summary["server_usages"] += server_usages(report)
    return list(tenants.values())


def _number(value: Any) -> int | float:
    """A total as a number (a pod's odd value counts as 0, not an error)."""
    return value if isinstance(value, int | float) and not isinstance(value, bool) else 0


def next_marker(links: Any) -> str | None:
    """The marker of a pod's `next` link (a full page), None without one."""
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict) and link.get("rel") == "next":
            found = parse_qs(urlsplit(str(link.get("href", ""))).query).get("marker")
            if found:
                return found[-1]
    return None

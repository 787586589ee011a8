"""Pods: each with its AZ, state, health (state, latency, last error), the breakers of
its services and its capacity (free memory and disk of its Nova's hypervisors)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from horizon import exceptions, tables

from cascade_dashboard import api
from cascade_dashboard.common import ListView


def health(pod: api.Row) -> str:
    state = pod.health.get("state") or "unknown"
    latency = pod.health.get("latency_ms")
    return state if latency is None else f"{state} ({latency:.0f} ms)"


def breakers(pod: api.Row) -> str:
    found = pod.health.get("breakers") or {}
    return ", ".join(f"{service}: {state}" for service, state in sorted(found.items())) or "-"


def capacity(pod: api.Row) -> str:
    room = getattr(pod, "capacity", None)
    if not room:
        return str(_("unknown"))
    return str(
        _("%(free)s of %(total)s MB RAM free, %(disk)s GB disk free")
        % {
            "free": room["free_ram_mb"],
            "total": room["ram_mb"],
            "disk": room["free_disk_gb"],
        }
    )


class PodsTable(tables.DataTable):  # type: ignore[misc]
    name = tables.Column("name", verbose_name=_("Name"))
    az = tables.Column("az", verbose_name=_("Availability Zone"))
    region = tables.Column("region_name", verbose_name=_("Region"))
    identity = tables.Column("identity", verbose_name=_("Identity"))
    enabled = tables.Column("enabled", verbose_name=_("Enabled"))
    state = tables.Column("state", verbose_name=_("State"))
    health = tables.Column(health, verbose_name=_("Health"))
    last_error = tables.Column(
        lambda pod: pod.health.get("last_error") or "-", verbose_name=_("Last Error")
    )
    breakers = tables.Column(breakers, verbose_name=_("Breakers"))
    capacity = tables.Column(capacity, verbose_name=_("Capacity"))

    class Meta:
        name = "pods"
        verbose_name = _("Pods")


class IndexView(ListView):
    """Every pod (the API lists them whole), each one's capacity from its show."""

    table_class = PodsTable
    page_title = _("Pods")
    path = "/pods"
    key = "pods"

    def get_data(self) -> list[api.Row]:
        rows = super().get_data()
        try:
            client = api.client(self.request)
            return [api.Row(client.get(f"/pods/{row.id}", "pod")) for row in rows]
        except Exception:
            exceptions.handle(self.request, _("Unable to read the pods' capacity."))
            return rows

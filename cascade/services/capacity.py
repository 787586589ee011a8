"""Free capacity of a pod, read from its Nova (hypervisor statistics), kept briefly.

Scheduling asks it when it binds a project to a pod: the `newest` policy
skips pods without room, `weighted` weighs pods by weight x free share of
memory. The figures are the pod's own hypervisor statistics (microversion
2.87, the last that has them) read with Cascade's service token: sums over
the pod's compute nodes, without allocation ratios, so "room" means free
physical memory and disk for the flavor. A pod that cannot say is treated
as having room (unknown is not full) and weighs by its weight alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from cascade.db.models import Pod
from cascade.pods.registry import PodRegistry
from cascade.services.compute.hosts import Admin

TTL = 30.0
STATISTICS_VERSION = "2.87"


@dataclass(frozen=True)
class Capacity:
    ram_mb: int
    free_ram_mb: int
    free_disk_gb: int

    def has_room(self, ram_mb: int = 1, disk_gb: int = 0) -> bool:
        return self.free_ram_mb >= ram_mb and self.free_disk_gb >= disk_gb

    @property
    def free_share(self) -> float:
        return max(self.free_ram_mb, 0) / self.ram_mb if self.ram_mb > 0 else 0.0


class Capacities(dict[str, tuple[Capacity | None, float]]):
    """Pod id -> its free capacity (None: unknown) and until when it is trusted."""


async def of(registry: PodRegistry, pod: Pod, request_id: str = "") -> Capacity | None:
    """The pod's free capacity (kept TTL seconds in the registry), None if unknown."""
    cached = registry.cache(Capacities).get(pod.id)
    if cached is not None and time.monotonic() < cached[1]:
        return cached[0]
    answer = await Admin(registry, STATISTICS_VERSION, request_id).ask(
        pod, "GET", "/os-hypervisors/statistics"
    )
    found: Capacity | None = None
    stats = answer.body.get("hypervisor_statistics") if isinstance(answer.body, dict) else None
    if answer.ok and isinstance(stats, dict):
        try:
            found = Capacity(
                int(stats["memory_mb"]), int(stats["free_ram_mb"]), int(stats["free_disk_gb"])
            )
        except (KeyError, TypeError, ValueError):
            found = None
    registry.cache(Capacities)[pod.id] = (found, time.monotonic() + TTL)
    return found

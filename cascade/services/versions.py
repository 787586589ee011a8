"""The microversion ranges Cascade advertises (compute, volume): what it implements
and every enabled pod supports. Each pod's range is read from its version
document and kept for a minute; the pods are asked in parallel, and a pod that
does not answer (within `[pods] list_deadline`) is left out until it does."""

from __future__ import annotations

import time

from cascade.db.models import Pod
from cascade.pods import compute as pod_compute
from cascade.pods import fanout
from cascade.pods import volume as pod_volume
from cascade.pods.client import PodUnavailable
from cascade.pods.registry import PodRegistry
from cascade.versions import COMPUTE_IMPLEMENTED, VOLUME_IMPLEMENTED, Version

TTL = 60.0
Range = tuple[Version, Version]


class Ranges(dict[tuple[str, str], tuple[Version, Version, float]]):
    """(service, pod id) -> the pod's range (min, max) and until when it is trusted."""


async def pod_range(registry: PodRegistry, pod: Pod, service: str) -> Range | None:
    """The pod's range of `service` (compute: Nova's; volume: Cinder v3's), from its
    version document (no token needed); None when it does not answer with one."""
    cached = registry.cache(Ranges).get((service, pod.id))
    if cached is not None and time.monotonic() < cached[2]:
        return cached[0], cached[1]
    volume = service == pod_volume.SERVICE
    try:
        if volume:
            url = await pod_volume.root(registry, pod)
        else:
            url = await pod_compute.endpoint(registry, pod) + "/"
        resp = await registry.client(pod.name, service).request("GET", url)
    except PodUnavailable:
        return None
    if resp.status_code not in (200, 300):
        return None
    try:
        body = resp.json()
        if volume:
            doc = next(d for d in body["versions"] if str(d.get("id", "")).startswith("v3"))
        else:
            doc = body["version"]
        low, high = Version.parse(doc["min_version"]), Version.parse(doc["version"])
    except (StopIteration, KeyError, TypeError, ValueError, AttributeError):
        return None  # not a version document: treat the pod as not answering
    registry.cache(Ranges)[(service, pod.id)] = (low, high, time.monotonic() + TTL)
    return low, high


async def _common(
    registry: PodRegistry, service: str, implemented: Range, pods: list[Pod]
) -> Range:
    """What Cascade implements narrowed to what every enabled pod that answers supports."""
    low, high = implemented

    async def ask(pod: Pod) -> Range | None:
        return await pod_range(registry, pod, service)

    found = await fanout.gather(registry, service, [p for p in pods if p.enabled], ask)
    for pod_range_found in found.values:
        if pod_range_found is not None:
            low, high = max(low, pod_range_found[0]), min(high, pod_range_found[1])
    return low, high


async def compute_range(registry: PodRegistry, pods: list[Pod]) -> Range:
    return await _common(registry, "compute", COMPUTE_IMPLEMENTED, pods)


async def volume_range(registry: PodRegistry, pods: list[Pod]) -> Range:
    return await _common(registry, pod_volume.SERVICE, VOLUME_IMPLEMENTED, pods)

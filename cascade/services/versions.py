"""The microversion ranges Cascade advertises (compute, volume): what it implements
and every enabled pod supports. Each pod's range is read from its version
document and kept for a minute; the pods are asked in parallel, and a pod that
does not answer (within `[pods] list_deadline`) is left out until it does."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from cascade.db.models import Pod
from cascade.pods import fanout
from cascade.pods import volume as pod_volume
from cascade.pods.client import PodUnavailable
from cascade.pods.registry import PodRegistry
from cascade.versions import COMPUTE_IMPLEMENTED, VOLUME_IMPLEMENTED, Version

TTL = 60.0


class ComputeRanges(dict[str, tuple[Version, Version, float]]):
    """Pod id -> its Nova range (min, max) and until when it is trusted."""


class VolumeRanges(dict[str, tuple[Version, Version, float]]):
    """Pod id -> its Cinder v3 range (min, max) and until when it is trusted."""


async def pod_range(registry: PodRegistry, pod: Pod) -> tuple[Version, Version] | None:
    cached = registry.cache(ComputeRanges).get(pod.id)
    if cached is not None and time.monotonic() < cached[2]:
        return cached[0], cached[1]
    url = (await registry.endpoints(pod.region_name)).get("compute")
    if url is None:
        return None
    try:
        resp = await registry.client(pod.name, "compute").request("GET", url.rstrip("/") + "/")
    except PodUnavailable:
        return None
    if resp.status_code != 200:
        return None
    doc = resp.json().get("version", {})
    try:
        low, high = Version.parse(doc["min_version"]), Version.parse(doc["version"])
    except (KeyError, ValueError):
        return None  # not a Nova version document: treat the pod as not answering
    registry.cache(ComputeRanges)[pod.id] = (low, high, time.monotonic() + TTL)
    return low, high


async def compute_range(registry: PodRegistry, pods: list[Pod]) -> tuple[Version, Version]:
    return await _common(
        registry, "compute", COMPUTE_IMPLEMENTED, pods, lambda pod: pod_range(registry, pod)
    )


async def volume_pod_range(registry: PodRegistry, pod: Pod) -> tuple[Version, Version] | None:
    """The pod's Cinder v3 range, from its root document (300, no token needed)."""
    cached = registry.cache(VolumeRanges).get(pod.id)
    if cached is not None and time.monotonic() < cached[2]:
        return cached[0], cached[1]
    try:
        root = await pod_volume.root(registry, pod)
        resp = await registry.client(pod.name, pod_volume.SERVICE).request("GET", root)
    except PodUnavailable:
        return None
    if resp.status_code not in (200, 300):
        return None
    try:
        docs = resp.json().get("versions", [])
        doc = next(d for d in docs if str(d.get("id", "")).startswith("v3"))
        low, high = Version.parse(doc["min_version"]), Version.parse(doc["version"])
    except (StopIteration, KeyError, ValueError, AttributeError):
        return None  # not a Cinder version document: treat the pod as not answering
    registry.cache(VolumeRanges)[pod.id] = (low, high, time.monotonic() + TTL)
    return low, high


async def volume_range(registry: PodRegistry, pods: list[Pod]) -> tuple[Version, Version]:
    return await _common(
        registry,
        pod_volume.SERVICE,
        VOLUME_IMPLEMENTED,
        pods,
        lambda pod: volume_pod_range(registry, pod),
    )


async def _common(
    registry: PodRegistry,
    service: str,
    implemented: tuple[Version, Version],
    pods: list[Pod],
    pod_range_of: Callable[[Pod], Awaitable[tuple[Version, Version] | None]],
) -> tuple[Version, Version]:
    """What Cascade implements narrowed to what every enabled pod that answers supports."""
    low, high = implemented
    found = await fanout.gather(registry, service, [p for p in pods if p.enabled], pod_range_of)
    for pod_range_found in found.values:
        if pod_range_found is not None:
            low, high = max(low, pod_range_found[0]), min(high, pod_range_found[1])
    return low, high

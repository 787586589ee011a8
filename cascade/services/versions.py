"""The compute microversion range Cascade advertises: what it implements and every
enabled pod supports. Each pod's range is read from its version document and
kept for a minute; a pod that does not answer is left out until it does."""

from __future__ import annotations

import time

from cascade.db.models import Pod
from cascade.pods.client import PodUnavailable
from cascade.pods.registry import PodRegistry
from cascade.versions import COMPUTE_IMPLEMENTED, Version

TTL = 60.0


async def pod_range(registry: PodRegistry, pod: Pod) -> tuple[Version, Version] | None:
    cached = registry.compute_ranges.get(pod.id)
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
    registry.compute_ranges[pod.id] = (low, high, time.monotonic() + TTL)
    return low, high


async def compute_range(registry: PodRegistry, pods: list[Pod]) -> tuple[Version, Version]:
    low, high = COMPUTE_IMPLEMENTED
    for pod in pods:
        if not pod.enabled:
            continue
        found = await pod_range(registry, pod)
        if found is not None:
            low, high = max(low, found[0]), min(high, found[1])
    return low, high

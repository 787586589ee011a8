"""The microversion ranges Cascade advertises (compute, volume): what it implements
and every enabled pod supports.

Each pod's ranges live on its row (`Pod.compute_min` ...), written by the health
check, whose probe of a pod's compute and volume services is their version
document. The advertised range is then one aggregate query, whatever the
number of pods; only a pod whose range is not known yet (just registered, never
checked) is asked, in parallel within `[pods] list_deadline`, and its answer is
kept. A pod that does not answer is left out until it does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from cascade.db.engine import idle
from cascade.db.models import Pod
from cascade.pods import compute as pod_compute
from cascade.pods import fanout
from cascade.pods import volume as pod_volume
from cascade.pods.client import PodUnavailable
from cascade.pods.registry import PodRegistry
from cascade.versions import COMPUTE_IMPLEMENTED, VOLUME_IMPLEMENTED, Version

Range = tuple[Version, Version]
COMPUTE, VOLUME = "compute", pod_volume.SERVICE
IMPLEMENTED: Mapping[str, Range] = {COMPUTE: COMPUTE_IMPLEMENTED, VOLUME: VOLUME_IMPLEMENTED}
# the pod row's columns of each service's range
COLUMNS: Mapping[str, tuple[InstrumentedAttribute[int | None], InstrumentedAttribute[int | None]]]
COLUMNS = {
    COMPUTE: (Pod.compute_min, Pod.compute_max),
    VOLUME: (Pod.volume_min, Pod.volume_max),
}


def encode(version: Version) -> int:
    """A version as a number that orders as the version does (for SQL's min and max)."""
    return version.major * 100000 + version.minor


def decode(number: int) -> Version:
    return Version(number // 100000, number % 100000)


def read_range(service: str, body: Any) -> Range | None:
    """The range in a version document of `service` (compute: Nova's `/v2.1/`; volume:
    Cinder's root, its v3 entry); None when the body is not one."""
    try:
        if service == VOLUME:
            doc = next(d for d in body["versions"] if str(d.get("id", "")).startswith("v3"))
        else:
            doc = body["version"]
        return Version.parse(doc["min_version"]), Version.parse(doc["version"])
    except (StopIteration, KeyError, TypeError, ValueError, AttributeError):
        return None


def keep(pod: Pod, service: str, found: Range) -> dict[str, int]:
    """The columns of `pod`'s row that hold `found` as `service`'s range."""
    low, high = COLUMNS[service]
    return {low.key: encode(found[0]), high.key: encode(found[1])}


async def version_url(registry: PodRegistry, pod: Pod, service: str) -> str:
    """Where `service`'s version document is (no token needed)."""
    if service == VOLUME:
        return await pod_volume.root(registry, pod)
    return await pod_compute.endpoint(registry, pod) + "/"


async def pod_range(registry: PodRegistry, pod: Pod, service: str) -> Range | None:
    """The pod's range of `service`, asked now; None when it does not answer with one."""
    try:
        url = await version_url(registry, pod, service)
        resp = await registry.client(pod.name, service).request("GET", url)
    except PodUnavailable:
        return None
    if resp.status_code not in (200, 300):
        return None
    try:
        return read_range(service, resp.json())
    except ValueError:
        return None


async def advertised(db: AsyncSession, registry: PodRegistry, service: str) -> Range:
    """What Cascade implements of `service`, narrowed to what every enabled pod that
    answers supports (see the module's docstring)."""
    low, high = IMPLEMENTED[service]
    low_column, high_column = COLUMNS[service]
    enabled = Pod.enabled.is_(True)
    known = select(func.max(low_column), func.min(high_column)).where(
        enabled, high_column.is_not(None)
    )
    most_low, least_high = (await db.execute(known)).one()
    if most_low is not None and least_high is not None:
        low, high = max(low, decode(most_low)), min(high, decode(least_high))
    unknown = list((await db.scalars(select(Pod).where(enabled, high_column.is_(None)))).all())
    if not unknown:
        return low, high

    async def ask(pod: Pod) -> Range | None:
        return await pod_range(registry, pod, service)

    await idle(db)  # no database connection held while the pods are asked
    found = await fanout.gather(registry, service, unknown, ask)
    for pod, answer in found.answers:
        if answer is not None:
            for column, value in keep(pod, service, answer).items():
                setattr(pod, column, value)
            low, high = max(low, answer[0]), min(high, answer[1])
    await db.commit()
    return low, high


async def compute_range(db: AsyncSession, registry: PodRegistry) -> Range:
    return await advertised(db, registry, COMPUTE)


async def volume_range(db: AsyncSession, registry: PodRegistry) -> Range:
    return await advertised(db, registry, VOLUME)

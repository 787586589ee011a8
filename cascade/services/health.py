"""The periodic health check of every pod: each service's version document, timed.

A pod is `up` when every service in its region answers (any status below
500), `degraded` when some do, `down` when none does or its region has no
endpoints. The result, the latency of the slowest answer and the last error
are written to the pod's row, where the admin API shows them.

Each check is also the probe of the pod service's circuit breaker (the one
the pod's calls go through): a service that does not answer within the list
deadline opens it at once, so a pod that hangs is refused within one check
instead of after a request per failure, each waiting its deadline; one that
answers closes it, so a pod that is back is let in at the next check; and
while the checks run, no request is sent as the breaker's probe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cascade.db.engine import idle, now
from cascade.db.models import Pod
from cascade.pods.client import PodUnavailable, api_root
from cascade.pods.registry import PodRegistry
from cascade.services import pods as pod_service
from cascade.services import stale

LOG = logging.getLogger(__name__)
# catalog type -> the pod client (and breaker) its calls go through
CHECKED = {"compute": "compute", "network": "network", "volumev3": "volume", "image": "image"}


@dataclass(frozen=True)
class Health:
    state: str
    latency_ms: float | None
    error: str | None


async def check_pod(
    registry: PodRegistry, pod: Pod, watch: float = 0.0, slots: asyncio.Semaphore | None = None
) -> Health:
    """Every service's version document, each within the list deadline (a pod slower than
    that is left out of lists anyway); the breakers follow (see above), and are `watch`ed
    for that many seconds (0: not). `slots`: the round's probes in flight, shared."""
    endpoints = await registry.endpoints(pod.region_name)
    urls = {CHECKED[t]: endpoints[t] for t in CHECKED if t in endpoints}
    if not urls:
        return Health("down", None, f"no endpoints for region {pod.region_name} in the catalog")
    timeout = min(registry.conf.timeout, registry.list_deadline)

    async def probe(service: str, url: str) -> tuple[float, str | None]:
        started = time.monotonic()
        client = registry.client(pod.name, service)
        if watch:
            client.breaker.watch(watch)
        try:
            async with slots or contextlib.nullcontext():
                started = time.monotonic()  # the wait for a slot is not the pod's latency
                resp = await client.probe(api_root(url, "/"), timeout)
        except PodUnavailable as exc:
            return time.monotonic() - started, str(exc)
        took = time.monotonic() - started
        return took, None if resp.status_code < 500 else f"{service} answered {resp.status_code}"

    results = await asyncio.gather(*(probe(s, u) for s, u in urls.items()))
    errors = [e for _, e in results if e]
    state = "up" if not errors else "degraded" if len(errors) < len(results) else "down"
    slowest = max(t for t, _ in results) * 1000
    return Health(state, round(slowest, 1), "; ".join(errors) or None)


async def check_many(
    registry: PodRegistry, pods: list[Pod], watch: float = 0.0
) -> list[Health | BaseException]:
    """Every pod checked, with at most `[pods] health_concurrency` probes in flight."""
    slots = asyncio.Semaphore(max(1, registry.conf.health_concurrency))
    return await asyncio.gather(
        *(check_pod(registry, p, watch, slots) for p in pods), return_exceptions=True
    )


async def check_all(
    sessions: async_sessionmaker[AsyncSession], registry: PodRegistry, watch: float = 0.0
) -> None:
    async with sessions() as db:
        found = await pod_service.list_all(db)
        await idle(db)  # no database connection held while the pods are asked
        checks = await check_many(registry, found, watch)
        stamp = now()
        for pod, health in zip(found, checks, strict=True):
            if isinstance(health, BaseException):
                health = Health("unknown", None, f"health check failed: {health}")
            pod.health_state = health.state
            pod.health_latency_ms = health.latency_ms
            pod.health_error = health.error
            pod.health_checked_at = stamp
        await db.commit()


async def run_periodically(
    interval: float, sessions: async_sessionmaker[AsyncSession], registry: PodRegistry
) -> None:
    """Check every `interval` seconds until cancelled; a failed round is logged, not fatal.
    The breakers are watched for two rounds (a round waits at most the list deadline):
    should the checks stop, requests probe them again."""
    watch = 2 * (interval + registry.list_deadline)
    while True:
        try:
            await check_all(sessions, registry, watch)
        except Exception:
            LOG.exception("pod health check round failed")
        try:  # what outlived its request: intents still creating, deletes never seen done
            await stale.sweep(sessions, registry, stale.age(registry))
        except Exception:
            LOG.exception("sweep of routings that outlived their request failed")
        await asyncio.sleep(interval)

"""The periodic health check of every pod: each service's version document, timed.

A pod is `up` when every service in its region answers (any status below
500), `degraded` when some do, `down` when none does or its region has no
endpoints. The result, the latency of the slowest answer and the last error
are written to the pod's row, where the admin API shows them; the compute and
volume version documents also give the pod's microversion ranges
(`services.versions`), kept on the row too.

The checks are spread over the round, not sent at once: one pod after
another at even steps with a random offset (so replicas do not probe in
step), and never more than `[pods] health_rate` probes a second over all
pods. A round lasts `[pods] health_interval`, or longer when the pods are too
many for that rate (10,000 pods of four services at 10 probes/s: 4,000 s). A
probe costs this process about 1.6 ms of CPU (a connection and an HTTP
exchange through httpx), so the default rate keeps an idle process under 2%
of a core whatever the number of pods; a pod that fails between two checks
is still refused at once by its breaker on the first calls that fail. The
first round after start-up is not spread (only rate-bounded), so every pod's
state is known soon. Results are written in batches every FLUSH_SECONDS.

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
import random
import time
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cascade.db.engine import idle, now
from cascade.db.models import Pod
from cascade.pods.client import PodUnavailable, api_root
from cascade.pods.registry import PodRegistry
from cascade.services import pods as pod_service
from cascade.services import stale, versions

LOG = logging.getLogger(__name__)
# catalog type -> the pod client (and breaker) its calls go through
CHECKED = {"compute": "compute", "network": "network", "volumev3": "volume", "image": "image"}
# what each service's version document is under: the endpoint's start up to this
ROOTS = {"network": "/v2.0", "volume": "/v3", "image": "/v2"}
FLUSH_SECONDS = 5.0


@dataclass(frozen=True)
class Health:
    state: str
    latency_ms: float | None
    error: str | None
    # the microversion ranges the version documents gave (service -> range)
    ranges: dict[str, versions.Range] = field(default_factory=dict)


def probe_url(service: str, endpoint: str) -> str:
    """The version document of a pod service: compute's own (`/v2.1/`: it has the
    microversion range), the others' root."""
    if service == versions.COMPUTE:
        return endpoint.rstrip("/") + "/"
    return api_root(endpoint, ROOTS[service])


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
    ranges: dict[str, versions.Range] = {}

    async def probe(service: str, url: str) -> tuple[float, str | None]:
        started = time.monotonic()
        client = registry.client(pod.name, service)
        if watch:
            client.breaker.watch(watch)
        try:
            async with slots or contextlib.nullcontext():
                started = time.monotonic()  # the wait for a slot is not the pod's latency
                resp = await client.probe(probe_url(service, url), timeout)
        except PodUnavailable as exc:
            return time.monotonic() - started, str(exc)
        took = time.monotonic() - started
        if resp.status_code >= 500:
            return took, f"{service} answered {resp.status_code}"
        if service in versions.COLUMNS and resp.status_code in (200, 300):
            with contextlib.suppress(ValueError):
                found = versions.read_range(service, resp.json())
                if found is not None:
                    ranges[service] = found
        return took, None

    results = await asyncio.gather(*(probe(s, u) for s, u in urls.items()))
    errors = [e for _, e in results if e]
    state = "up" if not errors else "degraded" if len(errors) < len(results) else "down"
    slowest = max(t for t, _ in results) * 1000
    return Health(state, round(slowest, 1), "; ".join(errors) or None, ranges)


async def check_many(
    registry: PodRegistry, pods: list[Pod], watch: float = 0.0
) -> list[Health | BaseException]:
    """Every pod checked at once, with at most `[pods] health_concurrency` probes in
    flight (what an operator's "check now" wants; the periodic check spreads them)."""
    slots = asyncio.Semaphore(max(1, registry.conf.health_concurrency))
    return await asyncio.gather(
        *(check_pod(registry, p, watch, slots) for p in pods), return_exceptions=True
    )


def round_length(registry: PodRegistry, interval: float, pods: int) -> float:
    """Seconds one round over `pods` pods lasts: the interval, or what the probe rate
    allows (every service of every pod probed once) when that is longer."""
    rate = max(registry.conf.health_rate, 0.001)
    return max(interval, pods * len(CHECKED) / rate)


def row_values(pod: Pod, health: Health | BaseException, stamp: object) -> dict[str, object]:
    """The pod row's columns after a check (for a bulk update by primary key)."""
    if isinstance(health, BaseException):
        health = Health("unknown", None, f"health check failed: {health}")
    values: dict[str, object] = {
        "id": pod.id,
        "health_state": health.state,
        "health_latency_ms": health.latency_ms,
        "health_error": health.error,
        "health_checked_at": stamp,
    }
    for service, found in health.ranges.items():
        values.update(versions.keep(pod, service, found))
    return values


async def write(sessions: async_sessionmaker[AsyncSession], rows: list[dict[str, object]]) -> None:
    """The checked pods' rows updated in one statement per shape of row (a pod deleted
    meanwhile updates nothing)."""
    shapes: dict[frozenset[str], list[dict[str, object]]] = {}
    for row in rows:
        shapes.setdefault(frozenset(row), []).append(row)
    async with sessions() as db:
        asked = [str(row["id"]) for row in rows]
        existing = set((await db.scalars(select(Pod.id).where(Pod.id.in_(asked)))).all())
        for same in shapes.values():
            kept = [r for r in same if r["id"] in existing]
            if kept:
                await db.execute(update(Pod), kept)
        await db.commit()


async def check_round(
    sessions: async_sessionmaker[AsyncSession], registry: PodRegistry, interval: float
) -> None:
    """One round over every pod, spread over `round_length` (see the module's docstring;
    `interval` 0: as fast as the rate allows). The breakers are watched for two rounds
    (plus the list deadline a probe may wait): should the checks stop, requests probe
    them again."""
    async with sessions() as db:
        found = await pod_service.list_all(db)
        await idle(db)  # no database connection held while the pods are asked
    if not found:
        return
    loop = asyncio.get_running_loop()
    started = loop.time()
    length = round_length(registry, interval, len(found))
    watch = 2 * (max(length, interval) + registry.list_deadline)
    step = length / len(found)
    slots = asyncio.Semaphore(max(1, registry.conf.health_concurrency))
    done: list[dict[str, object]] = []
    flushed = started
    tasks: list[asyncio.Task[None]] = []

    async def one(pod: Pod) -> None:
        try:
            health: Health | BaseException = await check_pod(registry, pod, watch, slots)
        except Exception as exc:
            health = exc
        done.append(row_values(pod, health, now()))

    try:
        for k, pod in enumerate(random.sample(found, len(found))):
            due = started + (k + random.random()) * step
            if due > loop.time():
                await asyncio.sleep(due - loop.time())
            tasks.append(asyncio.create_task(one(pod)))
            if loop.time() - flushed >= FLUSH_SECONDS and done:
                batch, done[:] = list(done), []
                await write(sessions, batch)
                flushed = loop.time()
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
    if done:
        await write(sessions, done)


async def run_periodically(
    interval: float, sessions: async_sessionmaker[AsyncSession], registry: PodRegistry
) -> None:
    """Rounds one after another (see the module's docstring) until cancelled, and every
    `interval` the sweep of routings that outlived their request, on its own clock (a
    round over 10,000 pods lasts much longer than the interval); a failure is logged,
    not fatal."""
    await asyncio.gather(
        _rounds(interval, sessions, registry), _sweeps(interval, sessions, registry)
    )


async def _rounds(
    interval: float, sessions: async_sessionmaker[AsyncSession], registry: PodRegistry
) -> None:
    first = True
    while True:
        started = time.monotonic()
        try:
            await check_round(sessions, registry, 0.0 if first else interval)
            first = False
        except Exception:
            LOG.exception("pod health check round failed")
        await asyncio.sleep(max(interval - (time.monotonic() - started), 0.0))


async def _sweeps(
    interval: float, sessions: async_sessionmaker[AsyncSession], registry: PodRegistry
) -> None:
    while True:
        try:  # what outlived its request: intents still creating, deletes never seen done
            await stale.sweep(sessions, registry, stale.age(registry))
        except Exception:
            LOG.exception("sweep of routings that outlived their request failed")
        await asyncio.sleep(interval)

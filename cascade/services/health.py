"""The periodic health check of every pod: each service's version document, timed.

A pod is `up` when every service in its region answers (any status below
500), `degraded` when some do, `down` when none does or its region has no
endpoints. The result, the latency of the slowest answer, the last error and
the services that failed are written to the pod's row, where the admin API
shows them and the API processes follow them (`services.breakers`); the
compute and volume version documents also give the pod's microversion ranges
(`services.versions`), kept on the row too.

It runs in cascade-worker (or cascade-api's embedded worker): one process
checks the pods for every API replica, and an API process's idle cost does not
grow with the number of pods. Of several workers, the one holding the `health`
lease checks (`services.leases`); the others take over when it stops.

A round probes each pod once: one of its services in turn (each service every
few rounds) while the pod is well, every service when one failed its last
probe (what fails in a pod, a hang say, often fails whole: its other services
are found at the next round, not in turn), or when the pod is seen for the
first time (or after a restart). A pod's row is refreshed every round at the
cost of one probe while it is well, and a pod that failed is watched closely.

The probes are spread over the round, not sent at once: the pods in one order
per process (the same every round, so each pod is checked once an interval;
another order in another process) at even steps with a random offset of its
own, and never more than `[pods] health_rate` probes a second over all pods.
A round lasts `[pods] health_interval`, or longer when the pods are too many
for that rate. The first round after start-up is not spread (only
rate-bounded), so every pod's state is known soon. Results are written in
batches every FLUSH_SECONDS.

Each check is also the probe of the pod service's circuit breaker in this
process (the one its jobs' calls go through): a service that does not answer
within the list deadline opens it at once; one that answers closes it; while
the checks run, no request is sent as the breaker's probe.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
import time
from collections.abc import Collection
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cascade.db.engine import idle, now
from cascade.db.models import Pod
from cascade.pods.client import PodUnavailable, api_root
from cascade.pods.identities import independent
from cascade.pods.registry import PodRegistry
from cascade.services import leases, stale, versions
from cascade.services import pods as pod_service
from cascade.services.audit import runs as audit_runs

LOG = logging.getLogger(__name__)
# catalog type -> the pod client (and breaker) its calls go through
CHECKED = {"compute": "compute", "network": "network", "volumev3": "volume", "image": "image"}
CATALOG_TYPES = {client: kind for kind, client in CHECKED.items()}  # and back
# what each service's version document is under: the endpoint's start up to this
ROOTS = {"network": "/v2.0", "volume": "/v3", "image": "/v2", "identity": "/v3"}
IDENTITY = "identity"  # an independent pod's own Keystone, probed with its services
FLUSH_SECONDS = 5.0
LATE_MARGIN = 0.02  # of the interval: what a round leaves for probes sent late
# the lease of whoever checks the pods (`run_periodically`), and its shortest length:
# renewed every third of it, so a test's short interval does not mean a write a second
LEASE = "health"
MIN_LEASE_SECONDS = 15.0


@dataclass(frozen=True)
class Health:
    state: str
    latency_ms: float | None
    error: str | None
    # the microversion ranges the version documents gave (service -> range)
    ranges: dict[str, versions.Range] = field(default_factory=dict)
    # the pod services (`CHECKED`'s values) that failed their last probe
    failing: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Probe:
    """One pod service's last probe: seconds it took, and what failed (None: it answered)."""

    seconds: float
    error: str | None


def _spread(key: str) -> int:
    """A number from `key` that is the same in every process and every run."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=4).digest(), "big")


class Rounds:
    """What the periodic check keeps from one round to the next: each pod service's last
    probe (a round probes one service of a well pod and keeps the others' results), the
    round's number, and this process's order of the pods."""

    def __init__(self, salt: str | None = None) -> None:
        self.turn = 0
        self.last: dict[str, dict[str, Probe]] = {}
        self.salt = salt if salt is not None else random.randbytes(8).hex()

    def due(self, pod_id: str, services: Collection[str]) -> set[str]:
        """The services of the pod to probe this round: all of them when one has no last
        probe or failed its last; else the one whose turn it is (rotating, starting at a
        different service per pod so a round spreads over the services)."""
        known = self.last.get(pod_id, {})
        if any(name not in known or known[name].error for name in services):
            return set(services)  # what fails in a pod (it hangs, say) often fails whole
        ordered = sorted(services)
        return {ordered[(self.turn + _spread(pod_id)) % len(ordered)]}

    def order(self, pods: list[Pod]) -> list[Pod]:
        """The pods in this process's order: a pod keeps its place from round to round."""
        return sorted(pods, key=lambda pod: _spread(self.salt + pod.id))

    def offset(self, pod: Pod) -> float:
        """Where in its step (0 to 1) the pod is checked: random, but the same every
        round, so two checks of a pod are one round apart (not up to a step more)."""
        return _spread(self.salt + "/" + pod.id) / 2**32

    def probes(self, pods: list[Pod]) -> int:
        """About how many probes a round over `pods` sends: one per pod already known,
        one per service of a pod not (failing services left out of the estimate)."""
        return sum(1 if pod.id in self.last else len(CHECKED) for pod in pods)

    def keep(self, pods: list[Pod]) -> None:
        """After a round: its number up, and nothing kept of pods that are gone."""
        self.turn += 1
        present = {pod.id for pod in pods}
        for gone in [key for key in self.last if key not in present]:
            del self.last[gone]


def probe_timeout(registry: PodRegistry) -> float:
    """Seconds a probe waits for its answer: the list deadline at most (a pod slower than
    that is left out of lists anyway)."""
    return min(registry.conf.timeout, registry.list_deadline)


async def service_url(registry: PodRegistry, pod: Pod, service: str) -> str:
    """Where the pod's `service` (a `CHECKED` value, or IDENTITY) is: its catalog's, or
    an independent pod's own Keystone; PodUnavailable when it has none."""
    if service == IDENTITY:
        if not pod.auth_url:
            raise PodUnavailable(pod.name, service, "it has no Keystone of its own", False)
        return pod.auth_url
    return await registry.endpoint(pod, service, CATALOG_TYPES[service])


def probe_url(service: str, endpoint: str) -> str:
    """The version document of a pod service: compute's own (`/v2.1/`: it has the
    microversion range), the others' root."""
    if service == versions.COMPUTE:
        return endpoint.rstrip("/") + "/"
    return api_root(endpoint, ROOTS[service])


async def check_pod(
    registry: PodRegistry,
    pod: Pod,
    watch: float = 0.0,
    slots: asyncio.Semaphore | None = None,
    rounds: Rounds | None = None,
) -> Health:
    """Every service's version document, each within the list deadline (a pod slower than
    that is left out of lists anyway); the breakers follow (see above), and are `watch`ed
    for that many seconds (0: not). `slots`: the round's probes in flight, shared.
    `rounds`: only the services due this round are probed (`Rounds.due`), the others'
    last probes count; None: all are."""
    try:
        endpoints = await registry.pod_endpoints(pod)
    except PodUnavailable as exc:  # an independent pod's Keystone, never read, is away
        return Health("down", None, str(exc), {}, [IDENTITY])
    urls = {CHECKED[t]: endpoints[t] for t in CHECKED if t in endpoints}
    if independent(pod) and pod.auth_url:
        urls[IDENTITY] = pod.auth_url
    if not urls:
        return Health(
            "down", None, f"no endpoints for region {pod.region_name} in the catalog", {}, []
        )
    last = rounds.last.setdefault(pod.id, {}) if rounds is not None else {}
    for gone in [name for name in last if name not in urls]:
        del last[gone]
    due = rounds.due(pod.id, urls) if rounds is not None else set(urls)
    # a breaker that calls opened is this check's to probe (requests do not while watched)
    due |= {s for s in urls if registry.client(pod.name, s).breaker.state != "closed"}
    timeout = probe_timeout(registry)
    ranges: dict[str, versions.Range] = {}

    async def probe(service: str, url: str) -> Probe:
        started = time.monotonic()
        client = registry.client(pod.name, service)
        if watch:
            client.breaker.watch(watch)
        try:
            async with slots or contextlib.nullcontext():
                started = time.monotonic()  # the wait for a slot is not the pod's latency
                resp = await client.probe(probe_url(service, url), timeout)
        except PodUnavailable as exc:
            return Probe(time.monotonic() - started, str(exc))
        took = time.monotonic() - started
        if resp.status_code >= 500:
            return Probe(took, f"{service} answered {resp.status_code}")
        if service in versions.COLUMNS and resp.status_code in (200, 300):
            with contextlib.suppress(ValueError):
                found = versions.read_range(service, resp.json())
                if found is not None:
                    ranges[service] = found
        return Probe(took, None)

    probed = [s for s in urls if s in due]
    results = await asyncio.gather(*(probe(s, urls[s]) for s in probed))
    last.update(zip(probed, results, strict=True))
    latest = [last[s] for s in sorted(urls)]
    errors = [p.error for p in latest if p.error]
    state = "up" if not errors else "degraded" if len(errors) < len(latest) else "down"
    slowest = max(p.seconds for p in latest) * 1000
    failing = [s for s in sorted(urls) if last[s].error]
    return Health(state, round(slowest, 1), "; ".join(errors) or None, ranges, failing)


async def check_many(
    registry: PodRegistry, pods: list[Pod], watch: float = 0.0
) -> list[Health | BaseException]:
    """Every pod checked at once, with at most `[pods] health_concurrency` probes in
    flight (what an operator's "check now" wants; the periodic check spreads them)."""
    slots = asyncio.Semaphore(max(1, registry.conf.health_concurrency))
    return await asyncio.gather(
        *(check_pod(registry, p, watch, slots) for p in pods), return_exceptions=True
    )


def round_length(registry: PodRegistry, interval: float, probes: int) -> float:
    """Seconds one round of `probes` probes lasts: the interval, or what the probe rate
    allows when that is longer."""
    rate = max(registry.conf.health_rate, 0.001)
    return max(interval, probes / rate)


def row_values(pod: Pod, health: Health | BaseException, stamp: object) -> dict[str, object]:
    """The pod row's columns after a check (for a bulk update by primary key)."""
    if isinstance(health, BaseException):
        health = Health("unknown", None, f"health check failed: {health}")
    values: dict[str, object] = {
        "id": pod.id,
        "health_state": health.state,
        "health_latency_ms": health.latency_ms,
        "health_error": health.error,
        "health_failing": health.failing or None,
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
    sessions: async_sessionmaker[AsyncSession],
    registry: PodRegistry,
    interval: float,
    rounds: Rounds | None = None,
    start: float | None = None,
) -> float:
    """One round over every pod, spread over `round_length` (see the module's docstring;
    `interval` 0: as fast as the rate allows; `rounds`: what the last rounds found, kept
    up to date, None: every service probed; `start`: the loop time the round is due
    from, None: now). The breakers are watched for two rounds (plus the list deadline a
    probe may wait): should the checks stop, requests probe them again. Returns the
    round's length in seconds."""
    rounds = rounds if rounds is not None else Rounds()
    async with sessions() as db:
        found = rounds.order(list(await pod_service.list_all(db)))
        await idle(db)  # no database connection held while the pods are asked
    if not found:
        return interval
    loop = asyncio.get_running_loop()
    started = loop.time() if start is None else start
    length = round_length(registry, interval, rounds.probes(found))
    watch = 2 * (max(length, interval) + registry.list_deadline)
    step = length / len(found)
    slots = asyncio.Semaphore(max(1, registry.conf.health_concurrency))
    done: list[dict[str, object]] = []
    flushed = started
    tasks: list[asyncio.Task[None]] = []

    async def one(pod: Pod) -> None:
        try:
            health: Health | BaseException = await check_pod(registry, pod, watch, slots, rounds)
        except Exception as exc:
            health = exc
        done.append(row_values(pod, health, now()))

    try:
        for k, pod in enumerate(found):
            due = started + (k + rounds.offset(pod)) * step
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
    rounds.keep(found)
    return length


async def run_periodically(
    interval: float,
    sessions: async_sessionmaker[AsyncSession],
    registry: PodRegistry,
    audit_interval: float = 0.0,
) -> None:
    """Rounds one after another (see the module's docstring) until cancelled, and every
    `interval` the sweep of routings that outlived their request, on its own clock (a
    round over 10,000 pods lasts much longer than the interval); a failure is logged,
    not fatal. Only while this process holds the `health` lease (`leases.Held`): of
    several workers, one checks the pods (a round under way when the lease moves on
    ends first), and another takes over within a third of the lease once it lapses.
    The same holder starts the periodic audits (`audit_interval`, `[audit] interval`)."""
    lease = leases.Held(sessions, LEASE, max(interval, MIN_LEASE_SECONDS))
    # a task group, not gather: cancelled, it waits for every part to end, so the lease is
    # released (`keep`'s last step) before the caller disposes of the database engine;
    # gather returned at the first part cancelled and left the release to run, or to be
    # cancelled in turn, with the process (a test's event loop hung on closing over it)
    async with asyncio.TaskGroup() as parts:
        parts.create_task(lease.keep())
        parts.create_task(_rounds(interval, sessions, registry, lease))
        parts.create_task(_sweeps(interval, sessions, registry, lease))
        parts.create_task(_audits(audit_interval, sessions, lease))


async def _audits(
    interval: float, sessions: async_sessionmaker[AsyncSession], lease: leases.Held
) -> None:
    """A periodic audit of every pod (`audit.runs.due`) every `interval` (0: never),
    started by the lease holder only, checked at most once a minute."""
    if interval <= 0:
        return
    loop = asyncio.get_running_loop()
    while True:
        await lease.taken()
        since = loop.time()
        while lease.held:
            try:
                await audit_runs.due(sessions, interval, loop.time() - since)
            except Exception:
                LOG.exception("starting a periodic audit failed")
            await asyncio.sleep(min(interval, 60.0))


async def _rounds(
    interval: float,
    sessions: async_sessionmaker[AsyncSession],
    registry: PodRegistry,
    lease: leases.Held,
) -> None:
    # rounds on a fixed cadence (each due one round after the last one's start, not after
    # its end), each pod at its place in them: two checks of a pod are a round apart. A
    # round lasts LATE_MARGIN less than the interval: a probe sent late by a busy process
    # (at 10,000 pods, 0.4 s at most here) still comes within the interval of the last
    period = interval * (1 - LATE_MARGIN)
    rounds = Rounds()
    loop = asyncio.get_running_loop()
    while True:
        await lease.taken()
        start = loop.time()
        first = True
        while lease.held:
            length = period
            try:
                delay = 0.0 if first else period
                length = await check_round(sessions, registry, delay, rounds, start)
                first = False
            except Exception:
                LOG.exception("pod health check round failed")
            start = max(start + max(length, period), loop.time() - period)
            await asyncio.sleep(max(start - loop.time(), 0.0))


async def _sweeps(
    interval: float,
    sessions: async_sessionmaker[AsyncSession],
    registry: PodRegistry,
    lease: leases.Held,
) -> None:
    while True:
        await lease.taken()
        try:  # what outlived its request: intents still creating, deletes never seen done
            await stale.sweep(sessions, registry, stale.age(registry))
        except Exception:
            LOG.exception("sweep of routings that outlived their request failed")
        await asyncio.sleep(interval)

"""The periodic health check's rounds (one probe per well pod, every service of one that
failed, each pod at its place) and an API process's follower of its findings."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import Counter
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy

from cascade.conf import PodsSection
from cascade.db.engine import now
from cascade.db.models import Pod
from cascade.pods.registry import PodRegistry
from cascade.services import health, health_follow, stale
from tests.unit.test_pod_registry import Validator, _pods_in_db


def _probed(failing: set[str] | None = None) -> tuple[list[str], httpx.MockTransport]:
    """The hosts probed, in order; `failing` hosts answer 503."""
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.host)
        if request.url.host in (failing or set()):
            return httpx.Response(503)
        return httpx.Response(200, json={"versions": []})

    return seen, httpx.MockTransport(answer)


async def test_a_round_probes_one_service_of_a_well_pod_and_every_failing_one(
    tmp_path: Any,
) -> None:
    """10 pods of two services: the first round probes all 20; then one a pod, each
    service in turn (both within two rounds); pod 3, whose network fails, all its
    services every round, and its row names the network."""
    made = await _pods_in_db(tmp_path, 10)
    seen, transport = _probed({"network.r3"})
    conf = PodsSection(health_rate=1000.0)
    registry = PodRegistry(conf, Validator(regions=10), transport)  # type: ignore[arg-type]
    rounds = health.Rounds()
    try:
        await health.check_round(made, registry, 0.0, rounds)
        assert len(seen) == 20
        per_round = []
        for _ in range(2):
            seen.clear()
            await health.check_round(made, registry, 0.0, rounds)
            per_round.append(list(seen))
    finally:
        await registry.aclose()
    for probed in per_round:
        counts = Counter(host.split(".")[1] for host in probed)
        assert counts == {f"r{n}": 2 if n == 3 else 1 for n in range(10)}
    both = {host for probed in per_round for host in probed}
    assert both == {f"{kind}.r{n}" for kind in ("compute", "network") for n in range(10)}
    async with made() as db:
        rows = {r.name: r for r in (await db.scalars(sqlalchemy.select(Pod))).all()}
    assert rows["pod3"].health_state == "degraded"
    assert rows["pod3"].health_failing == ["network"]
    assert rows["pod4"].health_state == "up" and not rows["pod4"].health_failing


def test_a_process_keeps_its_order_of_the_pods_and_another_has_its_own() -> None:
    pods = [Pod(id=f"p{n}", name=f"pod{n}") for n in range(50)]
    one, other = health.Rounds("a"), health.Rounds("b")
    assert [p.id for p in one.order(pods)] == [p.id for p in one.order(list(reversed(pods)))]
    assert [p.id for p in one.order(pods)] != [p.id for p in other.order(pods)]


async def _follower(tmp_path: Any, transport: httpx.MockTransport, **conf: Any) -> Any:
    made = await _pods_in_db(tmp_path, 2)
    registry = PodRegistry(PodsSection(**conf), Validator(regions=2), transport)  # type: ignore[arg-type]
    return made, registry, health_follow.Follower(made, registry)


async def test_the_follower_opens_the_breakers_of_what_the_check_found_failing(
    tmp_path: Any,
) -> None:
    """A row saying pod1's network failed: its breaker opens here at once (calls refused
    without a request waiting); the same finding is followed once, a newer one again;
    a finding from a check that stopped long ago is not followed."""
    seen, transport = _probed()
    made, registry, follower = await _follower(tmp_path, transport)
    checked = now()
    async with made() as db:
        await db.execute(
            sqlalchemy.update(Pod)
            .where(Pod.name == "pod1")
            .values(health_state="degraded", health_failing=["network"], health_checked_at=checked)
        )
        await db.commit()
    try:
        await follower.step()
        breaker = registry.client("pod1", "network").breaker
        assert breaker.state == "open" and not breaker.allow()
        assert registry.client("pod1", "compute").breaker.state == "closed"
        assert registry.client("pod0", "network").breaker.state == "closed"
        breaker.success()  # say a probe here found it answering: the same finding is old
        await follower.step()
        assert breaker.state == "closed"
        async with made() as db:
            await db.execute(
                sqlalchemy.update(Pod)
                .where(Pod.name == "pod1")
                .values(health_checked_at=checked + timedelta(seconds=1))
            )
            await db.execute(
                sqlalchemy.update(Pod)
                .where(Pod.name == "pod0")
                .values(
                    health_state="down",
                    health_failing=["compute", "network"],
                    health_checked_at=checked - timedelta(hours=1),
                )
            )
            await db.commit()
        await follower.step()
        assert breaker.state == "open"
        assert registry.client("pod0", "compute").breaker.state == "closed"
    finally:
        await follower.aclose()
        await registry.aclose()
    assert seen == []  # nothing probed: no breaker reached its reset time


async def _closed(breaker: Any) -> bool:
    for _ in range(50):
        if breaker.state == "closed":
            return True
        await asyncio.sleep(0.01)
    return False


async def test_the_follower_not_a_request_probes_an_open_breaker(tmp_path: Any) -> None:
    """pod1's compute, which the check found failing, is probed once past its reset time
    (watched meanwhile: no request is let through as the probe); pod0's compute, opened
    by failing calls the check never saw, at the next step. Each probe of the version
    document finds it answering and closes the breaker."""
    seen, transport = _probed()
    made, registry, follower = await _follower(
        tmp_path, transport, breaker_reset_seconds=0.3, health_interval=30.0
    )
    async with made() as db:
        await db.execute(
            sqlalchemy.update(Pod)
            .where(Pod.name == "pod1")
            .values(health_state="degraded", health_failing=["compute"], health_checked_at=now())
        )
        await db.commit()
    found, called = (
        registry.client("pod1", "compute").breaker,
        registry.client("pod0", "compute").breaker,
    )
    try:
        called.trip()
        await follower.step()
        assert await _closed(called) and seen == ["compute.r0"]
        assert found.state == "open"
        await asyncio.sleep(0.35)
        assert found.state == "half-open" and not found.allow()
        await follower.step()
        assert await _closed(found) and seen == ["compute.r0", "compute.r1"]
    finally:
        await follower.aclose()
        await registry.aclose()


async def test_rounds_keep_a_cadence_a_little_shorter_than_the_interval(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """The first round is not spread; the next ones are due LATE_MARGIN less than the
    interval after the last one's start (not after its end: a round that ran long does
    not push the next), so a pod checked at its place is checked within the interval."""
    calls: list[tuple[float, float]] = []

    async def check_round(
        sessions: Any, registry: Any, spread: float, rounds: Any, start: float
    ) -> float:
        calls.append((spread, start))
        await asyncio.sleep(0.05)  # a round that takes part of its length
        return spread

    async def sweep(*args: Any) -> None:
        return None

    monkeypatch.setattr(health, "check_round", check_round)
    monkeypatch.setattr(stale, "sweep", sweep)
    made = await _pods_in_db(tmp_path, 0)  # for the lease
    running = asyncio.create_task(health.run_periodically(0.2, made, None))  # type: ignore[arg-type]
    await asyncio.sleep(0.75)
    running.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await running
    period = 0.2 * (1 - health.LATE_MARGIN)
    assert [spread for spread, _ in calls[:3]] == [0.0, period, period]
    starts = [start for _, start in calls]
    assert all(abs(b - a - period) < 1e-9 for a, b in itertools.pairwise(starts))

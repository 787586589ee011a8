"""The pods' endpoints from the Keystone catalog (indexed once, read once at a time) and
the health round's probes (bounded in total)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from typing import Any

import httpx
import pytest
import sqlalchemy

from cascade.conf import PodsSection
from cascade.db.models import Pod
from cascade.pods import registry as registry_module
from cascade.pods.client import PodUnavailable
from cascade.pods.registry import PodRegistry, index_catalog
from cascade.services import health, stale, versions
from cascade.versions import Version


def _catalog(regions: int) -> list[dict[str, Any]]:
    return [
        {
            "type": kind,
            "endpoints": [
                {"interface": "public", "region_id": f"r{n}", "url": f"http://{kind}.r{n}"}
                for n in range(regions)
            ]
            + [{"interface": "internal", "region_id": "r0", "url": "http://internal"}],
        }
        for kind in ("compute", "network")
    ]


@dataclasses.dataclass
class Validator:
    """A TokenValidator's catalog read: counted, and slow enough for callers to overlap."""

    regions: int = 3
    reads: int = 0
    service_auth: Any = None

    async def catalog(self) -> list[dict[str, Any]]:
        self.reads += 1
        await asyncio.sleep(0.05)
        return _catalog(self.regions)


def _registry(validator: Validator, **conf: Any) -> PodRegistry:
    return PodRegistry(PodsSection(**conf), validator)  # type: ignore[arg-type]


def test_the_catalog_is_indexed_by_region_with_public_urls_only() -> None:
    index = index_catalog(_catalog(2))
    assert index == {
        "r0": {"compute": "http://compute.r0", "network": "http://network.r0"},
        "r1": {"compute": "http://compute.r1", "network": "http://network.r1"},
    }


async def test_concurrent_first_calls_read_the_catalog_once() -> None:
    validator = Validator(regions=1000)
    registry = _registry(validator)
    found = await asyncio.gather(*(registry.endpoints(f"r{n}") for n in range(1000)))
    assert validator.reads == 1  # no stampede on Keystone after a restart
    assert found[999] == {"compute": "http://compute.r999", "network": "http://network.r999"}


async def test_a_region_missing_from_the_catalog_reads_it_again_at_most_once_a_while() -> None:
    validator = Validator()
    registry = _registry(validator)
    await registry.endpoints("r0")
    pod = Pod(id="p", name="gone", region_name="nowhere")
    for _ in range(5):
        with pytest.raises(PodUnavailable):
            await registry.endpoint(pod, "compute")
    assert validator.reads == 1  # read moments ago: the miss does not read again
    registry.forget_catalog()  # the pods changed (a pod registered): read on the next miss
    validator.regions = 5
    assert (await registry.endpoints("r4"))["compute"] == "http://compute.r4"
    assert validator.reads == 2


async def test_a_miss_after_the_window_reads_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry_module, "CATALOG_MISS_SECONDS", 0.0)
    validator = Validator()
    registry = _registry(validator)
    assert await registry.endpoints("r7") == {}
    validator.regions = 8
    assert (await registry.endpoints("r7"))["network"] == "http://network.r7"
    assert validator.reads == 3  # the first read, the miss, the miss with r7 there


async def test_an_old_catalog_is_read_again_in_the_background() -> None:
    validator = Validator()
    registry = _registry(validator, catalog_ttl=0.0)
    await registry.endpoints("r0")
    assert validator.reads == 1
    answer = await registry.endpoints("r0")  # answered from the old index at once
    assert answer["compute"] == "http://compute.r0" and validator.reads == 1
    await asyncio.sleep(0.1)
    assert validator.reads == 2
    await registry.aclose()


async def test_a_health_round_keeps_its_probes_in_flight_bounded() -> None:
    """120 pods of two services each: 240 probes, never more than `health_concurrency`
    at once, and every pod checked."""
    in_flight, most = 0, 0

    async def slow_ok(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.005)
        in_flight -= 1
        return httpx.Response(200, json={"versions": []})

    conf = PodsSection(health_concurrency=10)
    registry = PodRegistry(conf, Validator(regions=120), httpx.MockTransport(slow_ok))  # type: ignore[arg-type]
    pods = [Pod(id=f"p{n}", name=f"pod{n}", region_name=f"r{n}", enabled=True) for n in range(120)]
    try:
        results = await health.check_many(registry, pods)
    finally:
        await registry.aclose()
    assert [getattr(r, "state", r) for r in results] == ["up"] * 120
    assert most == 10


def test_a_round_lasts_the_interval_or_what_the_probe_rate_allows() -> None:
    registry = _registry(Validator(), health_rate=10.0)
    assert health.round_length(registry, 30.0, 10) == 30.0
    # 10,000 probes (one per pod once they are known) at 10 probes a second
    assert health.round_length(registry, 30.0, 10000) == 1000.0
    assert health.round_length(registry, 0.0, 8) == pytest.approx(0.8)


async def _pods_in_db(tmp_path: Any, count: int) -> Any:
    from datetime import datetime

    from cascade.db.engine import make_engine, sessions
    from cascade.db.migrate import upgrade

    url = f"sqlite+aiosqlite:///{tmp_path / 'cascade.sqlite'}"
    await upgrade(url)
    made = sessions(make_engine(url))
    async with made() as db:
        for n in range(count):
            db.add(
                Pod(
                    id=f"p{n}",
                    name=f"pod{n}",
                    region_name=f"r{n}",
                    az="az1",
                    pod_az="nova",
                    created_at=datetime(2026, 1, 1),
                )
            )
        await db.commit()
    return made


async def test_a_round_spreads_its_probes_and_keeps_states_and_ranges(tmp_path: Any) -> None:
    """10 pods over a 1 s round: the probes come one pod after another, not at once;
    every pod's state is written, and its compute range (from the version document)."""
    times: list[float] = []

    def answer(request: httpx.Request) -> httpx.Response:
        times.append(asyncio.get_running_loop().time())
        if request.url.host.startswith("compute"):
            assert request.url.path == "/"  # the endpoint's version document
            return httpx.Response(200, json={"version": {"min_version": "2.1", "version": "2.90"}})
        return httpx.Response(200, json={"versions": []})

    made = await _pods_in_db(tmp_path, 10)
    registry = PodRegistry(
        PodsSection(health_rate=1000.0),
        Validator(regions=10),  # type: ignore[arg-type]
        httpx.MockTransport(answer),
    )
    try:
        await health.check_round(made, registry, 1.0)
    finally:
        await registry.aclose()
    assert len(times) == 20
    assert max(times) - min(times) > 0.5
    async with made() as db:
        rows = (await db.scalars(sqlalchemy.select(Pod))).all()
    assert {(r.health_state, r.compute_min, r.compute_max) for r in rows} == {
        ("up", versions.encode(Version(2, 1)), versions.encode(Version(2, 90)))
    }
    assert all(r.health_checked_at is not None for r in rows)


async def test_the_stale_sweep_keeps_its_own_clock_during_a_long_round(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """A round over many pods outlasts the interval: the sweep of routings that outlived
    their request still runs every interval."""
    sweeps: list[float] = []

    async def endless_round(*args: Any) -> None:
        await asyncio.Event().wait()

    async def sweep(*args: Any) -> None:
        sweeps.append(asyncio.get_running_loop().time())

    monkeypatch.setattr(health, "check_round", endless_round)
    monkeypatch.setattr(stale, "sweep", sweep)
    made = await _pods_in_db(tmp_path, 0)  # for the lease
    running = asyncio.create_task(health.run_periodically(0.05, made, _registry(Validator())))
    await asyncio.sleep(0.3)
    running.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await running
    assert len(sweeps) >= 3

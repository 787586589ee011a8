"""The job queue on the devcloud's MariaDB: concurrent claimers never claim a job twice
(SELECT ... FOR UPDATE SKIP LOCKED), and several workers drain one queue together."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cascade.conf import Conf, JobsSection
from cascade.db.engine import make_engine, sessions
from cascade.db.migrate import upgrade
from cascade.db.models import Job
from cascade.jobs import queue
from cascade.jobs.registry import JobContext, Registry
from cascade.jobs.worker import Worker
from cascade.services import leases
from devcloud import infra
from devcloud.layout import DB_USER, PASSWORD, Layout
from tests.integration.conftest import DEVCLOUD_DIR

pytestmark = pytest.mark.integration
JOBS = 300
CLAIMERS = 6


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
async def url(request: pytest.FixtureRequest) -> str:
    """A fresh, migrated `cascade_jobs_it` database on the devcloud's MariaDB (the devcloud
    is brought up only when its MariaDB is not answering)."""
    layout = Layout(DEVCLOUD_DIR)
    port = layout.port("mariadb")
    if not _listening(port):
        request.getfixturevalue("clouds_yaml")
    await infra.recreate_databases(layout, ["cascade_jobs_it"])
    made = f"mysql+asyncmy://{DB_USER}:{PASSWORD}@127.0.0.1:{port}/cascade_jobs_it?charset=utf8mb4"
    await upgrade(made)
    return made


@pytest.fixture
async def makers(url: str) -> AsyncIterator[list[async_sessionmaker[AsyncSession]]]:
    """One engine (own connection pool) per claimer, as separate processes would have."""
    engines = [make_engine(url) for _ in range(CLAIMERS)]
    yield [sessions(e) for e in engines]
    for engine in engines:
        await engine.dispose()


async def fill(maker: async_sessionmaker[AsyncSession], type: str) -> None:
    async with maker() as db:
        for n in range(JOBS):
            await queue.enqueue(db, type, f"r{n}", "p1", {"n": n})
        await db.commit()


async def test_concurrent_claimers_never_claim_a_job_twice(
    makers: list[async_sessionmaker[AsyncSession]],
) -> None:
    await fill(makers[0], "noop")
    claimed: list[tuple[str, str]] = []

    async def claimer(name: str, maker: async_sessionmaker[AsyncSession]) -> None:
        idle = 0
        while idle < 3:
            job = await queue.claim(maker, name, 60, ["noop"])
            if job is None:
                idle += 1
                await asyncio.sleep(0.05)
                continue
            idle = 0
            claimed.append((job.id, name))
            assert await queue.complete(maker, job, name)

    await asyncio.gather(*(claimer(f"w{i}", m) for i, m in enumerate(makers)))
    ids = Counter(job_id for job_id, _ in claimed)
    assert len(ids) == JOBS and max(ids.values()) == 1, "a job was claimed twice"
    assert len({name for _, name in claimed}) > 1, "the claimers did not overlap"
    async with makers[0]() as db:
        done = await db.scalar(select(func.count()).select_from(Job).where(Job.status == "done"))
    assert done == JOBS


async def test_several_workers_drain_one_queue(
    makers: list[async_sessionmaker[AsyncSession]],
) -> None:
    registry = Registry()
    runs: Counter[str] = Counter()

    @registry.handler("count")
    async def count(ctx: JobContext, job: Job) -> None:
        runs[job.id] += 1
        await asyncio.sleep(0)

    await fill(makers[0], "count")
    conf = Conf(jobs=JobsSection(poll_interval=0.05))
    workers = [Worker(m, registry, conf, worker_id=f"w{i}") for i, m in enumerate(makers)]
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:
        for _ in range(600):
            if sum(runs.values()) >= JOBS:
                break
            await asyncio.sleep(0.05)
    finally:
        for worker in workers:
            worker.stop()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
    assert len(runs) == JOBS and max(runs.values()) == 1
    async with makers[0]() as db:
        leased = await db.scalar(select(func.count()).select_from(Job).where(Job.status != "done"))
    assert leased == 0


async def test_one_process_of_many_holds_a_lease(
    makers: list[async_sessionmaker[AsyncSession]],
) -> None:
    """The health check's lease on MariaDB: of claimers racing for it, one holds it; it
    renews; once it lapses another takes it."""
    held = await asyncio.gather(
        *(leases.hold(maker, "health", f"p{n}", 1.0) for n, maker in enumerate(makers))
    )
    assert held.count(True) == 1
    holder = held.index(True)
    assert await leases.hold(makers[holder], "health", f"p{holder}", 1.0)
    other = (holder + 1) % len(makers)
    assert not await leases.hold(makers[other], "health", f"p{other}", 1.0)
    await asyncio.sleep(1.2)
    assert await leases.hold(makers[other], "health", f"p{other}", 60.0)
    assert not await leases.hold(makers[holder], "health", f"p{holder}", 60.0)

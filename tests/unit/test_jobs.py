"""The job queue: same-transaction enqueue, dedup, leases, backoff, the worker, the admin API."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from cascade import logs
from cascade.conf import Conf, JobsSection
from cascade.db.models import Job, Quota
from cascade.jobs import queue
from cascade.jobs.registry import DEFAULT, JobContext, Registry
from cascade.jobs.retry import RetryPolicy
from cascade.jobs.worker import Worker

ADMIN = {"X-Auth-Token": "admin-token"}
MEMBER = {"X-Auth-Token": "member-token"}
Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def sessions(app: Starlette) -> Sessions:
    made: Sessions = app.state.sessions
    return made


async def add(sessions: Sessions, resource: str = "r1", **kwargs: object) -> Job:
    async with sessions() as db:
        job = await queue.enqueue(db, "noop", resource, "p1", {"n": 1}, **kwargs)  # type: ignore[arg-type]
        await db.commit()
    return job


async def load(sessions: Sessions, job_id: str) -> Job:
    async with sessions() as db:
        job = await db.get(Job, job_id)
        assert job is not None
        return job


async def make_due(sessions: Sessions, job_id: str) -> None:
    async with sessions() as db:
        past = queue.now() - timedelta(seconds=1)
        await db.execute(update(Job).where(Job.id == job_id).values(run_after=past))
        await db.commit()


async def test_enqueue_commits_or_rolls_back_with_the_callers_change(sessions: Sessions) -> None:
    def quota() -> Quota:
        stamp = queue.now()
        return Quota(project_id="p1", resource="cores", hard_limit=5, created_at=stamp)

    async with sessions() as db:
        db.add(quota())
        await queue.enqueue(db, "noop", "p1", "p1", {})
        await db.rollback()
    async with sessions() as db:
        assert await db.scalar(select(func.count()).select_from(Job)) == 0
        assert await db.scalar(select(func.count()).select_from(Quota)) == 0
    async with sessions() as db:
        db.add(quota())
        job = await queue.enqueue(db, "noop", "p1", "p1", {"limit": 5})
        await db.commit()
    stored = await load(sessions, job.id)
    assert (stored.status, stored.attempts, stored.payload) == ("queued", 0, {"limit": 5})


async def test_the_latest_request_for_a_resource_wins(sessions: Sessions) -> None:
    first = await add(sessions)
    second = await add(sessions)
    other = await add(sessions, "r2")
    assert (await load(sessions, first.id)).status == "superseded"
    assert (await load(sessions, second.id)).status == "queued"
    assert (await load(sessions, other.id)).status == "queued"
    running = await queue.claim(sessions, "w1", 60, ["noop"])
    assert running is not None and running.id == second.id
    # a running job is left to finish; the newer one waits for it
    third = await add(sessions)
    assert (await load(sessions, second.id)).status == "running"
    claimed = await queue.claim(sessions, "w2", 60, ["noop"])
    assert claimed is not None and claimed.id == other.id
    assert await queue.claim(sessions, "w2", 60, ["noop"]) is None
    assert await queue.complete(sessions, running, "w1")
    claimed = await queue.claim(sessions, "w2", 60, ["noop"])
    assert claimed is not None and claimed.id == third.id


async def test_claim_leases_one_job_and_complete_finishes_it(sessions: Sessions) -> None:
    job = await add(sessions)
    assert await queue.claim(sessions, "w1", 60, ["other-type"]) is None
    assert await queue.claim(sessions, "w1", 60, []) is None
    claimed = await queue.claim(sessions, "w1", 60, ["noop"])
    assert claimed is not None and claimed.id == job.id
    assert claimed.status == "running" and claimed.leased_by == "w1"
    assert claimed.lease_until is not None and claimed.lease_until > queue.now()
    assert await queue.claim(sessions, "w2", 60, None) is None  # never twice
    assert not await queue.complete(sessions, claimed, "w2")  # not w2's lease
    assert await queue.complete(sessions, claimed, "w1")
    stored = await load(sessions, job.id)
    assert (stored.status, stored.leased_by, stored.lease_until) == ("done", None, None)


async def test_a_job_not_due_yet_is_not_claimed(sessions: Sessions) -> None:
    await add(sessions, delay=timedelta(minutes=5))
    assert await queue.claim(sessions, "w1", 60) is None


async def test_failures_back_off_then_fail_with_the_last_error(sessions: Sessions) -> None:
    retry = RetryPolicy(base_seconds=10, max_seconds=25)
    job = await add(sessions, max_attempts=4)
    waits = []
    for attempt in range(1, 5):
        claimed = await queue.claim(sessions, "w1", 60)
        assert claimed is not None and claimed.id == job.id
        before = queue.now()
        assert await queue.fail(sessions, claimed, "w1", f"boom {attempt}", retry)
        stored = await load(sessions, job.id)
        assert stored.attempts == attempt and stored.last_error == f"boom {attempt}"
        if attempt < 4:
            assert stored.status == "queued" and stored.leased_by is None
            waits.append(round((stored.run_after - before).total_seconds()))
            assert await queue.claim(sessions, "w1", 60) is None  # backing off
            await make_due(sessions, job.id)
    assert waits == [10, 20, 25]  # doubled, then capped
    assert stored.status == "failed" and stored.last_error == "boom 4"
    assert await queue.claim(sessions, "w1", 60) is None


async def test_an_expired_lease_makes_the_job_claimable_again(sessions: Sessions) -> None:
    job = await add(sessions, max_attempts=2)
    lost = await queue.claim(sessions, "dead-worker", -1)  # the lease is already over
    assert lost is not None
    again = await queue.claim(sessions, "w2", 60)
    assert again is not None and again.id == job.id and again.leased_by == "w2"
    assert again.attempts == 1 and "dead-worker" in (again.last_error or "")
    assert not await queue.complete(sessions, lost, "dead-worker")  # too late: not its lease
    await queue.extend(sessions, again, "w2", -1)  # w2 dies too: out of attempts
    assert await queue.claim(sessions, "w3", 60) is None
    stored = await load(sessions, job.id)
    assert stored.status == "failed" and stored.attempts == 2
    assert "w2" in (stored.last_error or "")


def conf(**jobs: float) -> Conf:
    return Conf(jobs=JobsSection(poll_interval=0.01, **jobs))  # type: ignore[arg-type]


async def test_a_job_run_twice_converges_handlers_are_idempotent(sessions: Sessions) -> None:
    registry = Registry()

    @registry.handler("set-quota")
    async def set_quota(ctx: JobContext, job: Job) -> None:
        async with ctx.sessions() as db:
            found = await db.scalar(
                select(Quota).where(Quota.project_id == job.resource_id, Quota.resource == "cores")
            )
            if found is None:
                found = Quota(
                    project_id=job.resource_id,
                    resource="cores",
                    hard_limit=0,
                    created_at=queue.now(),
                )
                db.add(found)
            found.hard_limit = job.payload["cores"]
            await db.commit()

    async with sessions() as db:
        job = await queue.enqueue(db, "set-quota", "p9", "p9", {"cores": 7})
        await db.commit()
    worker = Worker(sessions, registry, conf())
    assert await worker.run_once()
    assert not await worker.run_once()
    async with sessions() as db:  # run it again, as after a crash before `complete`
        await db.execute(update(Job).where(Job.id == job.id).values(status="queued"))
        await db.commit()
    assert await worker.run_once()
    async with sessions() as db:
        rows = (await db.scalars(select(Quota).where(Quota.project_id == "p9"))).all()
    assert [r.hard_limit for r in rows] == [7]
    assert (await load(sessions, job.id)).status == "done"


async def test_the_worker_runs_jobs_and_stops_cleanly(sessions: Sessions) -> None:
    registry = Registry()
    ran: list[str] = []
    release = asyncio.Event()

    @registry.handler("slow")
    async def slow(ctx: JobContext, job: Job) -> None:
        ran.append(job.resource_id)
        if job.payload.get("fail"):
            raise RuntimeError("pod said no")
        await release.wait()

    async with sessions() as db:
        bad = await queue.enqueue(db, "slow", "b", None, {"fail": True})  # runs first
        ok = await queue.enqueue(db, "slow", "a", None, {}, delay=timedelta(microseconds=10))
        await db.commit()
    worker = Worker(sessions, registry, conf(lease_seconds=0.3, backoff_base_seconds=60))
    task = asyncio.create_task(worker.run())
    for _ in range(200):
        if len(ran) == 2:
            break
        await asyncio.sleep(0.01)
    assert sorted(ran) == ["a", "b"]
    await asyncio.sleep(0.3)  # longer than the lease: the worker renews it
    assert (await load(sessions, ok.id)).status == "running"
    worker.stop()  # graceful: the current job finishes first
    release.set()
    await asyncio.wait_for(task, 5)
    assert (await load(sessions, ok.id)).status == "done"
    failed = await load(sessions, bad.id)
    assert failed.status == "queued" and failed.attempts == 1
    assert failed.last_error == "RuntimeError: pod said no"


async def test_a_cancelled_worker_gives_its_job_back(sessions: Sessions) -> None:
    registry = Registry()
    started = asyncio.Event()

    @registry.handler("hang")
    async def hang(ctx: JobContext, job: Job) -> None:
        started.set()
        await asyncio.Event().wait()

    async with sessions() as db:
        job = await queue.enqueue(db, "hang", "x", None, {})
        await db.commit()
    task = asyncio.create_task(Worker(sessions, registry, conf()).run())
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    stored = await load(sessions, job.id)
    assert (stored.status, stored.attempts, stored.leased_by) == ("queued", 0, None)


async def test_the_noop_handler_is_registered(sessions: Sessions) -> None:
    job = await add(sessions)
    assert "noop" in DEFAULT.types()
    assert await Worker(sessions, DEFAULT, conf()).run_once()
    assert (await load(sessions, job.id)).status == "done"


async def test_admin_api_lists_shows_redoes_and_deletes(
    sessions: Sessions, client: httpx.AsyncClient
) -> None:
    ids = [(await add(sessions, f"r{n}")).id for n in range(5)]
    async with sessions() as db:
        other = await queue.enqueue(db, "other", "r9", "p2", {})
        await db.commit()
    assert (await client.get("/v1/jobs", headers=MEMBER)).status_code == 403

    async def walk(url: str) -> list[str]:
        seen: list[str] = []
        while url:
            answer = await client.get(url, headers=ADMIN)
            assert answer.status_code == 200, (url, answer.text)
            body = answer.json()
            seen += [j["id"] for j in body["jobs"]]
            links = body.get("jobs_links", [])
            url = links[0]["href"].removeprefix("http://cascade.test") if links else ""
        return seen

    assert await walk("/v1/jobs?limit=2&type=noop") == ids
    # newest first, page by page (the next links keep the direction)
    assert await walk("/v1/jobs?limit=2&type=noop&sort_dir=desc") == ids[::-1]
    assert await walk(f"/v1/jobs?type=noop&sort_dir=desc&marker={ids[3]}") == ids[2::-1]
    p2 = (await client.get("/v1/jobs?project_id=p2", headers=ADMIN)).json()["jobs"]
    assert [j["id"] for j in p2] == [other.id]
    for query in ("limit=0", "status=lost", "colour=red", "marker=nope", "sort_dir=up"):
        assert (await client.get(f"/v1/jobs?{query}", headers=ADMIN)).status_code == 400
    shown = (await client.get(f"/v1/jobs/{ids[0]}", headers=ADMIN)).json()["job"]
    assert shown["status"] == "queued" and shown["payload"] == {"n": 1}
    missing = await client.get("/v1/jobs/nope", headers=ADMIN)
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["code"] == "cascade.job.not_found"

    claimed = await queue.claim(sessions, "w1", 60, ["other"])
    assert claimed is not None
    busy = await client.delete(f"/v1/jobs/{other.id}", headers=ADMIN)
    assert busy.status_code == 409 and busy.json()["errors"][0]["code"] == "cascade.job.busy"
    assert (await client.post(f"/v1/jobs/{other.id}/redo", headers=ADMIN)).status_code == 409
    await queue.fail(sessions, claimed, "w1", "gone", RetryPolicy(1, 1))
    async with sessions() as db:
        await db.execute(update(Job).where(Job.id == other.id).values(status="failed"))
        await db.commit()
    assert (await client.post(f"/v1/jobs/{other.id}/redo", headers=MEMBER)).status_code == 403
    redone = await client.post(f"/v1/jobs/{other.id}/redo", headers=ADMIN)
    assert redone.status_code == 200
    assert redone.json()["job"]["status"] == "queued" and redone.json()["job"]["attempts"] == 0
    assert (await client.delete(f"/v1/jobs/{other.id}", headers=ADMIN)).status_code == 409
    claimed = await queue.claim(sessions, "w1", 60, ["other"])
    assert claimed is not None and await queue.complete(sessions, claimed, "w1")
    assert (await client.delete(f"/v1/jobs/{other.id}", headers=MEMBER)).status_code == 403
    assert (await client.delete(f"/v1/jobs/{other.id}", headers=ADMIN)).status_code == 204
    assert (await client.get(f"/v1/jobs/{other.id}", headers=ADMIN)).status_code == 404


async def test_jobs_without_their_own_bound_use_the_configured_one(sessions: Sessions) -> None:
    registry = Registry()

    @registry.handler("broken")
    async def broken(ctx: JobContext, job: Job) -> None:
        raise ValueError(f"attempt {job.attempts + 1}")

    async with sessions() as db:
        job = await queue.enqueue(db, "broken", "x", None, {})
        await db.commit()
    worker = Worker(sessions, registry, conf(max_attempts=2, backoff_base_seconds=0))
    assert await worker.run_once()
    assert await worker.run_once()
    assert not await worker.run_once()
    stored = await load(sessions, job.id)
    assert (stored.status, stored.attempts) == ("failed", 2)
    assert stored.last_error == "ValueError: attempt 2"


async def test_job_runs_are_counted_by_type_and_outcome(sessions: Sessions) -> None:
    registry = Registry()

    @registry.handler("metrics-ok")
    async def ok(ctx: JobContext, job: Job) -> None:
        return None

    @registry.handler("metrics-bad")
    async def bad(ctx: JobContext, job: Job) -> None:
        raise RuntimeError("no")

    def runs(kind: str, outcome: str) -> float:
        value = REGISTRY.get_sample_value(
            "cascade_job_runs_total", {"type": kind, "outcome": outcome}
        )
        return value or 0.0

    before = (runs("metrics-ok", "done"), runs("metrics-bad", "failed"))
    async with sessions() as db:
        await queue.enqueue(db, "metrics-ok", "a", None, {})
        await queue.enqueue(db, "metrics-bad", "b", None, {})
        await db.commit()
    worker = Worker(sessions, registry, conf())
    assert await worker.run_once() and await worker.run_once()
    after = (runs("metrics-ok", "done"), runs("metrics-bad", "failed"))
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1)


async def test_a_jobs_log_lines_carry_its_id_and_project(
    sessions: Sessions, caplog: pytest.LogCaptureFixture
) -> None:
    registry = Registry()

    @registry.handler("logs-bad")
    async def bad(ctx: JobContext, job: Job) -> None:
        raise RuntimeError("no")

    caplog.handler.addFilter(logs.IdsFilter())
    async with sessions() as db:
        job = await queue.enqueue(db, "logs-bad", "a", "p7", {})
        await db.commit()
    assert await Worker(sessions, registry, conf()).run_once()
    failed = [r for r in caplog.records if "attempt 1 failed" in r.getMessage()]
    assert len(failed) == 1
    assert (failed[0].request_id, failed[0].project_id) == (f"job-{job.id}", "p7")  # type: ignore[attr-defined]
    assert logs.CURRENT.get() == logs.Ids()  # the worker's own lines carry no job's ids

"""The job queue in Cascade's database (no HTTP types here).

A job is added with `enqueue` to the caller's own session, so it commits (or
rolls back) with the state change that needs it. The key (type, resource_id)
deduplicates: a new job supersedes the older *queued* ones of the same key
(the latest request wins); a *running* one is left to finish and the new one
is not claimed before it has.

Workers `claim` one due job at a time under a lease. On MariaDB/MySQL and
PostgreSQL the row is locked with `SELECT ... FOR UPDATE SKIP LOCKED`, so any
number of workers share a queue and never claim a job twice. SQLite has no
row locks: run ONE worker per SQLite database (the embedded worker of
cascade-api, or one cascade-worker); the claim is still a compare-and-set
update, so an accidental second worker loses the race instead of running the
job twice. A lease that runs out (its worker died) makes a running job
claimable again, and counts as a failed attempt.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cascade.db.engine import now as now
from cascade.db.models import Job
from cascade.db.transient import retrying
from cascade.jobs.retry import RetryPolicy

QUEUED = "queued"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
SUPERSEDED = "superseded"
FINISHED = (DONE, FAILED, SUPERSEDED)
STATUSES = (QUEUED, RUNNING, DONE, FAILED, SUPERSEDED)
# dialects whose SELECT ... FOR UPDATE SKIP LOCKED lets workers share the queue
SKIP_LOCKED_DIALECTS = ("mysql", "mariadb", "postgresql")
DEFAULT_RETRY = RetryPolicy(2.0, 300.0, 8)


async def enqueue(
    session: AsyncSession,
    type: str,
    resource_id: str,
    project_id: str | None,
    payload: dict[str, Any],
    max_attempts: int = 0,
    delay: timedelta = timedelta(0),
) -> Job:
    """Add a job to `session` and supersede the older queued jobs of (type, resource_id).

    Nothing is committed: the caller commits with its own state change, so the job
    exists if and only if that change does. `max_attempts` 0: the `[jobs] max_attempts`
    of the worker that runs it.
    """
    stamp = now()
    await session.execute(
        update(Job)
        .where(Job.type == type, Job.resource_id == resource_id, Job.status == QUEUED)
        .values(status=SUPERSEDED, updated_at=stamp)
        .execution_options(synchronize_session=False)
    )
    job = Job(
        id=str(uuid.uuid4()),
        type=type,
        resource_id=resource_id,
        project_id=project_id,
        payload=payload,
        status=QUEUED,
        attempts=0,
        max_attempts=max_attempts,
        run_after=stamp + delay,
        created_at=stamp,
    )
    session.add(job)
    return job


CANDIDATES = 8  # due jobs a claim looks at, in case the first ones' resources are busy


def _typed(query: Any, types: Collection[str] | None) -> Any:
    return query if types is None else query.where(Job.type.in_(list(types)))


def _expired(stamp: datetime, types: Collection[str] | None) -> Any:
    """A running job whose worker's lease ran out."""
    query = select(Job).where(Job.status == RUNNING, Job.lease_until < stamp)
    return _typed(query.order_by(Job.lease_until).limit(1), types)


def _queued(stamp: datetime, types: Collection[str] | None) -> Any:
    """The first due queued jobs, in the order of the index (status, run_after, id), so
    the database reads (and, FOR UPDATE, locks) only those rows, not the whole backlog."""
    query = select(Job).where(Job.status == QUEUED, Job.run_after <= stamp)
    return _typed(query.order_by(Job.run_after, Job.id).limit(CANDIDATES), types)


async def _busy(db: AsyncSession, stamp: datetime, jobs: list[Job]) -> set[tuple[str, str]]:
    """(type, resource) of these jobs that another worker is running under a live lease:
    the same resource is never worked on twice at once."""
    query = select(Job.type, Job.resource_id).where(
        Job.status == RUNNING,
        Job.lease_until >= stamp,
        Job.resource_id.in_({j.resource_id for j in jobs}),
    )
    return {(t, r) for t, r in (await db.execute(query)).all()}


async def _next(db: AsyncSession, stamp: datetime, types: Collection[str] | None) -> Job | None:
    locking = (await db.connection()).dialect.name in SKIP_LOCKED_DIALECTS

    def lock(query: Any) -> Any:
        return query.with_for_update(skip_locked=True) if locking else query

    expired: Job | None = await db.scalar(lock(_expired(stamp, types)))
    if expired is not None:
        return expired
    candidates = list((await db.scalars(lock(_queued(stamp, types)))).all())
    if not candidates:
        return None
    busy = await _busy(db, stamp, candidates)
    return next((j for j in candidates if (j.type, j.resource_id) not in busy), None)


async def claim(
    sessions: async_sessionmaker[AsyncSession],
    worker_id: str,
    lease_seconds: float,
    types: Collection[str] | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> Job | None:
    """One due job (queued and due, or running with an expired lease), now running and
    leased to `worker_id` for `lease_seconds`; None when nothing is due.

    Re-claiming an expired lease counts the lost run as a failed attempt; a job out of
    attempts that way is marked failed instead of claimed. A claim the database aborts
    (an InnoDB deadlock between claimers) is tried again.
    """
    if types is not None and not types:
        return None
    return await retrying(
        lambda: _claim_once(sessions, worker_id, lease_seconds, types, retry), attempts=10
    )


async def _claim_once(
    sessions: async_sessionmaker[AsyncSession],
    worker_id: str,
    lease_seconds: float,
    types: Collection[str] | None,
    retry: RetryPolicy,
) -> Job | None:
    async with sessions() as db, db.begin():
        for _ in range(10):  # jobs out of attempts are failed on the way
            stamp = now()
            job = await _next(db, stamp, types)
            if job is None:
                return None
            values: dict[str, Any] = {
                "status": RUNNING,
                "leased_by": worker_id,
                "lease_until": stamp + timedelta(seconds=lease_seconds),
                "updated_at": stamp,
            }
            if job.status == RUNNING:  # its worker's lease ran out: that run is lost
                lost = f"lease of worker {job.leased_by} expired before the job finished"
                values.update(attempts=job.attempts + 1, last_error=lost)
                if job.attempts + 1 >= retry.attempts_allowed(job.max_attempts):
                    values.update(status=FAILED, leased_by=None, lease_until=None)
            # compare-and-set: on SQLite (no row locks) a concurrent claimer loses here
            result = await db.execute(
                update(Job)
                .where(
                    Job.id == job.id,
                    Job.status == job.status,
                    Job.updated_at == job.updated_at
                    if job.updated_at is not None
                    else Job.updated_at.is_(None),
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
            for key, value in values.items():
                setattr(job, key, value)
            if job.status == RUNNING:
                return job
        return None


async def _finish(
    sessions: async_sessionmaker[AsyncSession], job: Job, worker_id: str, values: dict[str, Any]
) -> bool:
    """Apply `values` to `job` if `worker_id` still holds its lease; False if it lost it."""
    values = {**values, "updated_at": now()}

    async def apply() -> int:
        async with sessions() as db, db.begin():
            result = await db.execute(
                update(Job)
                .where(Job.id == job.id, Job.status == RUNNING, Job.leased_by == worker_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        return int(result.rowcount)  # type: ignore[attr-defined]

    if await retrying(apply) != 1:
        return False
    for key, value in values.items():
        setattr(job, key, value)
    return True


async def complete(sessions: async_sessionmaker[AsyncSession], job: Job, worker_id: str) -> bool:
    """The job ran to the end: done."""
    done = {"status": DONE, "leased_by": None, "lease_until": None, "last_error": None}
    return await _finish(sessions, job, worker_id, done)


async def fail(
    sessions: async_sessionmaker[AsyncSession],
    job: Job,
    worker_id: str,
    error: str,
    retry: RetryPolicy,
) -> bool:
    """The run failed with `error`: queued again after the backoff, or failed for good
    once the job has used its attempts."""
    attempts = job.attempts + 1
    values: dict[str, Any] = {
        "attempts": attempts,
        "last_error": error,
        "leased_by": None,
        "lease_until": None,
    }
    if attempts >= retry.attempts_allowed(job.max_attempts):
        values["status"] = FAILED
    else:
        values.update(status=QUEUED, run_after=now() + retry.delay(job.attempts))
    return await _finish(sessions, job, worker_id, values)


async def release(sessions: async_sessionmaker[AsyncSession], job: Job, worker_id: str) -> bool:
    """Give the job back unrun (the worker is stopping): queued, due now, no attempt used."""
    values = {"status": QUEUED, "leased_by": None, "lease_until": None, "run_after": now()}
    return await _finish(sessions, job, worker_id, values)


async def extend(
    sessions: async_sessionmaker[AsyncSession], job: Job, worker_id: str, lease_seconds: float
) -> bool:
    """Renew the lease of a job still running; False if the worker no longer holds it."""
    until = now() + timedelta(seconds=lease_seconds)
    return await _finish(sessions, job, worker_id, {"lease_until": until})


@dataclass(frozen=True)
class Depth:
    """The queue as operators watch it: jobs not done by (type, status), the ready ones
    (queued, their time come) and how long the oldest of those has waited (seconds)."""

    by_type: list[tuple[str, str, int]]
    ready: int
    oldest_ready_seconds: float


async def depth(session: AsyncSession) -> Depth:
    """Two queries on the claim index: grouped counts of the jobs queued, running or
    failed, and the ready ones with the oldest's `run_after` (`/metrics`,
    `cascade-manage job status`)."""
    at = now()
    counts = (
        await session.execute(
            select(Job.type, Job.status, func.count())
            .where(Job.status.in_((QUEUED, RUNNING, FAILED)))
            .group_by(Job.type, Job.status)
            .order_by(Job.type, Job.status)
        )
    ).all()
    ready, oldest = (
        await session.execute(
            select(func.count(), func.min(Job.run_after)).where(
                Job.status == QUEUED, Job.run_after <= at
            )
        )
    ).one()
    waited = (at - oldest).total_seconds() if oldest else 0.0
    return Depth([(k, s, int(n)) for k, s, n in counts], int(ready), waited)

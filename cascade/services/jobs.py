"""The job queue as the admin API sees it: list, show, redo, delete (no HTTP types here)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from cascade.db import paging
from cascade.db.engine import now
from cascade.db.models import Job
from cascade.jobs import queue


class JobNotFound(Exception):
    pass


MarkerNotFound = paging.MarkerNotFound


class JobBusy(Exception):
    """The job is not in a state that allows the operation."""


# what a list may be filtered on (equality), by name
FILTERS: dict[str, InstrumentedAttribute[Any]] = {
    "type": Job.type,
    "status": Job.status,
    "project_id": Job.project_id,
    "resource_id": Job.resource_id,
}


async def get(session: AsyncSession, job_id: str) -> Job:
    return await paging.row(session, Job, job_id, JobNotFound, "job")


async def page(
    session: AsyncSession,
    filters: Mapping[str, str | None],
    limit: int,
    marker: str | None,
    newest_first: bool = False,
) -> list[Job]:
    """Oldest (or newest) first (ties by id), those with the `FILTERS` given, after
    `marker` if given, at most `limit`."""
    return await paging.page_of(session, Job, FILTERS, filters, marker, limit, newest_first)


async def redo(session: AsyncSession, job_id: str) -> Job:
    """Queue a done, failed or waiting job to run now with its attempts reset. As a new
    request for its resource, it supersedes the other queued jobs of the same key."""
    job = await get(session, job_id)
    if job.status not in (queue.DONE, queue.FAILED, queue.QUEUED):
        raise JobBusy(
            f"job {job_id} is {job.status}: only a done, failed or queued job can be redone"
        )
    stamp = now()
    await session.execute(
        update(Job)
        .where(
            Job.type == job.type,
            Job.resource_id == job.resource_id,
            Job.status == queue.QUEUED,
            Job.id != job.id,
        )
        .values(status=queue.SUPERSEDED, updated_at=stamp)
        .execution_options(synchronize_session=False)
    )
    job.status = queue.QUEUED
    job.attempts = 0
    job.run_after = stamp
    job.lease_until = None
    job.leased_by = None
    job.updated_at = stamp
    await session.commit()
    return job


async def delete(session: AsyncSession, job_id: str) -> None:
    """Delete a finished (done, failed or superseded) job."""
    job = await get(session, job_id)
    if job.status not in queue.FINISHED:
        raise JobBusy(f"job {job_id} is {job.status}: only a finished job can be deleted")
    await session.delete(job)
    await session.commit()

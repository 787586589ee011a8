"""Audit runs and their findings as the admin API and the worker see them (no HTTP types).

`start` writes an audit (`queued`) and its `audit.run` job in one transaction; the job
audits the pods one after another (`checks.PodAudit`, every pod or the one named) and
writes the findings, replacing any an earlier attempt of the same run wrote; the run
ends `done` (a pod that could not be asked is named in `pods_unavailable`, its findings
left out) or `failed`. `repair` queues one finding's repair (an `audit.repair` job),
`repair_all` those of every finding that matches; the job records what it did on the
finding (`repair_status` done or failed, `repair_result`). `due` starts a periodic
audit when `[audit] interval` has passed since the last one began.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from cascade.db import paging
from cascade.db.engine import now
from cascade.db.models import Audit, AuditFinding, Job, Pod
from cascade.jobs import queue
from cascade.jobs.registry import JobContext, handler
from cascade.pods.client import PodUnavailable
from cascade.pods.compute import PodRefused
from cascade.services import stale
from cascade.services.audit import checks, repairs

LOG = logging.getLogger(__name__)
RUN, REPAIR = "audit.run", "audit.repair"
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
STATUSES = (QUEUED, RUNNING, DONE, FAILED)
ADMIN, PERIODIC = "admin", "periodic"
BATCH = 500  # findings written per transaction


class AuditNotFound(Exception):
    pass


class FindingNotFound(Exception):
    pass


class AuditBusy(Exception):
    """The audit or finding is not in a state that allows the operation."""


class BadRepair(Exception):
    """The repair asked for is not one the finding offers."""


MarkerNotFound = paging.MarkerNotFound

FILTERS: dict[str, InstrumentedAttribute[Any]] = {
    "status": Audit.status,
    "pod_id": Audit.pod_id,
    "trigger": Audit.trigger,
}
FINDING_FILTERS: dict[str, InstrumentedAttribute[Any]] = {
    "pod_id": AuditFinding.pod_id,
    "code": AuditFinding.code,
    "resource_type": AuditFinding.resource_type,
    "severity": AuditFinding.severity,
    "repair_status": AuditFinding.repair_status,
    "project_id": AuditFinding.project_id,
}


async def start(db: AsyncSession, pod_id: str | None, trigger: str = ADMIN) -> Audit:
    """A new audit of one pod (or every pod, None), queued with its job."""
    if pod_id is not None:
        await paging.row(db, Pod, pod_id, AuditNotFound, "pod")
    audit = Audit(
        id=str(uuid.uuid4()),
        pod_id=pod_id,
        status=QUEUED,
        trigger=trigger,
        counts={},
        pods_audited=0,
        pods_unavailable=[],
        created_at=now(),
    )
    db.add(audit)
    await queue.enqueue(db, RUN, audit.id, None, {})
    await db.commit()
    return audit


async def get(db: AsyncSession, audit_id: str) -> Audit:
    return await paging.row(db, Audit, audit_id, AuditNotFound, "audit")


async def page(
    db: AsyncSession,
    filters: Mapping[str, str | None],
    limit: int,
    marker: str | None,
    newest_first: bool = False,
) -> list[Audit]:
    """Oldest (or newest) first, with the `FILTERS` given, after `marker`, at most `limit`."""
    return await paging.page_of(db, Audit, FILTERS, filters, marker, limit, newest_first)


async def remove(db: AsyncSession, audit_id: str) -> None:
    """Delete a finished audit and its findings (nothing in the pods changes)."""
    audit = await get(db, audit_id)
    if audit.status not in (DONE, FAILED):
        raise AuditBusy(f"audit {audit_id} is {audit.status}: only a finished one can go")
    await db.execute(delete(AuditFinding).where(AuditFinding.audit_id == audit_id))
    await db.delete(audit)
    await db.commit()


async def finding(db: AsyncSession, audit_id: str, finding_id: str) -> AuditFinding:
    found = await db.get(AuditFinding, finding_id)
    if found is None or found.audit_id != audit_id:
        raise FindingNotFound(f"audit {audit_id} has no finding {finding_id}")
    return found


async def findings(
    db: AsyncSession,
    audit_id: str,
    filters: Mapping[str, str | None],
    limit: int,
    marker: str | None,
    newest_first: bool = False,
) -> list[AuditFinding]:
    """An audit's findings in the order they were found (or the reverse), filtered, paged."""
    await get(db, audit_id)
    return await paging.by_age(
        db,
        select(AuditFinding).where(AuditFinding.audit_id == audit_id),
        AuditFinding.created_at,
        AuditFinding.id,
        FINDING_FILTERS,
        filters,
        marker,
        limit,
        newest_first,
    )


async def _queue_repair(db: AsyncSession, found: AuditFinding, action: str | None) -> Job:
    """The repair's job added to `db` (not committed); BadRepair/AuditBusy if it cannot."""
    chosen = action or (found.repairs[0] if found.repairs else None)
    if chosen is None or chosen not in found.repairs:
        offered = ", ".join(found.repairs) or "none"
        raise BadRepair(
            f"finding {found.id} ({found.code}) cannot be repaired by {chosen!r}; "
            f"repairs offered: {offered}"
        )
    if found.repair_status in (QUEUED, DONE):
        raise AuditBusy(f"finding {found.id}'s repair is {found.repair_status} already")
    found.repair_action, found.repair_status, found.repair_result = chosen, QUEUED, None
    found.updated_at = now()
    job = await queue.enqueue(db, REPAIR, found.id, found.project_id, {"action": chosen})
    found.repair_job_id = job.id
    return job


async def repair(
    db: AsyncSession, audit_id: str, finding_id: str, action: str | None
) -> AuditFinding:
    """Queue the finding's repair (`action`, else the first it offers)."""
    found = await finding(db, audit_id, finding_id)
    await _queue_repair(db, found, action)
    await db.commit()
    return found


async def repair_all(
    db: AsyncSession, audit_id: str, filters: Mapping[str, str | None], action: str | None
) -> list[AuditFinding]:
    """Queue the repair of every finding of the audit that matches `filters` (a `code`
    at least) and offers `action` (else its first), not queued or done already."""
    await get(db, audit_id)
    query = select(AuditFinding).where(
        AuditFinding.audit_id == audit_id,
        AuditFinding.repair_status.is_(None) | (AuditFinding.repair_status == FAILED),
    )
    for name, value in filters.items():
        if value is not None:
            query = query.where(FINDING_FILTERS[name] == value)
    queued = []
    for found in (await db.scalars(query.order_by(AuditFinding.created_at))).all():
        if (action or next(iter(found.repairs), "")) not in found.repairs:
            continue
        await _queue_repair(db, found, action)
        queued.append(found)
    await db.commit()
    return queued


# --- the jobs ------------------------------------------------------------------------------


@handler(RUN)
async def run(ctx: JobContext, job: Job) -> None:
    """Audit the pods the run names; findings written as each pod is done."""
    sessions = ctx.sessions
    async with sessions() as db:
        audit = await db.get(Audit, job.resource_id)
        if audit is None or audit.status in (DONE, FAILED):
            return
        await db.execute(delete(AuditFinding).where(AuditFinding.audit_id == audit.id))
        audit.status, audit.started_at, audit.counts = RUNNING, now(), {}
        audit.pods_audited, audit.pods_unavailable = 0, []
        query = select(Pod).order_by(Pod.name)
        if audit.pod_id is not None:
            query = query.where(Pod.id == audit.pod_id)
        pods = list((await db.scalars(query)).all())
        await db.commit()
    try:
        for pod in pods:
            conf = ctx.conf.audit
            done = await checks.PodAudit(
                sessions, ctx.pods, pod, conf.page_size, conf.pace, f"req-{audit.id}"
            ).run()
            await _record(sessions, audit.id, pod, done)
    except Exception as exc:  # a failed run is shown failed; an operator starts another
        LOG.exception("audit %s failed", audit.id)
        async with sessions() as db:
            values = {"status": FAILED, "error": str(exc)[:2000], "finished_at": now()}
            await db.execute(update(Audit).where(Audit.id == audit.id).values(**values))
            await db.commit()
        return
    async with sessions() as db:
        await db.execute(
            update(Audit).where(Audit.id == audit.id).values(status=DONE, finished_at=now())
        )
        await db.commit()


async def _record(
    sessions: async_sessionmaker[AsyncSession], audit_id: str, pod: Pod, done: checks.PodAudit
) -> None:
    """One pod's findings, its count added to the run's."""
    stamp = now()
    for start_at in range(0, len(done.found), BATCH):
        async with sessions() as db:
            for offset, one in enumerate(done.found[start_at : start_at + BATCH]):
                db.add(_row(audit_id, pod, one, stamp + timedelta(microseconds=start_at + offset)))
            await db.commit()
    async with sessions() as db:
        audit = await db.get(Audit, audit_id)
        if audit is None:
            return
        counts = dict(audit.counts)
        for one in done.found:
            counts[one.code] = counts.get(one.code, 0) + 1
        audit.counts = counts
        audit.pods_audited += 1
        if done.unavailable:
            audit.pods_unavailable = [*audit.pods_unavailable, pod.name]
            audit.error = "; ".join(f"{pod.name}: {u}" for u in done.unavailable)[:2000]
        await db.commit()


def _row(audit_id: str, pod: Pod, one: checks.Found, stamp: datetime) -> AuditFinding:
    return AuditFinding(
        id=str(uuid.uuid4()),
        audit_id=audit_id,
        pod_id=pod.id,
        code=one.code,
        resource_type=one.resource_type,
        severity=one.severity,
        top_id=one.top_id,
        bottom_id=one.bottom_id,
        project_id=one.project_id,
        routing_id=one.routing_id,
        detail=one.detail,
        differences=one.differences,
        repairs=list(one.repairs),
        created_at=stamp,
    )


@handler(REPAIR)
async def repair_job(ctx: JobContext, job: Job) -> None:
    """Carry out a finding's repair and record the result on it. A pod that cannot be
    asked fails the attempt (tried again later); a repair that cannot be made, or that
    finds nothing left to do, is recorded as such and ends."""
    async with ctx.sessions() as db:
        found = await db.get(AuditFinding, job.resource_id)
    if found is None:
        return
    action = str(job.payload.get("action") or found.repair_action)
    try:
        result, status = await repairs.repair(ctx.sessions, ctx.pods, found, action), DONE
    except repairs.NothingToDo as exc:
        result, status = f"nothing done: {exc}", DONE
    except (repairs.CannotRepair, PodRefused) as exc:
        result, status = str(exc), FAILED
    except (stale.CannotTell, PodUnavailable) as exc:
        await _recorded(ctx.sessions, found.id, QUEUED, f"waits for the pod: {exc}")
        raise
    await _recorded(ctx.sessions, found.id, status, result)


async def _recorded(
    sessions: async_sessionmaker[AsyncSession], finding_id: str, status: str, result: str
) -> None:
    async with sessions() as db:
        values = {"repair_status": status, "repair_result": result[:2000], "updated_at": now()}
        await db.execute(update(AuditFinding).where(AuditFinding.id == finding_id).values(**values))
        await db.commit()


async def due(sessions: async_sessionmaker[AsyncSession], interval: float, since: float) -> bool:
    """Start a periodic audit of every pod if none began within `interval` seconds (nor,
    with no audit at all, within the `since` seconds this process has been checking);
    whether one was started."""
    async with sessions() as db:
        last = await db.scalar(select(func.max(Audit.created_at)))
        elapsed = (now() - last).total_seconds() if last is not None else since
        if elapsed < interval:
            return False
        await start(db, None, PERIODIC)
        return True

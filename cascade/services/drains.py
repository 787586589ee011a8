"""Drains: a pod emptied by moving what it hosts to other pods (no HTTP types here).

`start` puts the pod in state `draining` (it takes nothing new) and queues the drain's
job, `pod.drain`, which runs in steps a couple of seconds apart until the drain ends:

- each server routed to the pod is moved (`compute.moves`, with the volumes attached
  to it), then each volume left (`volume.moves`), at most IN_FLIGHT moves at once, to
  a pod of the drain's AZs (default: the pod's own) that takes new resources; a
  server's move is confirmed once its target is ACTIVE, a volume's completes by itself
  as Cinder's migrations do; nothing in the pod is deleted before its replacement is in
  place;
- what cannot move is named in the drain's `left`, with the reason: a server Nova
  would not migrate (booted from a volume, an error state), a volume Cinder would not
  (in use, with snapshots), a move that failed (its own `error`), and the kinds
  Cascade cannot move between pods yet (snapshots, backups, groups, server groups);
- when nothing is left to start or under way, the copies Cascade made in the pod are
  deleted but those what stays there still uses (`drain_release`);
- then the drain is `done` (the pod holds nothing of Cascade's) or `incomplete` (see
  `left`: what could not move, or a copy that stays), and the pod is in `maintenance`.

An admin pauses a drain (no new move starts; those under way go on to VERIFY_RESIZE
and wait), resumes it, or cancels it: no new move starts, the servers' moves not yet
confirmed are reverted (each server stays where it was; a volume's move under way
completes), and the pod gets back the state it had before.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from cascade.db import paging
from cascade.db.engine import now
from cascade.db.models import Drain, Job, Move, Pod, Routing
from cascade.jobs import queue
from cascade.jobs.registry import JobContext, handler
from cascade.pods import volume as pod_volume
from cascade.pods.client import PodUnavailable
from cascade.pods.compute import Caller, call
from cascade.services import drain_release, scheduling
from cascade.services.compute import moves
from cascade.services.compute.servers import SERVER
from cascade.services.volume import moves as volume_moves
from cascade.services.volume.volumes import VOLUME

JOB = "pod.drain"
RUNNING, PAUSED, CANCELLING = "running", "paused", "cancelling"
CANCELLED, DONE, INCOMPLETE = "cancelled", "done", "incomplete"
STATUSES = (RUNNING, PAUSED, CANCELLING, CANCELLED, DONE, INCOMPLETE)
ACTIVE_STATUSES = (RUNNING, PAUSED, CANCELLING)
IN_FLIGHT = 2  # moves a drain keeps under way at once
STEP = timedelta(seconds=2)
NOT_YET = "moving it between pods is not supported yet"


class DrainNotFound(Exception):
    pass


class DrainRefused(Exception):
    """The drain cannot start, or cannot change as asked (409)."""


MarkerNotFound = paging.MarkerNotFound
FILTERS: dict[str, InstrumentedAttribute[Any]] = {
    "pod_id": Drain.pod_id,
    "status": Drain.status,
}


async def get(db: AsyncSession, drain_id: str) -> Drain:
    return await paging.row(db, Drain, drain_id, DrainNotFound, "drain")


async def page(
    db: AsyncSession,
    filters: Mapping[str, str | None],
    limit: int,
    marker: str | None,
    newest_first: bool = False,
) -> list[Drain]:
    """Oldest (or newest) first, with the `FILTERS` given, after `marker`, at most `limit`."""
    return await paging.page_of(db, Drain, FILTERS, filters, marker, limit, newest_first)


async def moves_of(db: AsyncSession, drain_id: str) -> list[Move]:
    """The drain's moves, one per server or volume it moved or is moving, oldest first."""
    query = select(Move).where(Move.drain_id == drain_id).order_by(Move.created_at, Move.id)
    return list((await db.scalars(query)).all())


async def _targets(db: AsyncSession, pod: Pod, azs: list[str]) -> list[Pod]:
    """The pods of `azs` that take new resources now, other than `pod`."""
    found = (await db.scalars(select(Pod).where(Pod.az.in_(azs)))).all()
    return [p for p in found if p.id != pod.id and scheduling.usable(p)]


async def start(db: AsyncSession, pod_id: str, azs: list[str] | None) -> Drain:
    """A drain of the pod to the pods of `azs` (default: its AZ), queued; the pod draining."""
    pod = await paging.row(db, Pod, pod_id, DrainNotFound, "pod")
    if pod.state == "draining":
        raise DrainRefused(f"pod {pod.name} is draining already")
    wanted = list(dict.fromkeys(azs or [pod.az]))
    if not await _targets(db, pod, wanted):
        raise DrainRefused(
            f"no pod of availability zone(s) {', '.join(wanted)} other than {pod.name} takes "
            "new resources: there is nowhere to move its servers"
        )
    drain = Drain(
        id=str(uuid.uuid4()),
        pod_id=pod.id,
        status=RUNNING,
        azs=wanted,
        state_before=pod.state or "active",
        left=[],
        created_at=now(),
    )
    pod.state, pod.updated_at = "draining", now()
    db.add(drain)
    await queue.enqueue(db, JOB, drain.id, None, {})
    await db.commit()
    return drain


async def change(db: AsyncSession, drain_id: str, to: str) -> Drain:
    """Pause (`paused`), resume (`running`) or cancel (`cancelling`) a drain."""
    drain = await get(db, drain_id)
    allowed = {PAUSED: (RUNNING,), RUNNING: (PAUSED,), CANCELLING: (RUNNING, PAUSED)}
    if drain.status not in allowed[to]:
        raise DrainRefused(f"drain {drain_id} is {drain.status}: it cannot become {to}")
    drain.status, drain.updated_at = to, now()
    if to != PAUSED:
        await queue.enqueue(db, JOB, drain.id, None, {})
    await db.commit()
    return drain


# --- the job -----------------------------------------------------------------------------


@handler(JOB)
async def step(ctx: JobContext, job: Job) -> None:
    """One step of the drain (see the module's docstring); the next is queued while it
    goes on."""
    async with ctx.sessions() as db:
        drain = await db.get(Drain, job.resource_id)
        if drain is None or drain.status not in (RUNNING, CANCELLING):
            return
        pod = await db.get(Pod, drain.pod_id)
        if pod is None:
            drain.status, drain.updated_at = INCOMPLETE, now()
            drain.left = [*drain.left, {"reason": "the pod is no longer registered"}]
            await db.commit()
            return
        going = [m for m in await moves_of(db, drain.id) if m.status in moves.UNDER_WAY]
        for move in going:
            if move.status == moves.VERIFY:
                await moves.decide(db, move.top_id, confirm=drain.status == RUNNING)
        if drain.status == CANCELLING:
            await _cancel(db, drain, pod, going)
        else:
            await _run(ctx, db, drain, pod, going)
        if drain.status in (RUNNING, CANCELLING):
            await queue.enqueue(db, JOB, drain.id, None, {}, delay=STEP)
        drain.updated_at = now()
        await db.commit()


async def _cancel(db: AsyncSession, drain: Drain, pod: Pod, going: list[Move]) -> None:
    """Once no move of the drain is under way any more (each reverted at VERIFY_RESIZE, or
    confirmed before the cancel): cancelled, the pod's state given back."""
    if going:
        return
    drain.status = CANCELLED
    pod.state, pod.updated_at = drain.state_before, now()


async def _run(
    ctx: JobContext, db: AsyncSession, drain: Drain, pod: Pod, going: list[Move]
) -> None:
    left = {(e.get("resource_type"), e.get("top_id")) for e in drain.left}
    failed = [
        {
            "resource_type": m.resource_type,
            "top_id": m.top_id,
            "reason": f"its move failed: {m.error}",
        }
        for m in await moves_of(db, drain.id)
        if m.status == moves.FAILED and (m.resource_type, m.top_id) not in left
    ]
    drain.left = [*drain.left, *failed]
    left |= {(e["resource_type"], e["top_id"]) for e in failed}
    moving = {m.top_id for m in going}
    query = select(Routing).where(
        Routing.resource_type.in_(moves.MOVED_KINDS),
        Routing.pod_id == pod.id,
        Routing.status == "active",
    )
    waiting = [
        r
        for r in (await db.scalars(query.order_by(Routing.created_at))).all()
        if r.top_id not in moving and (r.resource_type, r.top_id) not in left
    ]
    # servers first: their volumes move with them (the volumes left then are the others)
    kinds = [m.resource_type for m in going] + [r.resource_type for r in waiting]
    startable = [r for r in waiting if r.resource_type == SERVER or SERVER not in kinds]
    room = IN_FLIGHT - len(going)
    for routing in startable[: max(room, 0)]:
        await _move(ctx, db, drain, pod, routing)
    if going or len(waiting) > max(room, 0):
        return
    if any(m.status in moves.UNDER_WAY for m in await moves_of(db, drain.id)):
        return  # moves started in this step
    drain.left = [*drain.left, *await _not_movable(db, pod)]
    # the copies made in the pod for what moved go too
    drain.left = [*drain.left, *await drain_release.release(ctx, db, pod, f"req-{drain.id}")]
    drain.status = DONE if not drain.left else INCOMPLETE
    pod.state, pod.updated_at = "maintenance", now()


async def _move(
    ctx: JobContext, db: AsyncSession, drain: Drain, pod: Pod, routing: Routing
) -> None:
    """A move of one server or volume of the pod to a pod of the drain's AZs, or a `left`
    entry."""
    reason = await _started(ctx, db, drain, pod, routing)
    if reason:
        entry = drain_release.entry(routing.resource_type, routing.top_id, reason)
        drain.left = [*drain.left, entry]


async def _started(
    ctx: JobContext, db: AsyncSession, drain: Drain, pod: Pod, routing: Routing
) -> str | None:
    """Why the server's (or volume's) move could not start (None: started, or to be
    tried again)."""
    targets = await _targets(db, pod, drain.azs)
    if not targets:
        return f"no pod of {', '.join(drain.azs)} takes new resources"
    # the pod the drain has sent the fewest objects to
    sent = select(Move.target_pod_id, func.count()).where(Move.drain_id == drain.id)
    counts = dict((await db.execute(sent.group_by(Move.target_pod_id))).all())
    target = min(targets, key=lambda p: (counts.get(p.id, 0), p.created_at))
    request_id = f"req-{drain.id}"
    try:
        if routing.resource_type == VOLUME:
            caller = pod_volume.Caller(None, volume_moves.READ_VERSION, request_id)
            await volume_moves.begin(db, ctx.pods, caller, routing, pod, target, drain.id)
            return None
        path = f"/servers/{routing.bottom_id or routing.top_id}"
        resp = await call(ctx.pods, pod, Caller(None, moves.READ_VERSION, request_id), "GET", path)
        # the ids of volumes moved into the pod as the top knows them
        kept = (await moves.of_pods(ctx.sessions, db, ctx.pods, [pod.id]))[pod.id]
        resp = moves.answer_from_pod(kept, resp)
        if resp.status_code == 404:
            return f"pod {pod.name} does not have it: its routing is stale (an audit reports it)"
        if resp.status_code != 200:
            return f"pod {pod.name} answered {resp.status_code} for it"
        await moves.start(db, routing, pod, target, resp.json()["server"], drain.id)
    except PodUnavailable:
        return None  # asked again at the next step
    except moves.MoveRefused as exc:
        return str(exc)
    return None


async def _not_movable(db: AsyncSession, pod: Pod) -> list[dict[str, Any]]:
    """The pod's routed objects of the kinds no drain moves yet, one entry per kind."""
    query = (
        select(Routing.resource_type, func.count())
        .where(
            Routing.pod_id == pod.id,
            Routing.status == "active",
            Routing.resource_type.in_(UNMOVABLE),
        )
        .group_by(Routing.resource_type)
    )
    return [
        {"resource_type": kind, "count": int(count), "reason": NOT_YET}
        for kind, count in (await db.execute(query)).all()
    ]


# the routed kinds a drain cannot move yet: Cinder's but volumes, and server groups
UNMOVABLE = ("snapshot", "backup", "group", "group_snapshot", "server_group")

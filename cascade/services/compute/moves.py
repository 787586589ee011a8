"""Servers moved between pods: the moves, as the API asks for them and shows them (no HTTP
types here; the work itself is the `server.move` job, `move_job.py`).

An admin moves a server with Nova's own `migrate` action naming a host of another pod
(`<host>@<pod>`, as hosts are named at the top, or the pod's name alone). What Nova
does for a move across cells, Cascade does across pods: the server shows `RESIZE`
while it is made again in the target pod (the source stopped, an image of it taken,
booted there with the same flavor, keypair and ports: the same addresses and MACs),
then `VERIFY_RESIZE`; `confirmResize` deletes the source, `revertResize` the target
(the source is started again). The server keeps its top id: once a move is confirmed
the routing names the target pod and the target's own id there (`alias`), and the
top translates between the two on every call. The source is never deleted before
the target is ACTIVE and an admin confirmed; a failure at any step leaves the server
where it was (started again if it was running) with the failure in the move's
`error`.

Refused (409) before anything is done: a server with volumes attached (they would
have to move with it), one in another move, one neither ACTIVE nor SHUTOFF, a
target pod that takes no new resources.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from cascade.db import paging
from cascade.db.engine import now
from cascade.db.models import Move, Pod, Routing
from cascade.jobs import queue
from cascade.pods.registry import PodRegistry
from cascade.services.compute.servers import SERVER
from cascade.services.remembered import Remembered

JOB = "server.move"
READ_VERSION = "2.46"  # a server as a move reads it: the last that names its flavor by id
QUEUED, SNAPSHOTTING, BOOTING, VERIFY = "queued", "snapshotting", "booting", "verify"
CONFIRMING, REVERTING = "confirming", "reverting"
DONE, REVERTED, FAILED = "done", "reverted", "failed"
UNDER_WAY = (QUEUED, SNAPSHOTTING, BOOTING, VERIFY, CONFIRMING, REVERTING)
FINISHED = (DONE, REVERTED, FAILED)
# how the top shows a server under way: (status, task state, vm state)
SHOWN = {
    QUEUED: ("RESIZE", "resize_prep", "active"),
    SNAPSHOTTING: ("RESIZE", "resize_migrating", "active"),
    BOOTING: ("RESIZE", "resize_migrated", "active"),
    VERIFY: ("VERIFY_RESIZE", None, "resized"),
    CONFIRMING: ("VERIFY_RESIZE", "resize_confirming", "resized"),
    REVERTING: ("REVERT_RESIZE", "resize_reverting", "resized"),
}


class MoveNotFound(Exception):
    pass


MarkerNotFound = paging.MarkerNotFound
# what the admin API's list filters on (equality)
FILTERS: dict[str, InstrumentedAttribute[Any]] = {
    "status": Move.status,
    "drain_id": Move.drain_id,
    "top_id": Move.top_id,
    "project_id": Move.project_id,
    "source_pod_id": Move.source_pod_id,
    "target_pod_id": Move.target_pod_id,
}


async def get(db: AsyncSession, move_id: str) -> Move:
    return await paging.row(db, Move, move_id, MoveNotFound, "move")


async def page(
    db: AsyncSession, filters: Mapping[str, str | None], limit: int, marker: str | None
) -> list[Move]:
    """Oldest first, with the `FILTERS` given, after `marker`, at most `limit`."""
    return await paging.page_of(db, Move, FILTERS, filters, marker, limit)


class MoveRefused(Exception):
    """The move cannot start (or be confirmed, or reverted): Nova's 409 with this message."""


async def under_way(db: AsyncSession, server_id: str) -> Move | None:
    """The server's move that has not finished, if any."""
    query = select(Move).where(
        Move.resource_type == SERVER, Move.top_id == server_id, Move.status.in_(UNDER_WAY)
    )
    found: Move | None = await db.scalar(query)
    return found


async def start(
    db: AsyncSession,
    routing: Routing,
    source: Pod,
    target: Pod,
    shown: dict[str, Any],
    drain_id: str | None = None,
) -> Move:
    """A move of the routed server (as its pod `shown` it, at 2.46 or later) to `target`,
    queued with its job; MoveRefused for what Nova would refuse."""
    server_id = routing.top_id
    if target.id == source.id:
        raise MoveRefused(f"Server {server_id} is in pod {source.name} already.")
    if not target.takes_new:
        raise MoveRefused(f"Pod {target.name} takes no new resources (state {target.state}).")
    attached = [str(v.get("id")) for v in shown.get("os-extended-volumes:volumes_attached", [])]
    if attached:
        raise MoveRefused(
            f"Server {server_id} has volumes attached ({', '.join(attached)}): detach them "
            "before it moves to another pod."
        )
    status = shown.get("status")
    if status not in ("ACTIVE", "SHUTOFF") or shown.get("OS-EXT-STS:task_state"):
        raise MoveRefused(
            f"Cannot 'migrate' instance {server_id} while it is in vm_state "
            f"{shown.get('OS-EXT-STS:vm_state')} (status {status})."
        )
    if await under_way(db, server_id) is not None:
        raise MoveRefused(f"Server {server_id} is moving to another pod already.")
    move = Move(
        id=str(uuid.uuid4()),
        resource_type=SERVER,
        top_id=server_id,
        project_id=routing.project_id,
        user_id=str(shown.get("user_id", "")),
        source_pod_id=source.id,
        source_bottom_id=routing.bottom_id or server_id,
        target_pod_id=target.id,
        status=QUEUED,
        source={"running": status == "ACTIVE"},
        drain_id=drain_id,
        created_at=now(),
    )
    db.add(move)
    await queue.enqueue(db, JOB, move.id, routing.project_id, {})
    await db.commit()
    return move


async def decide(db: AsyncSession, server_id: str, confirm: bool) -> Move:
    """`confirmResize` (or `revertResize`) of a server whose move waits for it: the job
    carries it out."""
    move = await under_way(db, server_id)
    action = "confirmResize" if confirm else "revertResize"
    if move is None or move.status != VERIFY:
        raise MoveRefused(
            f"Cannot '{action}' instance {server_id} while it is not in VERIFY_RESIZE."
        )
    move.status = CONFIRMING if confirm else REVERTING
    move.updated_at = now()
    await queue.enqueue(db, JOB, move.id, move.project_id, {})
    await db.commit()
    return move


@dataclass(frozen=True)
class PodMoves:
    """What a pod's answers need of the moves: servers leaving it (top id -> the move's
    status, shown as Nova shows a resize), servers moved into it (its id -> top id),
    targets of moves still under way (its ids, not shown: the top shows the source until
    the move is confirmed), and the images those targets boot from (a server booted from
    one is a target whose id the top may not know yet: not shown either)."""

    leaving: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    hidden: frozenset[str] = frozenset()
    images: frozenset[str] = frozenset()

    def pod_id(self, top_id: str) -> str:
        """A server's id in this pod, from its top id."""
        for bottom, top in self.aliases.items():
            if top == top_id:
                return bottom
        return top_id

    def translated(self, text: str) -> str:
        """A pod's answer with its ids of moved servers replaced by their top ids."""
        for bottom, top in self.aliases.items():
            text = text.replace(bottom, top)
        return text

    def shown(self, server: dict[str, Any]) -> bool:
        """Whether a server the pod lists (ids translated) is one the top shows."""
        server_id = str(server.get("id"))
        if server_id in self.hidden:
            return False
        image = server.get("image")
        image_id = image.get("id") if isinstance(image, dict) else None
        return image_id not in self.images or server_id in self.aliases.values()

    def overlay(self, server: dict[str, Any]) -> None:
        """A server under way shown as Nova shows a resize (status, task and vm state)."""
        status = self.leaving.get(str(server.get("id")))
        if status is None:
            return
        shown, task, vm = SHOWN[status]
        server["status"] = shown
        if "OS-EXT-STS:task_state" in server:
            server["OS-EXT-STS:task_state"] = task
            server["OS-EXT-STS:vm_state"] = vm


NONE = PodMoves()
FRESH_SECONDS = 2.0
STALE_SECONDS = 60.0


class MovesKept(Remembered[str, PodMoves]):
    """Pod id -> its `PodMoves`, kept per process (`Remembered`: every answer of a pod
    needs them; moves are rare and the value is at most one request behind)."""

    def __init__(self) -> None:
        super().__init__(FRESH_SECONDS, STALE_SECONDS)


async def of_pods(
    sessions: async_sessionmaker[AsyncSession],
    db: AsyncSession | None,
    registry: PodRegistry,
    pod_ids: Iterable[str],
) -> dict[str, PodMoves]:
    """`PodMoves` of each pod: fresh ones as kept, the others read in one go (on `db`, or
    a session of its own) and kept."""

    async def read(missing: list[str]) -> dict[str, PodMoves]:
        if db is not None:
            return await _read(db, missing)
        async with sessions() as own:
            return await _read(own, missing)

    return await registry.cache(MovesKept).many(pod_ids, read, NONE)


async def _read(db: AsyncSession, pod_ids: list[str]) -> dict[str, PodMoves]:
    touching = (Move.source_pod_id.in_(pod_ids)) | (Move.target_pod_id.in_(pod_ids))
    query = select(Move).where(
        Move.resource_type == SERVER, touching, Move.status.in_((*UNDER_WAY, DONE))
    )
    moves = list((await db.scalars(query)).all())
    if not moves:
        return {}
    # a move confirmed has (or is about to have) its routing on the target: once it has,
    # the target is the server and what is left of the source is not shown
    done = [m for m in moves if m.status in (DONE, CONFIRMING)]
    current: set[tuple[str, str | None]] = set()
    if done:
        routed = select(Routing.pod_id, Routing.bottom_id).where(
            Routing.resource_type == SERVER, Routing.top_id.in_({m.top_id for m in done})
        )
        current = {(p, b) for p, b in (await db.execute(routed)).all()}
    leaving: dict[str, dict[str, str]] = {}
    aliases: dict[str, dict[str, str]] = {}
    hidden: dict[str, set[str]] = {}
    images: dict[str, set[str]] = {}
    for move in moves:
        if (move.target_pod_id, move.target_bottom_id) in current:
            aliases.setdefault(move.target_pod_id, {})[str(move.target_bottom_id)] = move.top_id
            hidden.setdefault(move.source_pod_id, set()).add(move.source_bottom_id)
            continue
        if move.status == DONE:
            continue
        leaving.setdefault(move.source_pod_id, {})[move.top_id] = move.status
        if move.target_bottom_id:
            hidden.setdefault(move.target_pod_id, set()).add(move.target_bottom_id)
        if move.image_id:
            images.setdefault(move.target_pod_id, set()).add(move.image_id)
    return {
        pod_id: PodMoves(
            leaving.get(pod_id, {}),
            aliases.get(pod_id, {}),
            frozenset(hidden.get(pod_id, ())),
            frozenset(images.get(pod_id, ())),
        )
        for pod_id in pod_ids
        if pod_id in {*leaving, *aliases, *hidden, *images}
    }


def forget(registry: PodRegistry, *pod_ids: str) -> None:
    """This process reads the pods' moves again at their next use (a move changed)."""
    kept = registry.cache(MovesKept)
    for pod_id in pod_ids:
        kept.forget(pod_id)

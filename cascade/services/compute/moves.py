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

A server's attached volumes move with it (`move_volumes.py`). Refused (409) before
anything is done: a server that boots from a volume, one in another move, one
neither ACTIVE nor SHUTOFF, a target pod that takes no new resources.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from cascade.db import paging
from cascade.db.engine import now
from cascade.db.models import Move, Pod, Routing
from cascade.jobs import queue
from cascade.pods.identities import independent
from cascade.pods.registry import PodRegistry
from cascade.services.compute.servers import SERVER
from cascade.services.remembered import Remembered
from cascade.services.volume.volumes import VOLUME

JOB = "server.move"
READ_VERSION = "2.46"  # a server as a move reads it: the last that names its flavor by id
QUEUED, SNAPSHOTTING, BOOTING, VERIFY = "queued", "snapshotting", "booting", "verify"
CONFIRMING, REVERTING = "confirming", "reverting"
UPLOADING, COPYING = "uploading", "copying"  # a volume's (`services/volume/moves.py`)
DONE, REVERTED, FAILED = "done", "reverted", "failed"
UNDER_WAY = (QUEUED, SNAPSHOTTING, BOOTING, VERIFY, CONFIRMING, REVERTING, UPLOADING, COPYING)
MOVED_KINDS = (SERVER, VOLUME)  # what moves between pods, each under its top id
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
    db: AsyncSession,
    filters: Mapping[str, str | None],
    limit: int,
    marker: str | None,
    newest_first: bool = False,
) -> list[Move]:
    """Oldest (or newest) first, with the `FILTERS` given, after `marker`, at most `limit`."""
    return await paging.page_of(db, Move, FILTERS, filters, marker, limit, newest_first)


class MoveRefused(Exception):
    """The move cannot start (or be confirmed, or reverted): Nova's 409 with this message."""


async def under_way(db: AsyncSession, top_id: str, kind: str = SERVER) -> Move | None:
    """The server's (or other `kind`'s) move that has not finished, if any."""
    query = select(Move).where(
        Move.resource_type == kind, Move.top_id == top_id, Move.status.in_(UNDER_WAY)
    )
    found: Move | None = await db.scalar(query)
    return found


def check_target(what: str, source: Pod, target: Pod) -> None:
    """MoveRefused when `what` (a server or volume, named) cannot move to `target`: it is
    its pod already, or the pod takes nothing new."""
    if target.id == source.id:
        raise MoveRefused(f"{what} is in pod {source.name} already.")
    if not target.takes_new:
        raise MoveRefused(f"Pod {target.name} takes no new resources (state {target.state}).")
    if independent(source) or independent(target):
        # a move goes through an image of the source pod's Glance, which an independent
        # pod does not share (its copies between Glances are for top images only)
        raise MoveRefused(
            f"{what} cannot move between pods {source.name} and {target.name}: moves to or "
            "from a pod with a Keystone and Glance of its own are not supported yet."
        )


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
    check_target(f"Server {server_id}", source, target)
    attached = [str(v.get("id")) for v in shown.get("os-extended-volumes:volumes_attached") or []]
    if attached and not shown.get("image"):  # its root disk is a volume, not imaged
        raise MoveRefused(
            f"Server {server_id} boots from a volume ({', '.join(attached)}): it cannot move "
            "to another pod."
        )
    status = shown.get("status")
    if status not in ("ACTIVE", "SHUTOFF") or shown.get("OS-EXT-STS:task_state"):
        raise MoveRefused(
            f"Cannot 'migrate' instance {server_id} while it is in vm_state "
            f"{shown.get('OS-EXT-STS:vm_state')} (status {status})."
        )
    if await under_way(db, server_id) is not None:
        raise MoveRefused(f"Server {server_id} is moving to another pod already.")
    learnt = {"running": status == "ACTIVE", "volumes": attached}
    return await queued(db, JOB, routing, source, target, shown, learnt, drain_id)


async def queued(
    db: AsyncSession,
    job: str,
    routing: Routing,
    source: Pod,
    target: Pod,
    shown: dict[str, Any],
    learnt: dict[str, Any],
    drain_id: str | None,
) -> Move:
    """The move of the routed object (its pod `shown` it) to `target`, recorded and
    queued with its `job` (what the move knows of the source from the start: `learnt`)."""
    move = Move(
        id=str(uuid.uuid4()),
        resource_type=routing.resource_type,
        top_id=routing.top_id,
        project_id=routing.project_id,
        user_id=str(shown.get("user_id", "")),
        source_pod_id=source.id,
        source_bottom_id=routing.bottom_id or routing.top_id,
        target_pod_id=target.id,
        status=QUEUED,
        source=learnt,
        drain_id=drain_id,
        created_at=now(),
    )
    db.add(move)
    await queue.enqueue(db, job, move.id, routing.project_id, {})
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
    """What a pod's answers need of the moves (servers' and volumes': ids are UUIDs, one
    map serves both): objects leaving it (top id -> the move's status, a server shown as
    Nova shows a resize, a volume as Cinder shows a migration), objects moved into it (its
    id -> top id), targets of moves still under way (its ids, not shown: the top shows
    the source until the move is confirmed), and the images those targets are made from
    (a server booted, or a volume made, from one is a target whose id the top may not
    know yet: not shown either). A moved object shows what it was made with (`source`:
    top id -> its user and creation time), not what the move made it with."""

    leaving: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    hidden: frozenset[str] = frozenset()
    images: frozenset[str] = frozenset()
    source: dict[str, dict[str, Any]] = field(default_factory=dict)
    completing: frozenset[str] = frozenset()  # moved here, what is left of the source going

    def pod_id(self, top_id: str) -> str:
        """A server's id in this pod, from its top id."""
        for bottom, top in self.aliases.items():
            if top == top_id:
                return bottom
        return top_id

    def translated(self, text: str) -> str:
        """A pod's answer with its ids of moved objects replaced by their top ids."""
        for bottom, top in self.aliases.items():
            text = text.replace(bottom, top)
        return text

    def to_pod(self, text: str) -> str:
        """A request to the pod with the top ids of objects moved into it replaced by the
        pod's own ids (in a path, a query or a body: a volume attached by its top id)."""
        for bottom, top in self.aliases.items():
            text = text.replace(top, bottom)
        return text

    def shown(self, item: dict[str, Any]) -> bool:
        """Whether a server or volume the pod lists (ids translated) is one the top shows."""
        item_id = str(item.get("id"))
        if item_id in self.aliases.values():  # moved here (perhaps back where it was)
            return True
        if item_id in self.hidden:
            return False
        image = item.get("image") or item.get("volume_image_metadata")
        image_id = (image.get("id") or image.get("image_id")) if isinstance(image, dict) else None
        return image_id not in self.images

    def _as_made(self, item: dict[str, Any]) -> None:
        """A moved object's fields as they were before it moved (those it shows)."""
        for key, value in self.source.get(str(item.get("id")), {}).items():
            if key in item and value is not None:
                item[key] = value

    def overlay(self, server: dict[str, Any]) -> None:
        """A server under way shown as Nova shows a resize (status, task and vm state); a
        moved one as it was made."""
        self._as_made(server)
        status = self.leaving.get(str(server.get("id")))
        if status is None or status not in SHOWN:
            return
        shown, task, vm = SHOWN[status]
        server["status"] = shown
        if "OS-EXT-STS:task_state" in server:
            server["OS-EXT-STS:task_state"] = task
            server["OS-EXT-STS:vm_state"] = vm

    def overlay_volume(self, volume: dict[str, Any]) -> None:
        """A volume under way shown as Cinder shows a migration (`migration_status`, the
        admin's field, `migrating`; `completing` while the source is deleted, `success` once
        moved), a moved one as it was made."""
        self._as_made(volume)
        volume_id = str(volume.get("id"))
        status = "migrating" if volume_id in self.leaving else None
        if status is None and volume_id in self.aliases.values():
            status = "completing" if volume_id in self.completing else "success"
        for key in ("migration_status", "os-vol-mig-status-attr:migstat"):
            if key in volume and status is not None:
                volume[key] = status


NONE = PodMoves()


def request_to_pod(
    kept: PodMoves, path: str, options: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """A call to the pod (`path` and httpx's `content`, `json`, `params`) with the top ids
    of objects moved into it replaced by the pod's own (`PodMoves.to_pod`)."""
    if not kept.aliases:
        return path, options
    changed = dict(options)
    content = changed.get("content")
    if isinstance(content, bytes):
        changed["content"] = kept.to_pod(content.decode()).encode()
    if changed.get("json") is not None:
        changed["json"] = json.loads(kept.to_pod(json.dumps(changed["json"])))
    params = changed.get("params")
    if isinstance(params, dict):
        changed["params"] = {k: kept.to_pod(str(v)) for k, v in params.items()}
    elif isinstance(params, list):
        changed["params"] = [(k, kept.to_pod(str(v))) for k, v in params]
    return kept.to_pod(path), changed


def answer_from_pod(kept: PodMoves, resp: httpx.Response) -> httpx.Response:
    """The pod's answer with its ids of objects moved into it replaced by their top ids
    (`PodMoves.translated`), in the body and the Location."""
    location = resp.headers.get("location", "")
    if not any(b in resp.text or b in location for b in kept.aliases):
        return resp
    # the body is decoded already: the new answer carries it plain
    headers = [
        (k, kept.translated(v) if k.lower() == "location" else v)
        for k, v in resp.headers.items()
        if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
    ]
    try:
        request: httpx.Request | None = resp.request
    except RuntimeError:  # an answer made up in a test has none
        request = None
    return httpx.Response(
        resp.status_code,
        headers=headers,
        content=kept.translated(resp.text).encode(),
        request=request,
    )


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
        Move.resource_type.in_(MOVED_KINDS), touching, Move.status.in_((*UNDER_WAY, DONE))
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
            Routing.resource_type.in_(MOVED_KINDS), Routing.top_id.in_({m.top_id for m in done})
        )
        current = {(p, b) for p, b in (await db.execute(routed)).all()}
    leaving: dict[str, dict[str, str]] = {}
    aliases: dict[str, dict[str, str]] = {}
    hidden: dict[str, set[str]] = {}
    images: dict[str, set[str]] = {}
    source: dict[str, dict[str, dict[str, Any]]] = {}
    completing: dict[str, set[str]] = {}
    for move in moves:
        if (move.target_pod_id, move.target_bottom_id) in current:
            aliases.setdefault(move.target_pod_id, {})[str(move.target_bottom_id)] = move.top_id
            if move.status == CONFIRMING:
                completing.setdefault(move.target_pod_id, set()).add(move.top_id)
            made = {k: move.source.get(k) for k in ("created", "created_at")}
            source.setdefault(move.target_pod_id, {})[move.top_id] = {
                "user_id": move.user_id or None,
                **made,
            }
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
            source.get(pod_id, {}),
            frozenset(completing.get(pod_id, ())),
        )
        for pod_id in pod_ids
        if pod_id in {*leaving, *aliases, *hidden, *images}
    }


def forget(registry: PodRegistry, *pod_ids: str) -> None:
    """This process reads the pods' moves again at their next use (a move changed)."""
    kept = registry.cache(MovesKept)
    for pod_id in pod_ids:
        kept.forget(pod_id)

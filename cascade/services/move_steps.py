"""What every move between pods does, whatever moves (a server: `compute/move_job.py`, a
volume: `volume/move_job.py`): the job's run, carried on from the move's status; steps
that wait for a pod without holding a worker; the move's row kept up to date; the
image the data travels in.

A step that waits raises `Later`: the run ends and the job is queued again in
POLL_SECONDS, so a move never holds a worker while a pod works. Once a move has
waited WAIT_SECONDS since its last step it fails for good (`MoveFailed`) and is rolled
back. A pod that does not answer fails the attempt (the queue tries again later),
never the move.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import httpx

from cascade.db.engine import now
from cascade.db.models import Job, Move, Pod
from cascade.jobs import queue
from cascade.jobs.registry import JobContext
from cascade.pods import calls, client
from cascade.pods.compute import Caller
from cascade.services.compute import moves

C = TypeVar("C", bound=client.Caller)

LOG = logging.getLogger(__name__)
WAIT_SECONDS = 300.0
POLL_SECONDS = 0.5


class MoveFailed(Exception):
    """A step failed for good: the move is rolled back."""


class Later(Exception):
    """A step waits for a pod: the job is queued again and this run ends."""


class Steps:
    """A move's run: what it calls, what it saves, how it waits. Subclasses carry the
    move on from its status (`carry_on`)."""

    def __init__(self, ctx: JobContext, move: Move, source: Pod, target: Pod) -> None:
        self.ctx, self.move, self.source, self.target = ctx, move, source, target
        self.request_id = f"req-{move.id}"

    async def carry_on(self) -> None:
        raise NotImplementedError

    async def token(self) -> str:
        """A token of the moved object's project (the service user given a role in it)."""
        return await self.ctx.pods.validator.project_token(self.move.project_id)

    async def glance(self, method: str, path: str) -> httpx.Response:
        base = (await self.ctx.pods.endpoint(self.source, "image")).rstrip("/")
        caller = self.caller(Caller, await self.token(), moves.READ_VERSION)
        return await calls.pod_request(
            self.ctx.pods,
            self.source,
            "image",
            method,
            f"{base}/v2{path}",
            caller.headers(),
            self.move.project_id,
        )

    def caller(self, kind: type[C], token: str, version: str) -> C:
        """A pod call's caller (`kind`: the API's) in the moved object's project."""
        return kind(token, version, self.request_id, self.move.project_id)

    async def save(self, **values: Any) -> None:
        async with self.ctx.sessions() as db:
            move = await db.get(Move, self.move.id)
            assert move is not None
            for key, value in {**values, "updated_at": now()}.items():
                setattr(move, key, value)
                setattr(self.move, key, value)
            await db.commit()
        moves.forget(self.ctx.pods, self.source.id, self.target.id)

    async def until(self, what: str, check: Callable[[], Awaitable[bool]]) -> None:
        """On when `check` holds; else `Later`, or MoveFailed once the move has waited
        WAIT_SECONDS since its last step."""
        if await check():
            return
        since = self.move.updated_at or self.move.created_at
        if (now() - since).total_seconds() > WAIT_SECONDS:
            raise MoveFailed(f"timed out waiting for {what}")
        raise Later(what)

    async def image_named(self, name: str) -> str | None:
        resp = await self.glance("GET", f"/images?name={name}")
        found = resp.json().get("images", []) if resp.status_code == 200 else []
        return str(found[0]["id"]) if found else None

    async def image_active(self) -> bool:
        resp = await self.glance("GET", f"/images/{self.move.image_id}")
        if resp.status_code != 200:
            raise MoveFailed(f"the move's image {self.move.image_id} is gone")
        status = resp.json().get("status")
        if status in ("killed", "deleted"):
            raise MoveFailed(f"the move's image {self.move.image_id} is {status}")
        return bool(status == "active")

    async def image_gone(self) -> None:
        if self.move.image_id:
            resp = await self.glance("DELETE", f"/images/{self.move.image_id}")
            if resp.status_code not in (204, 404):
                LOG.warning(
                    "move %s: image %s was not deleted (%s)",
                    self.move.id,
                    self.move.image_id,
                    resp.status_code,
                )


async def run(
    ctx: JobContext,
    job: Job,
    make: Callable[[JobContext, Move, Pod, Pod], Steps],
    waits_for_admin: tuple[str, ...] = (),
) -> None:
    """A move's job: carried on from its status (nothing to do once it finished, or while
    it waits for an admin in one of `waits_for_admin`); queued again when a step waits."""
    async with ctx.sessions() as db:
        move = await db.get(Move, job.resource_id)
        if move is None or move.status in moves.FINISHED or move.status in waits_for_admin:
            return
        source = await db.get(Pod, move.source_pod_id)
        target = await db.get(Pod, move.target_pod_id)
    if source is None or target is None:
        await finish(ctx, job.resource_id, moves.FAILED, "a pod of the move is gone")
        return
    try:
        await make(ctx, move, source, target).carry_on()
    except Later:
        async with ctx.sessions() as db:
            delay = timedelta(seconds=POLL_SECONDS)
            await queue.enqueue(db, job.type, move.id, move.project_id, {}, delay=delay)
            await db.commit()


async def finish(ctx: JobContext, move_id: str, status: str, error: str | None = None) -> None:
    async with ctx.sessions() as db:
        move = await db.get(Move, move_id)
        if move is not None:
            move.status, move.error, move.updated_at = status, error, now()
            await db.commit()
            moves.forget(ctx.pods, move.source_pod_id, move.target_pod_id)

"""A server's volumes carried along with its move between pods (`move_job.py`).

A server moves with the volumes attached to it (not one it boots from: its root disk
is the image the move takes). Once the source is stopped and imaged, each volume is
detached from it and moved to the target pod by its own `volume.move` (same top id;
`services/volume/moves.py`), and the server's move waits for them; the target, once
up, has them attached again in the order they were. A revert (or a roll-back) moves
them back to the source pod the same way and attaches them to the source again. A
volume that cannot move (snapshots, an error) fails the server's move, which is then
rolled back: the server runs where it was with its volumes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy import select

from cascade.db.models import Move, Pod, Routing
from cascade.pods import volume as pod_volume
from cascade.pods.compute import pod_message
from cascade.services.compute import moves
from cascade.services.move_steps import MoveFailed, Steps
from cascade.services.volume import moves as volume_moves
from cascade.services.volume.volumes import VOLUME

Nova = Callable[..., Awaitable[httpx.Response]]  # the server mover's call to a pod's Nova
FORWARD, BACK = "volume_moves", "volume_moves_back"  # where the volumes' moves are kept


class Carried:
    """The volumes of the move's server (top ids, `move.source["volumes"]`)."""

    def __init__(self, mover: Steps, nova: Nova) -> None:
        self.mover, self.nova = mover, nova
        self.pods = {mover.source.id: mover.source, mover.target.id: mover.target}

    @property
    def volumes(self) -> list[str]:
        return list(self.mover.move.source.get("volumes") or [])

    async def routing(self, volume_id: str) -> Routing:
        async with self.mover.ctx.sessions() as db:
            query = select(Routing).where(
                Routing.resource_type == VOLUME, Routing.top_id == volume_id
            )
            found = await db.scalar(query)
        if found is None or found.pod_id not in self.pods:
            raise MoveFailed(f"the server's volume {volume_id} is not in either pod of the move")
        return found

    async def cinder(self, pod: Pod, method: str, path: str, **options: Any) -> Any:
        token = await self.mover.token()
        caller = self.mover.caller(pod_volume.Caller, token, volume_moves.READ_VERSION)
        return await pod_volume.call(self.mover.ctx.pods, pod, caller, method, path, **options)

    async def status_is(self, routing: Routing, wanted: str) -> bool:
        pod = self.pods[routing.pod_id]
        resp = await self.cinder(pod, "GET", f"/volumes/{routing.bottom_id or routing.top_id}")
        if resp.status_code != 200:
            raise MoveFailed(f"volume {routing.top_id} is gone from pod {pod.name}")
        return bool(resp.json()["volume"].get("status") == wanted)

    async def gathered(self, to: Pod, key: str, server: str | None) -> None:
        """Each volume in pod `to`: detached from the server (`server`, its id in the
        pod the volume is in; None: it has none there any more), moved, waited for."""
        started: dict[str, str] = dict(self.mover.move.source.get(key) or {})
        for volume_id in self.volumes:
            routing = await self.routing(volume_id)
            if volume_id in started or routing.pod_id == to.id:
                continue
            pod = self.pods[routing.pod_id]
            pod_id = routing.bottom_id or routing.top_id
            if server is not None:
                path = f"/servers/{server}/os-volume_attachments/{pod_id}"
                resp = await self.nova(pod, "DELETE", path)
                if resp.status_code not in (202, 404):
                    raise MoveFailed(f"the detach of volume {volume_id}: {pod_message(resp)}")
            await self.mover.until(
                f"volume {volume_id} to be detached", self.becomes(routing, "available")
            )
            caller = self.mover.caller(
                pod_volume.Caller, await self.mover.token(), volume_moves.READ_VERSION
            )
            async with self.mover.ctx.sessions() as db:
                routing = await db.merge(routing)
                try:
                    move = await volume_moves.begin(
                        db, self.mover.ctx.pods, caller, routing, pod, to, self.mover.move.drain_id
                    )
                except volume_moves.MoveRefused as exc:
                    raise MoveFailed(f"volume {volume_id} cannot move: {exc}") from exc
            started[volume_id] = move.id
            await self.mover.save(source={**self.mover.move.source, key: started})
            moves.forget(self.mover.ctx.pods, *self.pods)
        await self.mover.until("the server's volumes to move", lambda: self.moved(started))

    async def moved(self, started: dict[str, str]) -> bool:
        """Whether the volumes' moves are done (MoveFailed when one failed)."""
        query = select(Move).where(Move.id.in_(list(started.values())))
        async with self.mover.ctx.sessions() as db:
            found = {m.id: m for m in (await db.scalars(query)).all()}
        for volume_id, move_id in started.items():
            move = found.get(move_id)
            if move is None or move.status == moves.FAILED:
                error = move.error if move is not None else "its move is gone"
                raise MoveFailed(f"volume {volume_id} could not move: {error}")
        return all(m.status == moves.DONE for m in found.values())

    async def attach(self, pod: Pod, server: str) -> None:
        """The volumes attached to the server `server` of `pod` (where they are now), in
        order; on once each is in use."""
        if not self.volumes:
            return
        resp = await self.nova(pod, "GET", f"/servers/{server}/os-volume_attachments")
        if resp.status_code != 200:
            raise MoveFailed(f"pod {pod.name} answered {resp.status_code} for the attachments")
        there = {str(a.get("volumeId")) for a in resp.json().get("volumeAttachments", [])}
        routings = [await self.routing(v) for v in self.volumes]
        for routing in routings:
            pod_id = routing.bottom_id or routing.top_id
            if routing.pod_id != pod.id:
                raise MoveFailed(f"volume {routing.top_id} is not in pod {pod.name}")
            if pod_id in there:
                continue
            body = {"volumeAttachment": {"volumeId": pod_id}}
            path = f"/servers/{server}/os-volume_attachments"
            made = await self.nova(pod, "POST", path, json=body)
            if made.status_code >= 400:
                raise MoveFailed(f"the attach of volume {routing.top_id}: {pod_message(made)}")
        for routing in routings:
            await self.mover.until(
                f"volume {routing.top_id} to be attached", self.becomes(routing, "in-use")
            )

    def becomes(self, routing: Routing, wanted: str) -> Callable[[], Awaitable[bool]]:
        """A check that the routed volume is `wanted` (a step's `until`)."""
        return lambda: self.status_is(routing, wanted)

"""The `volume.move` job: a volume made again in another pod from an image of it (see
`moves.py` for what an admin sees).

Each run carries the move on from its status (a worker that dies in the middle is
followed by one that finishes the step; waiting and retries: `move_steps`):

- `queued`: what the target needs of the source learnt (name, description, size,
  metadata, the top type, bootable): `uploading`;
- `uploading`: the source uploaded to an image (`cascade-move-<move id>`, in its
  project; one an earlier run made is found by that name), awaited active in the image
  service and the source available again: `copying`;
- `copying`: in the target pod, as the volume's project (`identity.project_token`), the
  top type's copy, a volume made from the image (named `cascade-move-<move id>` until
  it takes the source's place; one an earlier run made is found by that name), awaited
  available, bootable set as the source's: `confirming`;
- `confirming`: the target named as the source, the routing switched to it (pod and
  the pod's id: from here on the top shows the target), the source deleted and awaited
  gone, the image deleted: `done`. Never undone: a failure here is tried again.
- a step that fails for good: the target deleted, the image deleted, the volume where it
  was: `failed` (the reason in the move's `error`).
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from sqlalchemy import select

from cascade.db.engine import now
from cascade.db.models import Job, Pod, Routing, VolumeType
from cascade.jobs.registry import JobContext, handler
from cascade.pods import volume as pod_volume
from cascade.pods.compute import PodRefused, pod_message
from cascade.services import copies, move_steps
from cascade.services.compute import moves
from cascade.services.move_steps import MoveFailed, Steps
from cascade.services.route_cache import RouteCache
from cascade.services.volume import type_copies
from cascade.services.volume.moves import JOB, READ_VERSION
from cascade.services.volume.volumes import VOLUME

LOG = logging.getLogger(__name__)


@handler(JOB)
async def run(ctx: JobContext, job: Job) -> None:
    await move_steps.run(ctx, job, VolumeMover)


class VolumeMover(Steps):
    @property
    def name(self) -> str:
        """The move's image, and its target until it takes the source's place."""
        return f"cascade-move-{self.move.id}"

    async def carry_on(self) -> None:
        move = self.move
        if move.status == moves.CONFIRMING:
            try:
                await self.confirm()
            except MoveFailed as exc:  # never undone once the routing moved: tried again
                raise RuntimeError(f"confirming move {move.id}: {exc}") from exc
            return
        if move.status == moves.REVERTING:  # a failed move's roll-back, carried on
            await self.undo(move.error or "")
            return
        try:
            try:
                if move.status in (moves.QUEUED, moves.UPLOADING):
                    await self.upload()
                await self.copy()
            except PodRefused as exc:
                raise MoveFailed(str(exc)) from exc
        except MoveFailed as exc:
            LOG.warning("move %s of volume %s failed: %s", move.id, move.top_id, exc)
            await self.save(status=moves.REVERTING, error=str(exc))
            await self.undo(str(exc))

    # --- calls ------------------------------------------------------------------------

    async def cinder(self, pod: Pod, method: str, path: str, **options: Any) -> httpx.Response:
        caller = self.caller(pod_volume.Caller, await self.token(), READ_VERSION)
        return await pod_volume.call(self.ctx.pods, pod, caller, method, path, **options)

    async def volume(self, pod: Pod, volume_id: str) -> dict[str, Any] | None:
        resp = await self.cinder(pod, "GET", f"/volumes/{volume_id}")
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise MoveFailed(f"pod {pod.name} answered {resp.status_code}: {pod_message(resp)}")
        found: dict[str, Any] = resp.json()["volume"]
        return found

    async def status_is(self, pod: Pod, volume_id: str, wanted: str) -> bool:
        found = await self.volume(pod, volume_id)
        if found is None:
            raise MoveFailed(f"volume {volume_id} is gone from pod {pod.name}")
        if str(found.get("status", "")).startswith("error"):
            raise MoveFailed(f"volume {volume_id} went to {found['status']} in pod {pod.name}")
        return found.get("status") == wanted

    async def gone(self, pod: Pod, volume_id: str) -> bool:
        return await self.volume(pod, volume_id) is None

    async def named(self, pod: Pod, name: str) -> str | None:
        """The id of the pod's volume named `name` (one an earlier run made), if any."""
        resp = await self.cinder(pod, "GET", "/volumes", params={"name": name})
        found = resp.json().get("volumes", []) if resp.status_code == 200 else []
        return str(found[0]["id"]) if found else None

    # --- forward ----------------------------------------------------------------------

    async def upload(self) -> None:
        src = self.move.source_bottom_id
        shown = await self.volume(self.source, src)
        if shown is None:
            raise MoveFailed(f"volume {self.move.top_id} is gone from pod {self.source.name}")
        if self.move.status == moves.QUEUED:
            await self.save(status=moves.UPLOADING, source=self.learn(shown))
        image_id = self.move.image_id or await self.image_named(self.name)
        if image_id is None:
            body = {
                "os-volume_upload_image": {
                    "image_name": self.name,
                    "force": False,
                    "disk_format": "raw",
                    "container_format": "bare",
                }
            }
            resp = await self.cinder(self.source, "POST", f"/volumes/{src}/action", json=body)
            if resp.status_code >= 400:
                raise MoveFailed(f"the source's upload was refused: {pod_message(resp)}")
            image_id = str(resp.json()["os-volume_upload_image"]["image_id"])
        if image_id != self.move.image_id:
            await self.save(image_id=image_id)
        await self.until("the volume's image", self.image_active)
        await self.until(
            "the source to be available", lambda: self.status_is(self.source, src, "available")
        )
        await self.save(status=moves.COPYING)

    @staticmethod
    def learn(shown: dict[str, Any]) -> dict[str, Any]:
        """What the target needs of the source; its type as the top's id when it is the
        copy of a top type (`cascade-<top id>`), else none (the target pod's default)."""
        vtype = str(shown.get("volume_type") or "")
        return {
            "name": shown.get("name"),
            "description": shown.get("description"),
            "size": shown.get("size"),
            "metadata": shown.get("metadata") or {},
            "bootable": str(shown.get("bootable", "false")).lower() == "true",
            "created_at": shown.get("created_at"),
            "image_metadata": shown.get("volume_image_metadata") or {},
            "type": vtype.removeprefix(copies.PREFIX) if vtype.startswith(copies.PREFIX) else None,
        }

    async def copy(self) -> None:
        learnt = self.move.source
        target = self.move.target_bottom_id or await self.named(self.target, self.name)
        if target is None:
            body = {"volume": await self.create_body(learnt)}
            resp = await self.cinder(self.target, "POST", "/volumes", json=body)
            if resp.status_code >= 400:
                raise MoveFailed(f"pod {self.target.name} refused the volume: {pod_message(resp)}")
            target = str(resp.json()["volume"]["id"])
        if target != self.move.target_bottom_id:
            await self.save(target_bottom_id=target)
        await self.until(
            "the volume in the target pod",
            lambda: self.status_is(self.target, target, "available"),
        )
        await self.as_source(target, learnt)
        await self.save(status=moves.CONFIRMING)
        await self.confirm()

    async def as_source(self, target: str, learnt: dict[str, Any]) -> None:
        """The target made like the source where its making from an image differs: not
        bootable unless the source was, the source's image metadata (none, for a volume
        not made from an image) rather than the move's image's."""
        actions: list[dict[str, Any]] = []
        if not learnt.get("bootable"):
            actions.append({"os-set_bootable": {"bootable": False}})
        shown = await self.volume(self.target, target) or {}
        wanted: dict[str, Any] = learnt.get("image_metadata") or {}
        for key in shown.get("volume_image_metadata") or {}:
            if key not in wanted:
                actions.append({"os-unset_image_metadata": {"key": key}})
        if wanted:
            actions.append({"os-set_image_metadata": {"metadata": wanted}})
        for body in actions:
            resp = await self.cinder(self.target, "POST", f"/volumes/{target}/action", json=body)
            if resp.status_code >= 400:
                name = next(iter(body))
                raise MoveFailed(f"pod {self.target.name} refused {name}: {pod_message(resp)}")

    async def create_body(self, learnt: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "size": learnt.get("size"),
            "imageRef": self.move.image_id,
            "metadata": learnt.get("metadata") or {},
            "availability_zone": self.target.pod_az,
        }
        if learnt.get("description"):
            body["description"] = learnt["description"]
        if learnt.get("type"):
            async with self.ctx.sessions() as db:
                top = await db.get(VolumeType, str(learnt["type"]))
                if top is None:
                    raise MoveFailed(f"the volume's type {learnt['type']} is gone from the top")
                try:
                    body["volume_type"] = await type_copies.ensure_in_pod(
                        db, self.ctx.pods, self.target, top, self.request_id
                    )
                except type_copies.TypeCopyFailed as exc:
                    raise MoveFailed(str(exc)) from exc
        return body

    # --- confirm, roll back -----------------------------------------------------------

    async def confirm(self) -> None:
        """The target takes the source's name and routing (a read meanwhile finds it
        there), then the source and the image go."""
        src, target = self.move.source_bottom_id, str(self.move.target_bottom_id)
        shown = await self.volume(self.target, target)
        if shown is not None and shown.get("name") != self.move.source.get("name"):
            body = {"volume": {"name": self.move.source.get("name")}}
            resp = await self.cinder(self.target, "PUT", f"/volumes/{target}", json=body)
            if resp.status_code >= 400:
                raise MoveFailed(f"pod {self.target.name} refused the target's name")
        async with self.ctx.sessions() as db:
            query = select(Routing).where(
                Routing.resource_type == VOLUME, Routing.top_id == self.move.top_id
            )
            routing = await db.scalar(query)
            if routing is not None:
                routing.pod_id, routing.bottom_id = self.target.id, target
                routing.status, routing.updated_at = "active", now()
            await db.commit()
        self.ctx.pods.cache(RouteCache).drop(VOLUME, self.move.top_id)
        moves.forget(self.ctx.pods, self.source.id, self.target.id)
        resp = await self.cinder(self.source, "DELETE", f"/volumes/{src}")
        if resp.status_code not in (202, 204, 404):
            raise MoveFailed(f"pod {self.source.name} refused the source's delete")
        await self.until("the source's delete", lambda: self.gone(self.source, src))
        await self.image_gone()
        await self.save(status=moves.DONE)

    async def undo(self, error: str) -> None:
        target = self.move.target_bottom_id or await self.named(self.target, self.name)
        if target:
            resp = await self.cinder(self.target, "DELETE", f"/volumes/{target}")
            if resp.status_code not in (202, 204, 404):
                raise MoveFailed(f"pod {self.target.name} refused the target's delete")
            await self.until("the target's delete", lambda: self.gone(self.target, target))
        await self.image_gone()
        await move_steps.finish(self.ctx, self.move.id, moves.FAILED, error)

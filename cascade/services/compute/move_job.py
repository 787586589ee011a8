"""The `server.move` job: a server made again in another pod, then confirmed or reverted
(see `moves.py` for what an admin sees).

Each run carries the move on from its status, so a worker that dies in the middle is
followed by one that finishes the step (the job's lease runs out, another worker
claims it):

- `queued`/`snapshotting`: the source stopped (if it runs), an image of it taken
  (`cascade-move-<move id>`; one made by an earlier run is found by that name) and
  awaited in the image service;
- `booting`: in the target pod, as the server's project (`identity.project_token`),
  the flavor's and keypair's copies, the server's top ports materialised (same
  addresses and MACs), the server booted from the image (one an earlier run booted is
  found by its image), awaited ACTIVE (stopped again if the source was stopped):
  `verify`;
- `confirming` (an admin's `confirmResize`): the source deleted, its port copies
  removed, the routing moved to the target (pod and id), the image deleted, the
  floating IPs of its ports brought to their new place: `done`;
- `reverting` (`revertResize`), or a step that fails for good: the target deleted with
  its port copies, the source started again if it ran, the image deleted: `reverted`
  (or `failed`, the reason in the move's `error`).

How a step waits, and what a pod that does not answer does: `move_steps`.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.engine import now
from cascade.db.models import Job, Keypair, NetResource, Pod, Routing
from cascade.jobs import queue
from cascade.jobs.registry import JobContext, handler
from cascade.pods.compute import Caller, PodRefused, call, pod_message
from cascade.pods.network import PodNeutron
from cascade.services import move_steps, routings
from cascade.services.compute import flavor_copies, move_volumes, moves
from cascade.services.compute.flavors import RETIRED
from cascade.services.compute.move_volumes import Carried
from cascade.services.compute.servers import SERVER
from cascade.services.move_steps import MoveFailed, Steps
from cascade.services.network import floatingip_pods, floatingips, materialise, store
from cascade.services.network.errors import NeutronError
from cascade.services.route_cache import RouteCache

LOG = logging.getLogger(__name__)
READ_VERSION = moves.READ_VERSION
MAKE_VERSION = "2.52"  # tags in a create


@handler(moves.JOB)
async def run(ctx: JobContext, job: Job) -> None:
    await move_steps.run(ctx, job, Mover, waits_for_admin=(moves.VERIFY,))


class Mover(Steps):
    async def carry_on(self) -> None:
        move = self.move
        if move.status == moves.CONFIRMING:
            try:
                await self.confirm()
            except MoveFailed as exc:  # never undone once confirmed: tried again later
                raise RuntimeError(f"confirming move {move.id}: {exc}") from exc
        elif move.status == moves.REVERTING:  # asked for, or a failed move's roll-back
            await self.undo(moves.FAILED if move.error else moves.REVERTED, move.error)
        else:
            try:
                try:
                    await self.forward()
                except (PodRefused, NeutronError) as exc:  # a pod's (or the top's) refusal
                    raise MoveFailed(str(exc)) from exc
            except MoveFailed as exc:
                LOG.warning("move %s of server %s failed: %s", move.id, move.top_id, exc)
                await self.save(status=moves.REVERTING, error=str(exc))
                await self.undo(moves.FAILED, str(exc))

    # --- calls ------------------------------------------------------------------------

    async def nova(
        self, pod: Pod, method: str, path: str, version: str = READ_VERSION, **options: Any
    ) -> httpx.Response:
        caller = self.caller(Caller, await self.token(), version)
        return await call(self.ctx.pods, pod, caller, method, path, **options)

    async def settled(self, what: str, pod: Pod, server_id: str, want: str) -> None:
        """On once the server is `want` (ACTIVE or SHUTOFF) with no task; a server steady
        in the other state is started or stopped first."""
        found = await self.server(pod, server_id)
        if found is None:
            raise MoveFailed(f"server {server_id} is gone from pod {pod.name}")
        steady = found.get("status") in ("ACTIVE", "SHUTOFF") and not found.get(
            "OS-EXT-STS:task_state"
        )
        if steady and found.get("status") != want:
            turn = "os-start" if want == "ACTIVE" else "os-stop"
            await self.action(pod, server_id, {turn: None})
        await self.until(what, lambda: self.status_is(pod, server_id, want))

    async def server(self, pod: Pod, server_id: str) -> dict[str, Any] | None:
        resp = await self.nova(pod, "GET", f"/servers/{server_id}")
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise MoveFailed(f"pod {pod.name} answered {resp.status_code}: {pod_message(resp)}")
        found: dict[str, Any] = resp.json()["server"]
        return found

    async def reaches(self, what: str, pod: Pod, server_id: str, *wanted: str) -> None:
        """Until the server is in one of the `wanted` statuses (MoveFailed on ERROR)."""
        await self.until(what, lambda: self.status_is(pod, server_id, *wanted))

    async def status_is(self, pod: Pod, server_id: str, *wanted: str) -> bool:
        found = await self.server(pod, server_id)
        if found is None:
            raise MoveFailed(f"server {server_id} is gone from pod {pod.name}")
        if found.get("status") == "ERROR":
            fault = (found.get("fault") or {}).get("message", "")
            raise MoveFailed(f"server {server_id} went to ERROR in pod {pod.name}: {fault}")
        return found.get("status") in wanted and not found.get("OS-EXT-STS:task_state")

    async def action(self, pod: Pod, server_id: str, body: dict[str, Any]) -> httpx.Response:
        path = f"/servers/{server_id}/action"
        return await self.nova(pod, "POST", path, MAKE_VERSION, json=body)

    # --- forward ----------------------------------------------------------------------

    async def forward(self) -> None:
        if self.move.status in (moves.QUEUED, moves.SNAPSHOTTING):
            await self.snapshot()
        await self.boot()

    async def snapshot(self) -> None:
        src = self.move.source_bottom_id
        shown = await self.server(self.source, src)
        if shown is None:
            raise MoveFailed(f"server {self.move.top_id} is gone from pod {self.source.name}")
        if self.move.status == moves.QUEUED:
            learnt = await self.learn(shown)
            await self.save(status=moves.SNAPSHOTTING, source={**self.move.source, **learnt})
        await self.settled("the source to stop", self.source, src, "SHUTOFF")
        name = f"cascade-move-{self.move.id}"
        image_id = self.move.image_id or await self.image_named(name)
        if image_id is None:
            resp = await self.action(self.source, src, {"createImage": {"name": name}})
            if resp.status_code >= 400:
                raise MoveFailed(f"the source's snapshot was refused: {pod_message(resp)}")
            image_id = str(resp.json()["image_id"])
        if image_id != self.move.image_id:
            await self.save(image_id=image_id)
        await self.until("the server's image", self.image_active)
        await Carried(self, self.nova).gathered(self.target, move_volumes.FORWARD, src)
        await self.save(status=moves.BOOTING)

    async def learn(self, shown: dict[str, Any]) -> dict[str, Any]:
        """What the target needs of the source: its top flavor, keypair, tags and ports."""
        flavor = str((shown.get("flavor") or {}).get("id", ""))
        async with self.ctx.sessions() as db:
            copy = await routings.find_bottom(db, "flavor", self.source.id, flavor)
            if copy is None:
                copy = await routings.find_bottom(db, RETIRED, self.source.id, flavor)
            ports = [
                row.id
                for row in sorted(
                    await store.rows(db, store.PORT, self.move.project_id),
                    key=lambda r: (r.created_at, r.id),
                )
                if row.body.get("device_id") == self.move.top_id
            ]
        if copy is None or copy.resource_type == RETIRED:
            raise MoveFailed(f"the server's flavor {flavor} is not a flavor of the top")
        if not ports:
            raise MoveFailed(
                "the server has no port on a network of the top: its addresses cannot follow "
                "it to another pod"
            )
        tags = await self.nova(
            self.source, "GET", f"/servers/{self.move.source_bottom_id}/tags", MAKE_VERSION
        )
        return {
            "flavor": copy.top_id,
            "name": shown.get("name"),
            "key_name": shown.get("key_name"),
            "created": shown.get("created"),
            "metadata": shown.get("metadata") or {},
            "tags": tags.json().get("tags", []) if tags.status_code == 200 else [],
            "ports": ports,
        }

    async def boot(self) -> None:
        learnt = self.move.source
        target = self.move.target_bottom_id or await self.booted()
        if target is None:
            body = await self.create_body(learnt)
            resp = await self.nova(self.target, "POST", "/servers", MAKE_VERSION, json=body)
            if resp.status_code >= 400:
                raise MoveFailed(f"pod {self.target.name} refused the server: {pod_message(resp)}")
            target = str(resp.json()["server"]["id"])
        if target != self.move.target_bottom_id:
            await self.save(target_bottom_id=target)
        await self.until(
            "the server in the target pod",
            lambda: self.status_is(self.target, target, "ACTIVE", "SHUTOFF"),
        )
        await Carried(self, self.nova).attach(self.target, target)
        want = "ACTIVE" if learnt.get("running") else "SHUTOFF"
        await self.settled("the target to settle", self.target, target, want)
        await self.save(status=moves.VERIFY)

    async def booted(self) -> str | None:
        """The target an earlier run booted (from the move's own image), if any."""
        params = {"image": str(self.move.image_id)}
        resp = await self.nova(self.target, "GET", "/servers", params=params)
        found = resp.json().get("servers", []) if resp.status_code == 200 else []
        return str(found[0]["id"]) if found else None

    async def create_body(self, learnt: dict[str, Any]) -> dict[str, Any]:
        async with self.ctx.sessions() as db:
            flavor = await flavor_copies.ensure_in_pod(
                db, self.ctx.pods, self.target, str(learnt["flavor"]), self.request_id
            )
            neutron = PodNeutron(self.ctx.pods, self.target, self.request_id)
            names = {p.id: p.name for p in (await db.scalars(select(Pod))).all()}
            networks = []
            for fip in await self.floating_ips(db):  # their shadows hold the ports' addresses
                await floatingip_pods.unshadow(db, self.ctx.pods, fip.id, self.target)
            for port_id in learnt.get("ports", []):
                row = await store.get(db, store.PORT, port_id)
                if row is not None:
                    networks.append(
                        {"port": await materialise.ensure_port(db, neutron, row, names)}
                    )
            key = await self.keypair(db, learnt.get("key_name"))
        server: dict[str, Any] = {
            "name": learnt.get("name") or self.move.top_id,
            "imageRef": self.move.image_id,
            "flavorRef": flavor,
            "networks": networks,
            "metadata": learnt.get("metadata") or {},
            "availability_zone": self.target.pod_az,
        }
        if learnt.get("tags"):
            server["tags"] = learnt["tags"]
        if key:
            server["key_name"] = key
        return {"server": server}

    async def keypair(self, db: AsyncSession, name: Any) -> str | None:
        """The server's keypair in the target pod, owned by the user the target is made
        as (a keypair belongs to its user in Nova)."""
        if not name:
            return None
        top = await db.scalar(
            select(Keypair).where(Keypair.user_id == self.move.user_id, Keypair.name == str(name))
        )
        if top is None:
            return None  # gone at the top: the target has none, as a rebuild without one
        body = {"keypair": {"name": top.name, "public_key": top.public_key, "type": top.type}}
        resp = await self.nova(self.target, "POST", "/os-keypairs", "2.2", json=body)
        if resp.status_code not in (200, 201, 409):
            raise MoveFailed(f"pod {self.target.name} refused the keypair: {pod_message(resp)}")
        return str(top.name)

    # --- confirm, revert, roll back ---------------------------------------------------

    async def confirm(self) -> None:
        """The target becomes the server (its routing first: a read meanwhile finds it
        there), then what is left of the source goes."""
        src, target = self.move.source_bottom_id, self.move.target_bottom_id
        async with self.ctx.sessions() as db:
            query = select(Routing).where(
                Routing.resource_type == SERVER, Routing.top_id == self.move.top_id
            )
            routing = await db.scalar(query)
            if routing is not None:
                routing.pod_id, routing.bottom_id = self.target.id, target
                routing.status, routing.updated_at = "active", now()
            await self.follow_floating_ips(db)
            await db.commit()
        self.ctx.pods.cache(RouteCache).drop(SERVER, self.move.top_id)
        moves.forget(self.ctx.pods, self.source.id, self.target.id)
        resp = await self.nova(self.source, "DELETE", f"/servers/{src}")
        if resp.status_code not in (202, 204, 404):
            raise MoveFailed(f"pod {self.source.name} refused the source's delete")
        await self.until("the source's delete", lambda: self.gone(self.source, src))
        await self.ports_gone(self.source)
        await self.image_gone()
        await self.save(status=moves.DONE)

    async def undo(self, status: str, error: str | None) -> None:
        target = self.move.target_bottom_id or (await self.booted() if self.move.image_id else None)
        if target:
            resp = await self.nova(self.target, "DELETE", f"/servers/{target}")
            if resp.status_code not in (202, 204, 404):
                raise MoveFailed(f"pod {self.target.name} refused the target's delete")
            await self.until("the target's delete", lambda: self.gone(self.target, target))
        await self.ports_gone(self.target)
        async with self.ctx.sessions() as db:
            await self.follow_floating_ips(db)
            await db.commit()
        src = self.move.source_bottom_id
        carried = Carried(self, self.nova)
        await carried.gathered(self.source, move_volumes.BACK, None)
        if await self.server(self.source, src):
            await carried.attach(self.source, src)
        if self.move.source.get("running", True) and await self.server(self.source, src):
            await self.settled("the source to start", self.source, src, "ACTIVE")
        await self.image_gone()
        await move_steps.finish(self.ctx, self.move.id, status, error)

    async def gone(self, pod: Pod, server_id: str) -> bool:
        return (await self.server(pod, server_id)) is None

    async def ports_gone(self, pod: Pod) -> None:
        """The copies of the server's top ports in `pod` go, with their routings."""
        neutron = PodNeutron(self.ctx.pods, pod, self.request_id)
        async with self.ctx.sessions() as db:
            for port_id in self.move.source.get("ports", []):
                await materialise.remove(db, neutron, (materialise.PORT,), port_id)

    async def floating_ips(self, db: AsyncSession) -> list[NetResource]:
        """The floating IPs on the server's ports."""
        ports = set(self.move.source.get("ports", []))
        if not ports:
            return []
        rows = await store.rows(db, store.FLOATINGIP, self.move.project_id)
        return [row for row in rows if row.body.get("port_id") in ports]

    async def follow_floating_ips(self, db: AsyncSession) -> None:
        """The floating IPs of the server's ports follow it (their job) to where its
        ports are now."""
        for row in await self.floating_ips(db):
            await queue.enqueue(db, floatingips.JOB_SYNC, row.id, row.project_id, {})

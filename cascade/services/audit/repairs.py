"""An audit finding's repair, the one an operator asked for (no HTTP types here).

Each repair looks again before it acts: what the audit saw may have changed since
(a request routed the orphan, the missing object came back), and then it does
nothing and says so (`NothingToDo`). What it may change is the finding's own object
and nothing else:

- `adopt`: a routed object made in the pod directly gets its routing (as a list
  through the top would give it);
- `delete`: the orphan is deleted in the pod (Cascade's service user);
- `forget`: the routing of a missing object goes (a copy is made again when next
  needed);
- `recopy`: a missing flavor or volume type copy is made again now;
- `converge`: the copy is made like its top object (a flavor whose sizes differ is
  replaced, as a server create would);
- `settle`: a routing stuck `creating` or `deleting` is settled as the periodic sweep
  would (a routed kind's: by the sweep itself);
- `activate`: a routing whose object is there is `active` again.

A pod that cannot be asked raises (`CannotTell`, `PodUnavailable`): the repair's job
is tried again later.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cascade.db.engine import now
from cascade.db.models import AuditFinding, Flavor, NetResource, Pod, Routing, VolumeType
from cascade.pods.network import PodNeutron
from cascade.pods.registry import PodRegistry
from cascade.services import routed, stale
from cascade.services.audit import checks
from cascade.services.compute import flavor_copies
from cascade.services.compute.flavors import RESOURCE as FLAVOR
from cascade.services.compute.flavors import RETIRED
from cascade.services.network import jobs as network_jobs
from cascade.services.network import materialise
from cascade.services.resources import BY_KIND
from cascade.services.volume import type_copies
from cascade.services.volume import types as volume_types


class NothingToDo(Exception):
    """The finding no longer holds: nothing was changed."""


class CannotRepair(Exception):
    """The repair cannot be made (the top object is gone, the pod refused)."""


async def repair(
    sessions: async_sessionmaker[AsyncSession],
    registry: PodRegistry,
    finding: AuditFinding,
    action: str,
    request_id: str = "",
) -> str:
    """Carry out `action` on the finding's object; what was done, in words."""
    async with sessions() as db:
        pod = await db.get(Pod, finding.pod_id)
        if pod is None:
            raise CannotRepair(f"pod {finding.pod_id} is no longer registered")
        fix = Fix(db, sessions, registry, pod, finding, request_id)
        return await getattr(fix, action)()  # type: ignore[no-any-return]


async def delete_in_pod(
    registry: PodRegistry, pod: Pod, kind: str, bottom: str, request_id: str
) -> None:
    """The pod's object `bottom` of `kind` deleted (gone already counts as done);
    CannotRepair when the pod refuses or the kind is not one a repair deletes."""
    if kind in materialise.COLLECTION:
        neutron = PodNeutron(registry, pod, request_id)
        await neutron.delete(materialise.COLLECTION[kind], bottom)
    elif kind in (FLAVOR, RETIRED):
        nova = flavor_copies.nova(registry, pod, request_id)
        await nova.send("DELETE", f"/flavors/{bottom}", (202, 204, 404))
    elif kind == volume_types.KIND:
        cinder = type_copies.cinder(registry, pod, request_id)
        await cinder.send("DELETE", f"/types/{bottom}", (202, 404))
    elif kind in BY_KIND:
        send = stale.getter(registry, pod, kind, request_id, "DELETE")
        resp = await stale.answer(pod, send(f"{BY_KIND[kind].path}/{bottom}"))
        if resp.status_code >= 400 and resp.status_code != 404:
            raise CannotRepair(f"pod {pod.name} answered {resp.status_code}")
    else:
        raise CannotRepair(f"{kind} objects cannot be deleted by a repair")


class Fix:
    """The repairs of one finding in its pod."""

    def __init__(
        self,
        db: AsyncSession,
        sessions: async_sessionmaker[AsyncSession],
        registry: PodRegistry,
        pod: Pod,
        finding: AuditFinding,
        request_id: str,
    ) -> None:
        self.db, self.sessions, self.registry, self.pod = db, sessions, registry, pod
        self.finding, self.request_id = finding, request_id
        self.kind = finding.resource_type

    async def _routing(self) -> Routing:
        found = await self.db.get(Routing, self.finding.routing_id or "")
        if found is None:
            raise NothingToDo("the routing is gone already")
        return found

    async def _routed_anywhere(self) -> bool:
        """Whether a routing of the object's kind now knows it (by top id or pod id)."""
        query = select(Routing.id).where(
            Routing.resource_type == self.kind,
            (Routing.top_id == self.finding.top_id)
            | (
                (Routing.pod_id == self.pod.id)
                & (Routing.bottom_id == (self.finding.bottom_id or ""))
            ),
        )
        return (await self.db.scalar(query.limit(1))) is not None

    async def _present(self, routing: Routing) -> bool:
        """Whether the pod has the routing's object now."""
        if self.kind in materialise.COLLECTION:
            path = f"/{materialise.COLLECTION[self.kind]}/{routing.bottom_id}"
            resp = await PodNeutron(self.registry, self.pod, self.request_id).call("GET", path)
            return resp.status_code != 404
        if self.kind == volume_types.KIND:
            api = type_copies.cinder(self.registry, self.pod, self.request_id)
            resp = await api.send("GET", f"/types/{routing.bottom_id}", (200, 404))
            return resp.status_code != 404
        return await stale.present(self.db, self.registry, routing, self.request_id)

    async def adopt(self) -> str:
        if await self._routed_anywhere():
            raise NothingToDo(f"{self.kind} {self.finding.top_id} has a routing now")
        owner = self.finding.project_id or ""
        await routed.heal(self.db, self.kind, [(str(self.finding.top_id), self.pod.id, owner)])
        return f"routed to pod {self.pod.name} in project {owner}"

    async def delete(self) -> str:
        bottom = str(self.finding.bottom_id)
        if await self._routed_anywhere():
            raise NothingToDo(f"{self.kind} {bottom} has a routing now: it was not deleted")
        await delete_in_pod(self.registry, self.pod, self.kind, bottom, self.request_id)
        return f"{self.kind} {bottom} deleted in pod {self.pod.name}"

    async def forget(self) -> str:
        routing = await self._routing()
        if routing.bottom_id and await self._present(routing):
            raise NothingToDo(f"pod {self.pod.name} has {routing.bottom_id} again")
        await self.db.delete(routing)
        await self.db.commit()
        return f"routing {routing.id} of {self.kind} {routing.top_id} removed"

    async def recopy(self) -> str:
        routing = await self._routing()
        if routing.bottom_id and await self._present(routing):
            raise NothingToDo(f"pod {self.pod.name} has {routing.bottom_id} again")
        top_id = routing.top_id
        await self.db.delete(routing)
        await self.db.commit()
        if self.kind == FLAVOR:
            made = await flavor_copies.ensure_in_pod(
                self.db, self.registry, self.pod, top_id, self.request_id
            )
        else:
            vtype = await self.db.get(VolumeType, top_id)
            if vtype is None:
                raise CannotRepair(f"volume type {top_id} is gone from the top")
            made = await type_copies.ensure_in_pod(self.db, self.registry, self.pod, vtype)
        return f"{self.kind} {top_id} copied again to pod {self.pod.name} as {made}"

    async def converge(self) -> str:
        routing = await self._routing()
        bottom = str(routing.bottom_id)
        if self.kind == FLAVOR:
            if await self.db.get(Flavor, routing.top_id) is None:
                raise CannotRepair(f"flavor {routing.top_id} is gone from the top")
            bottom = await flavor_copies.converge_in_pod(
                self.db, self.registry, self.pod, routing.top_id, self.request_id
            )
        elif self.kind == volume_types.KIND:
            vtype = await self.db.get(VolumeType, routing.top_id)
            if vtype is None:
                raise CannotRepair(f"volume type {routing.top_id} is gone from the top")
            await type_copies.converge_in_pod(self.db, self.registry, self.pod, vtype, bottom)
        else:
            row = await self.db.get(NetResource, routing.top_id)
            if row is None or row.kind != self.kind:
                raise CannotRepair(f"{self.kind} {routing.top_id} is gone from the top")
            neutron = PodNeutron(self.registry, self.pod, self.request_id)
            await network_jobs.converge_copy(self.db, neutron, row, bottom)
        return f"the copy {bottom} in pod {self.pod.name} is like the top's again"

    async def settle(self) -> str:
        routing = await self._routing()
        if routing.status not in ("creating", "deleting"):
            raise NothingToDo(f"the routing is {routing.status} now")
        if self.kind in stale.SWEPT:
            done = await stale.sweep(self.sessions, self.registry, stale.age(self.registry))
            return f"settled by the sweep of routings that outlived their request: {done}"
        if routing.bottom_id and await self._present(routing):
            routing.status, routing.updated_at = "active", now()
            await self.db.commit()
            return f"the pod has {routing.bottom_id}: routing {routing.id} active"
        await self.db.delete(routing)
        await self.db.commit()
        return f"routing {routing.id} removed (nothing of it in pod {self.pod.name})"

    async def activate(self) -> str:
        routing = await self._routing()
        if routing.status == "active":
            raise NothingToDo("the routing is active already")
        if not (routing.bottom_id and await self._present(routing)):
            raise NothingToDo(f"pod {self.pod.name} does not have {routing.bottom_id}")
        routing.status, routing.updated_at = "active", now()
        await self.db.commit()
        return f"routing {routing.id} active again"


assert set(checks.ACTIONS) <= {name for name in vars(Fix) if not name.startswith("_")}

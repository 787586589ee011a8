"""Copies of top flavors in the pods, a `copies.Kind` (no HTTP types here).

A pod gets a copy of a top flavor the first time a server there needs it
(`ensure_in_pod`), made with Cascade's service token (only admins may create
flavors) at microversion 2.55 (the first that takes a description) and named
`cascade-<top id>` (the top name may clash with the pod's own flavors); the
pod picks its id. The copy has the top's sizes, rxtx_factor, visibility,
description, extra specs and, for a private flavor, the access of every
project that has it. A copy found by name whose sizes differ is a leftover of
a deleted top flavor of the same id and is replaced (servers in the pod keep
their embedded flavor, as Nova allows).

`sync_to_pods` brings every copy in line with the top after the top's
description, extra specs or access changed. It compares rather than replays,
so it also heals a copy an earlier failed sync left behind. A pod's refusal
is `PodCopyFailed`; `PodUnavailable` is passed on.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.engine import idle
from cascade.db.models import Flavor, Pod, Routing
from cascade.pods.compute import Caller, call
from cascade.pods.registry import PodRegistry
from cascade.services import copies
from cascade.services.compute import flavors, servers
from cascade.services.compute.flavors import RESOURCE, PodCopyFailed
from cascade.services.copies import PodAPI

LOG = logging.getLogger(__name__)
VERSION = "2.55"  # the first microversion with flavor descriptions
PAGE = 1000


def _flavor_path(bottom_id: str, rest: str = "") -> str:
    return f"/flavors/{quote(bottom_id, safe='')}{rest}"


@dataclasses.dataclass
class FlavorCopy:
    """A top flavor's copy in a pod's Nova (`copies.Kind`), with the access of `projects`."""

    projects: list[str]
    resource: str = RESOURCE

    def name(self, top: Flavor) -> str:
        return f"{copies.PREFIX}{top.id}"

    def bottom_id(self, copy: dict[str, Any]) -> str:
        return str(copy["id"])

    async def find(self, api: PodAPI[Caller], top: Flavor) -> dict[str, Any] | None:
        """The pod's flavor of the copy's name, public or private, following the pages."""
        name = self.name(top)
        params = {"is_public": "None", "limit": str(PAGE)}
        while True:
            body = (await api.send("GET", "/flavors/detail", (200,), params=params)).json()
            page: list[dict[str, Any]] = body.get("flavors", [])
            for found in page:
                if found.get("name") == name:
                    return found
            more = any(link.get("rel") == "next" for link in body.get("flavors_links", []))
            if not page or not more:
                return None
            params = {**params, "marker": str(page[-1]["id"])}

    def same(self, copy: dict[str, Any], top: Flavor) -> bool:
        """What cannot be changed after creation as the top has it."""
        return (
            copy.get("ram") == top.ram
            and copy.get("vcpus") == top.vcpus
            and copy.get("disk") == top.disk
            and copy.get("OS-FLV-EXT-DATA:ephemeral", 0) == top.ephemeral
            and (copy.get("swap") or 0) == top.swap
            and float(copy.get("rxtx_factor") or 1.0) == top.rxtx_factor
            and copy.get("os-flavor-access:is_public") == top.is_public
        )

    async def create(self, api: PodAPI[Caller], top: Flavor) -> dict[str, Any] | None:
        body = {
            "flavor": {
                "name": self.name(top),
                "ram": top.ram,
                "vcpus": top.vcpus,
                "disk": top.disk,
                "OS-FLV-EXT-DATA:ephemeral": top.ephemeral,
                "swap": top.swap,
                "rxtx_factor": top.rxtx_factor,
                "os-flavor-access:is_public": top.is_public,
                "description": top.description,
            }
        }
        resp = await api.send("POST", "/flavors", (200, 201, 409), json=body)
        if resp.status_code == 409:
            return None
        made: dict[str, Any] = resp.json()["flavor"]
        return made

    async def remove(self, api: PodAPI[Caller], bottom_id: str) -> None:
        await api.send("DELETE", _flavor_path(bottom_id), (202, 204, 404))

    async def converge(
        self, api: PodAPI[Caller], top: Flavor, copy: dict[str, Any], fresh: bool
    ) -> None:
        """The copy's description, extra specs and access as the top's (`fresh`: just
        made with the description, and nothing else yet)."""
        bottom_id = str(copy["id"])
        if not fresh and copy.get("description") != top.description:
            body = {"flavor": {"description": top.description}}
            await api.send("PUT", _flavor_path(bottom_id), (200,), json=body)
        specs: dict[str, str] = {}
        if not fresh:
            resp = await api.send("GET", _flavor_path(bottom_id, "/os-extra_specs"), (200,))
            specs = resp.json().get("extra_specs", {})
        wanted = dict(top.extra_specs or {})
        changed = {k: v for k, v in wanted.items() if specs.get(k) != v}
        if changed:
            path = _flavor_path(bottom_id, "/os-extra_specs")
            await api.send("POST", path, (200,), json={"extra_specs": changed})
        for key in sorted(set(specs) - set(wanted)):
            path = _flavor_path(bottom_id, f"/os-extra_specs/{quote(key, safe='')}")
            await api.send("DELETE", path, (200, 404))
        if top.is_public:
            return
        have: list[str] = []
        if not fresh:
            resp = await api.send("GET", _flavor_path(bottom_id, "/os-flavor-access"), (200,))
            have = [str(a["tenant_id"]) for a in resp.json().get("flavor_access", [])]
        action = _flavor_path(bottom_id, "/action")
        for project in [p for p in self.projects if p not in have]:
            body = {"addTenantAccess": {"tenant": project}}
            await api.send("POST", action, (200, 409), json=body)
        for project in [p for p in have if p not in self.projects]:
            body = {"removeTenantAccess": {"tenant": project}}
            await api.send("POST", action, (200, 404), json=body)


def nova(registry: PodRegistry, pod: Pod, request_id: str) -> PodAPI[Caller]:
    """Calls to the pod's Nova as Cascade's service user."""
    return PodAPI(registry, pod, Caller(None, VERSION, request_id), call, PodCopyFailed)


async def _kind(db: AsyncSession, flavor: Flavor) -> FlavorCopy:
    return FlavorCopy([] if flavor.is_public else await flavors.projects(db, flavor.id))


async def ensure_in_pod(
    db: AsyncSession, registry: PodRegistry, pod: Pod, flavor_id: str, request_id: str
) -> str:
    """The pod-side id of top flavor `flavor_id` in `pod`, copying it there if needed.

    Raises `flavors.FlavorNotFound` (no such top flavor), `PodCopyFailed` (the
    pod refused), `PodUnavailable` and `KeystoneUnavailable` (no service token).
    """
    await flavors.get(db, flavor_id)
    routing = await copies.routing_of(db, RESOURCE, flavor_id, pod)
    if routing.bottom_id:
        return routing.bottom_id
    return await _adopt_or_make(db, registry, pod, routing, flavor_id, request_id)


async def converge_in_pod(
    db: AsyncSession, registry: PodRegistry, pod: Pod, flavor_id: str, request_id: str = ""
) -> str:
    """The pod's copy of the flavor brought in line with the top now: found by name and
    converged, or replaced when what cannot change (sizes, visibility) differs, or made;
    its routing follows the copy's id. Raises as `ensure_in_pod`."""
    await flavors.get(db, flavor_id)
    routing = await copies.routing_of(db, RESOURCE, flavor_id, pod)
    return await _adopt_or_make(db, registry, pod, routing, flavor_id, request_id)


async def _adopt_or_make(
    db: AsyncSession,
    registry: PodRegistry,
    pod: Pod,
    routing: Routing,
    flavor_id: str,
    request_id: str,
) -> str:
    flavor = await flavors.get(db, flavor_id)  # read again: a rollback may have expired it
    kind = await _kind(db, flavor)
    await idle(db)  # no database connection held while the pod makes the copy
    bottom_id = await copies.adopt_or_make(nova(registry, pod, request_id), kind, flavor)
    await copies.activate(db, routing, bottom_id)
    # a new copy: server views of this process must know its name at once
    registry.cache(servers.FlavorNames).forget(pod.id)
    return bottom_id


async def sync_to_pods(
    db: AsyncSession, registry: PodRegistry, flavor_id: str, request_id: str
) -> None:
    """Bring every pod copy of the flavor in line with the top, pods in parallel.

    Called after the top change is committed. A pod that fails is logged and
    skipped, never an error for the caller: the top is the truth and already
    changed, and this copy catches up at the next sync of the flavor. A copy
    that is gone from its pod loses its routing (the next server there makes
    a new one).
    """
    flavor = await db.get(Flavor, flavor_id)
    if flavor is None:
        return
    kind = await _kind(db, flavor)

    async def one(pod: Pod, routing: Routing) -> bool:
        """False when the copy is gone from the pod."""
        try:
            api = nova(registry, pod, request_id)
            resp = await api.send("GET", _flavor_path(str(routing.bottom_id)), (200, 404))
            if resp.status_code == 404:
                return False
            await kind.converge(api, flavor, resp.json()["flavor"], fresh=False)
        except Exception:  # any failure of one pod: logged, not fatal (see above)
            LOG.exception("flavor %s: the copy in pod %s was not updated", flavor_id, pod.name)
        return True

    for routing, present in await copies.each_copy(db, RESOURCE, flavor_id, one, parallel=True):
        if present is False:
            LOG.warning(
                "flavor %s: copy %s is gone from pod %s; routing %s dropped",
                flavor_id,
                routing.bottom_id,
                routing.pod_id,
                routing.id,
            )
            await db.delete(routing)
    await db.commit()

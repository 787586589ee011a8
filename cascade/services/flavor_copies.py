"""Copies of top flavors in the pods (no HTTP types here).

A pod gets a copy of a top flavor the first time a server there needs it
(`ensure_in_pod`). Only admins may create flavors, so the copy is made with
Cascade's service token, at microversion 2.55 (the first that takes a
description), and named `cascade-<top id>`: names are unique in a Nova and
the top name may clash with the pod's own flavors. The pod picks its id. The
copy has the top's sizes, rxtx_factor, visibility, description, extra specs
and, for a private flavor, the access of every project that has it.

Each copy is a `flavor` routing (project "": flavors are shared) written
before the copy is made. A routing with a bottom id is trusted. Otherwise the
name is looked up first, so a retry after a crash never makes a duplicate: a
copy found is adopted and brought in line with the top; one whose sizes
differ is a leftover of a deleted top flavor of the same id and is replaced
(servers in the pod keep their embedded flavor, as Nova allows).

`sync_to_pods` brings every copy in line with the top after the top's
description, extra specs or access changed. It compares rather than replays,
so it also heals a copy an earlier failed sync left behind.

A pod's refusal is `PodCopyFailed` (pod, status, message); `PodUnavailable`
(unreachable, timed out, breaker open) is passed on.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.models import Flavor, Pod, Routing
from cascade.pods.compute import Caller, call, pod_message
from cascade.pods.registry import PodRegistry
from cascade.services import flavors, routings, servers
from cascade.services.flavors import RESOURCE, PodCopyFailed

LOG = logging.getLogger(__name__)
VERSION = "2.55"  # the first microversion with flavor descriptions
PREFIX = "cascade-"
PAGE = 1000


def bottom_name(top_id: str) -> str:
    """The name of a top flavor's copy in every pod."""
    return f"{PREFIX}{top_id}"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclasses.dataclass
class _PodNova:
    """Calls to one pod's Nova as Cascade's service user."""

    registry: PodRegistry
    pod: Pod
    caller: Caller

    @classmethod
    async def open(cls, registry: PodRegistry, pod: Pod, request_id: str) -> _PodNova:
        return cls(registry, pod, Caller(None, VERSION, request_id))

    async def send(
        self, method: str, path: str, ok: Collection[int], **kwargs: Any
    ) -> httpx.Response:
        """The pod's answer if its status is in `ok`, else PodCopyFailed."""
        resp = await call(self.registry, self.pod, self.caller, method, path, **kwargs)
        if resp.status_code not in ok:
            raise PodCopyFailed(self.pod.name, resp.status_code, pod_message(resp))
        return resp

    async def find(self, name: str) -> dict[str, Any] | None:
        """The pod's flavor called `name`, public or private, following the pages."""
        params = {"is_public": "None", "limit": str(PAGE)}
        while True:
            body = (await self.send("GET", "/flavors/detail", (200,), params=params)).json()
            page: list[dict[str, Any]] = body.get("flavors", [])
            for found in page:
                if found.get("name") == name:
                    return found
            more = any(link.get("rel") == "next" for link in body.get("flavors_links", []))
            if not page or not more:
                return None
            params = {**params, "marker": str(page[-1]["id"])}


def _same_sizes(copy: dict[str, Any], flavor: Flavor) -> bool:
    """Whether a pod flavor has what cannot be changed after creation as the top has it."""
    return (
        copy.get("ram") == flavor.ram
        and copy.get("vcpus") == flavor.vcpus
        and copy.get("disk") == flavor.disk
        and copy.get("OS-FLV-EXT-DATA:ephemeral", 0) == flavor.ephemeral
        and (copy.get("swap") or 0) == flavor.swap
        and float(copy.get("rxtx_factor") or 1.0) == flavor.rxtx_factor
        and copy.get("os-flavor-access:is_public") == flavor.is_public
    )


def _flavor_path(bottom_id: str, rest: str = "") -> str:
    return f"/flavors/{quote(bottom_id, safe='')}{rest}"


async def _converge(
    nova: _PodNova, flavor: Flavor, projects: list[str], copy: dict[str, Any], fresh: bool
) -> None:
    """Make the copy's description, extra specs and access the top's (`fresh`: just made
    with the description, and nothing else yet)."""
    bottom_id = str(copy["id"])
    if not fresh and copy.get("description") != flavor.description:
        body = {"flavor": {"description": flavor.description}}
        await nova.send("PUT", _flavor_path(bottom_id), (200,), json=body)
    specs: dict[str, str] = {}
    if not fresh:
        resp = await nova.send("GET", _flavor_path(bottom_id, "/os-extra_specs"), (200,))
        specs = resp.json().get("extra_specs", {})
    wanted = dict(flavor.extra_specs or {})
    changed = {k: v for k, v in wanted.items() if specs.get(k) != v}
    if changed:
        path = _flavor_path(bottom_id, "/os-extra_specs")
        await nova.send("POST", path, (200,), json={"extra_specs": changed})
    for key in sorted(set(specs) - set(wanted)):
        path = _flavor_path(bottom_id, f"/os-extra_specs/{quote(key, safe='')}")
        await nova.send("DELETE", path, (200, 404))
    if flavor.is_public:
        return
    have: list[str] = []
    if not fresh:
        resp = await nova.send("GET", _flavor_path(bottom_id, "/os-flavor-access"), (200,))
        have = [str(a["tenant_id"]) for a in resp.json().get("flavor_access", [])]
    action = _flavor_path(bottom_id, "/action")
    for project in [p for p in projects if p not in have]:
        body = {"addTenantAccess": {"tenant": project}}
        await nova.send("POST", action, (200, 409), json=body)
    for project in [p for p in have if p not in projects]:
        body = {"removeTenantAccess": {"tenant": project}}
        await nova.send("POST", action, (200, 404), json=body)


async def _create(nova: _PodNova, flavor: Flavor) -> dict[str, Any] | None:
    """POST the copy; None when the pod says the name is taken (made meanwhile)."""
    body = {
        "flavor": {
            "name": bottom_name(flavor.id),
            "ram": flavor.ram,
            "vcpus": flavor.vcpus,
            "disk": flavor.disk,
            "OS-FLV-EXT-DATA:ephemeral": flavor.ephemeral,
            "swap": flavor.swap,
            "rxtx_factor": flavor.rxtx_factor,
            "os-flavor-access:is_public": flavor.is_public,
            "description": flavor.description,
        }
    }
    resp = await nova.send("POST", "/flavors", (200, 201, 409), json=body)
    if resp.status_code == 409:
        return None
    made: dict[str, Any] = resp.json()["flavor"]
    return made


async def _adopt_or_create(nova: _PodNova, flavor: Flavor, projects: list[str]) -> str:
    name = bottom_name(flavor.id)
    for _ in range(2):  # a second round only after losing a race to make it
        copy = await nova.find(name)
        if copy is not None and not _same_sizes(copy, flavor):
            LOG.warning(
                "pod %s: flavor %s (%s), a leftover unlike top flavor %s, is replaced",
                nova.pod.name,
                copy.get("id"),
                name,
                flavor.id,
            )
            await nova.send("DELETE", _flavor_path(str(copy["id"])), (202, 204, 404))
            copy = None
        if copy is not None:
            await _converge(nova, flavor, projects, copy, fresh=False)
            return str(copy["id"])
        made = await _create(nova, flavor)
        if made is not None:
            await _converge(nova, flavor, projects, made, fresh=True)
            return str(made["id"])
    raise PodCopyFailed(nova.pod.name, 409, f"flavor {name} exists and cannot be adopted")


async def ensure_in_pod(
    db: AsyncSession, registry: PodRegistry, pod: Pod, flavor_id: str, request_id: str
) -> str:
    """The pod-side id of top flavor `flavor_id` in `pod`, copying it there if needed.

    Raises `flavors.FlavorNotFound` (no such top flavor), `PodCopyFailed` (the
    pod refused), `PodUnavailable` and `KeystoneUnavailable` (no service token).
    """
    await flavors.get(db, flavor_id)
    routing = await routings.find(db, RESOURCE, flavor_id, pod.id)
    if routing is None:
        routing = await routings.record_intent_once(db, RESOURCE, flavor_id, pod.id, project_id="")
    if routing.bottom_id:
        return routing.bottom_id
    flavor = await flavors.get(db, flavor_id)  # read again: a rollback may have expired it
    projects = [] if flavor.is_public else await flavors.projects(db, flavor_id)
    nova = await _PodNova.open(registry, pod, request_id)
    bottom_id = await _adopt_or_create(nova, flavor, projects)
    routing.bottom_id = bottom_id
    routing.status = "active"
    routing.updated_at = _now()
    await db.commit()
    # a new copy: server views of this process must know its name at once
    registry.cache(servers.FlavorNames).pop(pod.id, None)
    return bottom_id


async def bottom_to_top(db: AsyncSession, pod_id: str, bottom_id: str) -> str | None:
    """The top flavor whose copy in pod `pod_id` is `bottom_id`, if it is one."""
    query = select(Routing.top_id).where(
        Routing.resource_type == RESOURCE,
        Routing.pod_id == pod_id,
        Routing.bottom_id == bottom_id,
    )
    return await db.scalar(query)


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
    query = select(Routing).where(
        Routing.resource_type == RESOURCE,
        Routing.top_id == flavor_id,
        Routing.bottom_id.is_not(None),
    )
    copies = list((await db.scalars(query)).all())
    pods = {r.pod_id: await db.get(Pod, r.pod_id) for r in copies}
    projects = [] if flavor.is_public else await flavors.projects(db, flavor_id)

    async def one(routing: Routing, pod: Pod) -> bool:
        """False when the copy is gone from the pod."""
        try:
            nova = await _PodNova.open(registry, pod, request_id)
            resp = await nova.send("GET", _flavor_path(str(routing.bottom_id)), (200, 404))
            if resp.status_code == 404:
                return False
            await _converge(nova, flavor, projects, resp.json()["flavor"], fresh=False)
        except Exception:  # any failure of one pod: logged, not fatal (see above)
            LOG.exception("flavor %s: the copy in pod %s was not updated", flavor_id, pod.name)
        return True

    work = [(r, pod) for r in copies if (pod := pods[r.pod_id]) is not None]
    results = await asyncio.gather(*(one(r, p) for r, p in work))
    for (routing, pod), present in zip(work, results, strict=True):
        if not present:
            LOG.warning(
                "flavor %s: copy %s is gone from pod %s; routing %s dropped",
                flavor_id,
                routing.bottom_id,
                pod.name,
                routing.id,
            )
            await db.delete(routing)
    await db.commit()

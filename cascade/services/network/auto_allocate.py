"""Neutron's auto-allocated topology at the top (extension auto-allocated-topology; no
HTTP types here): "get me a network" for a project, built from the top's own networks,
subnets and routers, as Neutron's `AutoAllocatedTopologyMixin` builds it.

A project's topology is a network `auto_allocated_network` with a subnet from each
default subnet pool (`auto_allocated_subnet_v4`/`_v6`) and a router
`auto_allocated_router`, its gateway on the default external network and an
interface on each subnet. The network is made down and set up once all of it exists
(Nova takes only a project's networks that are up). Its record (project -> network,
router) is a `net_resources` row of its own kind, whose id is derived from the project:
the primary key keeps one topology per project, as Neutron's unique `project_id`, so
of two concurrent builds one keeps its topology and the other cleans its own up.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Any

from sqlalchemy.exc import IntegrityError

from cascade.db.models import NetResource
from cascade.services.network import networks, routers, store, subnets
from cascade.services.network.access import Caller, find, visible
from cascade.services.network.errors import Conflict, NeutronError

KIND = "auto_allocated_topology"
CHECK_REQUIREMENTS = "dry-run"
NAMESPACE = uuid.UUID("6c1f6f3e-1b8a-4d51-9a51-5b7f0c2e7a11")
NO_EXTERNAL = "No default router:external network"
NO_POOLS = "No default subnetpools defined"
NO_NETWORK = "Unable to provide project private network"
NO_CONNECTIVITY = "Unable to provide external connectivity"


class AutoAllocationFailure(Conflict):
    """Neutron's 409 when a topology cannot be built (what was made is gone)."""

    type = "AutoAllocationFailure"

    def __init__(self, reason: str) -> None:
        super().__init__(f"Deployment error: {reason}.")


def record_id(project_id: str) -> str:
    """The id of a project's topology record: one possible per project."""
    return str(uuid.uuid5(NAMESPACE, project_id))


def _project(caller: Caller, project_id: str) -> str:
    """Neutron's `_validate`: `None` is the caller's project; another project's topology
    is Neutron's 403 NotAuthorized except for admins."""
    if project_id == "None":
        project_id = caller.project_id
    if not caller.is_admin and project_id != caller.project_id:
        raise NeutronError("Not authorized.", 403, "NotAuthorized")
    return project_id


async def topology(caller: Caller, project_id: str) -> NetResource | None:
    """The project's topology record; one whose network is gone no longer is (Neutron's
    record goes with its network: `ondelete=CASCADE`)."""
    row = await store.get(caller.db, KIND, record_id(project_id))
    if row is None:
        return None
    if await store.get(caller.db, store.NETWORK, str(row.body["network_id"])) is None:
        await caller.db.delete(row)
        await caller.db.commit()
        return None
    return row


async def _external(caller: Caller) -> str:
    network = await networks.default_external(caller)
    if network is None:
        raise AutoAllocationFailure(NO_EXTERNAL)
    return network.id


async def _pools(caller: Caller) -> list[NetResource]:
    """The default subnet pools the caller sees, IPv4's then IPv6's (Neutron's
    `_get_supported_subnetpools`)."""
    pools = [p for p in await visible(caller, store.SUBNETPOOL) if p.body.get("is_default")]
    out = []
    for version in (4, 6):
        found = sorted(
            (p for p in pools if p.body.get("ip_version") == version),
            key=lambda p: (p.created_at, p.id),
        )
        out.extend(found[:1])
    return out


def _response(network_id: str, project_id: str) -> dict[str, Any]:
    return {"id": network_id, "project_id": project_id}


async def get(caller: Caller, project_id: str, fields: list[str]) -> dict[str, Any]:
    """GET /auto-allocated-topology/{project_id}: the project's topology network
    (`{"id", "project_id"}`), built when it has none. `?fields=dry-run` only checks that
    one could be built (`id` "dry-run=pass"); any other field is Neutron's 400. 409
    AutoAllocationFailure when it cannot be built, nothing of it left behind."""
    project_id = _project(caller, project_id)
    if CHECK_REQUIREMENTS in fields:
        await _external(caller)
        if not await _pools(caller):
            raise AutoAllocationFailure(NO_POOLS)
        return _response("dry-run=pass", project_id)
    if fields:
        raise NeutronError("Bad auto_allocate request: Unrecognized field.", 400, "BadRequest")
    return _response(await network_of(caller, project_id), project_id)


async def network_of(caller: Caller, project_id: str) -> str:
    """The id of the project's topology network, built when it has none (409
    AutoAllocationFailure when it cannot be; nothing of it is left)."""
    found = await topology(caller, project_id)
    if found is not None:
        return str(found.body["network_id"])
    external = await _external(caller)  # fail fast, before anything is made
    made = await _private_network(caller, project_id)
    network_id = made[0].parent_id or ""
    router_id = await _connectivity(caller, external, made, project_id)
    return await _save(caller, project_id, network_id, router_id, [s.id for s in made])


async def _private_network(caller: Caller, project_id: str) -> list[NetResource]:
    """The project's network, down, with a subnet from each default pool. As Neutron: a
    400, a 404 or a SubnetAllocationError on the way (no default pool, a pool with no
    prefix left) is 409 'Unable to provide project private network'; anything else is
    answered as it is; either way the network goes."""
    network_id: str | None = None
    try:
        network = await networks.create(
            caller,
            {
                "network": {
                    "name": "auto_allocated_network",
                    "admin_state_up": False,
                    "project_id": project_id,
                    "shared": False,
                }
            },
        )
        network_id = network.id
        made: list[NetResource] = []
        pools = await _pools(caller)
        if not pools:
            raise NeutronError("No default pools available", 404, "NotFound")
        for pool in pools:
            version = pool.body["ip_version"]
            subnet = {
                "name": f"auto_allocated_subnet_v{version}",
                "network_id": network_id,
                "project_id": project_id,
                "ip_version": version,
                "subnetpool_id": pool.id,
            }
            made.append(await subnets.create(caller, {"subnet": subnet}))
        return made
    except NeutronError as exc:
        await caller.db.rollback()
        if network_id is not None:
            await _cleanup(caller, network_id=network_id)
        if exc.status in (400, 404) or exc.type == "SubnetAllocationError":
            raise AutoAllocationFailure(NO_NETWORK) from exc
        raise


async def _connectivity(
    caller: Caller, external: str, made: list[NetResource], project_id: str
) -> str:
    """The project's router: its gateway on the default external network, an interface
    on each subnet. A 400 on the way is 409 'Unable to provide external connectivity';
    anything else is answered as it is; either way all of the topology goes."""
    network_id = made[0].parent_id or ""
    subnet_ids = [s.id for s in made]
    router_id: str | None = None
    attached: list[str] = []
    try:
        router = await routers.create(
            caller,
            {
                "router": {
                    "name": "auto_allocated_router",
                    "external_gateway_info": {"network_id": external},
                    "project_id": project_id,
                    "admin_state_up": True,
                }
            },
        )
        router_id = router.id
        for subnet_id in subnet_ids:
            await routers.add_interface(caller, router_id, {"subnet_id": subnet_id})
            attached.append(subnet_id)
        return router_id
    except NeutronError as exc:
        await caller.db.rollback()
        if exc.status == 400:
            await _cleanup(caller, network_id, router_id, attached)
            raise AutoAllocationFailure(NO_CONNECTIVITY) from exc
        await _cleanup(caller, network_id, router_id, subnet_ids)
        raise


async def _save(
    caller: Caller, project_id: str, network_id: str, router_id: str, subnet_ids: list[str]
) -> str:
    """The topology is recorded and its network set up. Another build for the project
    recorded first: this one goes and that one's network is the answer (Neutron's
    duplicate entry)."""
    body = {"network_id": network_id, "router_id": router_id}
    store.add(
        caller.db, KIND, project_id, body, parent_id=network_id, object_id=record_id(project_id)
    )
    try:
        await caller.db.commit()
    except IntegrityError:
        await caller.db.rollback()
        await _cleanup(caller, network_id, router_id, subnet_ids)
        other = await topology(caller, project_id)
        if other is None:
            raise AutoAllocationFailure(NO_NETWORK) from None
        return str(other.body["network_id"])
    try:
        network = await find(caller, store.NETWORK, network_id)
        await networks.update(caller, network, {"admin_state_up": True})
    except NeutronError:
        await caller.db.rollback()
        await _forget(caller, project_id)
        await _cleanup(caller, network_id, router_id, subnet_ids)
        raise
    return network_id


async def _forget(caller: Caller, project_id: str) -> None:
    row = await store.get(caller.db, KIND, record_id(project_id))
    if row is not None:
        await caller.db.delete(row)
        await caller.db.commit()


async def delete(caller: Caller, project_id: str) -> None:
    """DELETE /auto-allocated-topology/{project_id}: the project's topology goes (its
    router's interfaces on the network's subnets, the router, the network), as Neutron's
    `_cleanup`; 409 NetworkInUse while servers' ports are on it.

    Neutron looks the topology up with its GET first, which builds a missing one (then
    deleted at once): a project without one gets the 409s that build would give, when
    there is no default external network or no default subnet pool, and else 204 with
    nothing built and torn down."""
    project_id = _project(caller, project_id)
    found = await topology(caller, project_id)
    if found is None:
        await _external(caller)
        if not await _pools(caller):
            raise AutoAllocationFailure(NO_NETWORK)
        return
    network_id = str(found.body["network_id"])
    router_id = found.body.get("router_id")
    subnet_ids = [s.id for s in await store.rows(caller.db, store.SUBNET, parent_ids=[network_id])]
    await _cleanup(caller, network_id, str(router_id) if router_id else None, subnet_ids)
    await _forget(caller, project_id)


async def _cleanup(
    caller: Caller,
    network_id: str | None = None,
    router_id: str | None = None,
    subnet_ids: list[str] | None = None,
) -> None:
    """What a topology made goes, as Neutron's `_cleanup`: the router's interfaces on
    the subnets, the router, the network (with its subnets). What is gone already is
    passed over."""
    if router_id:
        for subnet_id in subnet_ids or []:
            await _ignore_missing(
                caller, routers.remove_interface(caller, router_id, {"subnet_id": subnet_id})
            )
        await _ignore_missing(caller, _delete_router(caller, router_id))
    if network_id:
        await _ignore_missing(caller, _delete_network(caller, network_id))


async def _delete_router(caller: Caller, router_id: str) -> None:
    await routers.delete(caller, await find(caller, store.ROUTER, router_id))


async def _delete_network(caller: Caller, network_id: str) -> None:
    await networks.delete(caller, await find(caller, store.NETWORK, network_id))


async def _ignore_missing(caller: Caller, step: Awaitable[Any]) -> None:
    """Neutron's `ignore_notfound`: a 404 is passed over, anything else is raised."""
    try:
        await step
    except NeutronError as exc:
        await caller.db.rollback()
        if exc.status != 404:
            raise

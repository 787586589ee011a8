"""Floating IPs at the top, working in one pod (no HTTP types here).

The address comes from the top's IPAM on the external network's subnet. An
association needs a router with an interface on the port's subnet and its
gateway on the floating IP's network (Neutron's 404 otherwise); the router's
pod, the external network's pod and the pod where the port lives must be one
pod (409 until floating IPs across pods exist). The pod's copy (a floating IP
at the same address on the bottom port) is made by the `floatingip.sync`
job, also when the port only reaches its pod later, with its server.
"""

from __future__ import annotations

import uuid
from typing import Any

from cascade.db.models import NetResource
from cascade.jobs import queue
from cascade.services.network import attrs, ipam, quotas, routers, store
from cascade.services.network.access import Caller, authorize, creating, find
from cascade.services.network.errors import (
    BadRequest,
    Conflict,
    NeutronError,
)

A = attrs.Attr
SPEC: attrs.Spec = {
    "floating_network_id": A(attrs.uuid_text, attrs.REQUIRED),
    "port_id": A(attrs.anything, None, put=True),
    "fixed_ip_address": A(attrs.anything, None, put=True),
    "floating_ip_address": A(attrs.anything, None),
    "subnet_id": A(attrs.anything, None),
    "description": A(attrs.text(), "", put=True),
}
JOB_SYNC = "floatingip.sync"


def owner(fip_id: str) -> str:
    return f"fip:{fip_id}"


# the associated port's attributes a floating IP shows (extension fip-port-details)
PORT_DETAILS = (
    "name",
    "network_id",
    "mac_address",
    "admin_state_up",
    "status",
    "device_id",
    "device_owner",
)


async def views(caller: Caller, rows: list[NetResource]) -> list[dict[str, Any]]:
    """The floating IPs as Neutron shows them: `port_details` are the associated port's
    attributes as they are now (null while not associated)."""
    wanted = {str(r.body["port_id"]) for r in rows if r.body.get("port_id")}
    found = await store.rows(caller.db, store.PORT, ids=wanted) if wanted else []
    details = {
        p.id: {
            key: (p.parent_id if key == "network_id" else p.body.get(key)) for key in PORT_DETAILS
        }
        for p in found
    }
    return [
        {**store.view(r), "port_details": details.get(str(r.body.get("port_id")))} for r in rows
    ]


async def _association(
    caller: Caller, network: NetResource, project: str, port_id: str | None, fixed: str | None
) -> dict[str, Any]:
    """router_id, port_id and fixed_ip_address for associating the floating IP of
    `project` with `port_id` (or none)."""
    if not port_id:
        return {"port_id": None, "fixed_ip_address": None, "router_id": None}
    port = await find(caller, store.PORT, str(port_id))
    if port.project_id != project and not caller.is_admin:
        # a port the caller sees on its network that another project owns (Neutron's words)
        raise BadRequest(
            f"Bad floatingip request: Cannot process floating IP association with Port "
            f"{port.id}, since that port is owned by a different project"
        )
    ips = port.body.get("fixed_ips", [])
    chosen = next(
        (ip for ip in ips if fixed in (None, ip["ip_address"]) and ":" not in ip["ip_address"]),
        None,
    )
    if chosen is None:
        raise BadRequest(
            f"Bad floatingip request: Port {port.id} does not have fixed ip {fixed}."
            if fixed
            else f"Bad floatingip request: Port {port.id} has no IPv4 fixed address."
        )
    for other in await store.rows(caller.db, store.FLOATINGIP):
        if (
            other.body.get("port_id") == port.id
            and other.body.get("fixed_ip_address") == chosen["ip_address"]
        ):
            raise Conflict(
                f"Cannot associate floating IP {other.body.get('floating_ip_address')} "
                f"({other.id}) with port {port.id} using fixed IP {chosen['ip_address']}, "
                f"as that fixed IP already has a floating IP on external network {network.id}.",
                type="FloatingIPPortAlreadyAssociated",
            )
    router = None
    for candidate in await store.rows(caller.db, store.ROUTER):
        info = candidate.body.get("external_gateway_info") or {}
        if info.get("network_id") != network.id:
            continue
        for iface in await routers.interfaces(caller, candidate.id):
            if any(
                ip["subnet_id"] == chosen["subnet_id"] for ip in iface.body.get("fixed_ips", [])
            ):
                router = candidate
    if router is None:
        raise NeutronError(
            f"External network {network.id} is not reachable from subnet "
            f"{chosen['subnet_id']}.  Therefore, cannot associate Port {port.id} with a "
            "Floating IP.",
            404,
            "ExternalGatewayForFloatingIPNotFound",
        )
    return {"port_id": port.id, "fixed_ip_address": chosen["ip_address"], "router_id": router.id}


async def create(caller: Caller, body: Any) -> NetResource:
    """A floating IP on an external network: 201; associated at once when `port_id` is
    given. Neutron's 400/404/409 otherwise; nothing is held after a refusal."""
    given = attrs.take(SPEC, body, "floatingip", caller.allows, update=False)
    project = creating(caller, body, "floatingip", given)
    # an address taken concurrently: another one, unless the caller named it (409)
    pinned = given["floating_ip_address"] is not None
    return await ipam.retried(caller.db, lambda: _create_once(caller, given, project), pinned)


async def _create_once(caller: Caller, given: dict[str, Any], project: str) -> NetResource:
    network = await find(caller, store.NETWORK, given["floating_network_id"])
    if not network.body.get("router:external"):
        raise BadRequest(
            f"Bad floatingip request: Network {network.id} is not a valid external network."
        )
    if given["floating_ip_address"] is not None:
        authorize(caller, "create_floatingip:floating_ip_address")
    await quotas.check(caller.db, caller.conf, project, "floatingip")
    subnets = [
        s
        for s in await store.rows(caller.db, store.SUBNET, parent_ids=[network.id])
        if s.body["ip_version"] == 4 and given["subnet_id"] in (None, s.id)
    ]
    if not subnets:
        raise BadRequest(f"Bad floatingip request: Network {network.id} has no IPv4 subnet.")
    linked = await _association(
        caller, network, project, given["port_id"], given["fixed_ip_address"]
    )
    fip_id = str(uuid.uuid4())
    address = await ipam.allocate(
        caller.db, network.id, store.view(subnets[0]), owner(fip_id), given["floating_ip_address"]
    )
    row = store.add(
        caller.db,
        store.FLOATINGIP,
        project,
        {
            "floating_ip_address": address,
            "floating_network_id": network.id,
            "description": given["description"],
            "status": "DOWN",
            **linked,
        },
        object_id=fip_id,
    )
    await _follow(caller, row, None)
    await caller.db.commit()
    return row


async def update(caller: Caller, row: NetResource, given: dict[str, Any]) -> None:
    """Associate (port_id), move or disassociate (port_id null); the pod follows by a job."""
    if "port_id" in given:
        network = await find(caller, store.NETWORK, row.body["floating_network_id"])
        if given["port_id"] != row.body.get("port_id"):
            given.update(
                await _association(
                    caller, network, row.project_id, given["port_id"], given.get("fixed_ip_address")
                )
            )
    before = row.body.get("router_id")
    if store.change(row, given):
        await _follow(caller, row, before)
    await caller.db.commit()


async def delete(caller: Caller, row: NetResource) -> None:
    """The floating IP and its address go; the pod's copy by a job."""
    await release(caller, row)
    await caller.db.commit()


async def release(caller: Caller, row: NetResource) -> None:
    """The floating IP and its address go, in the caller's transaction; the pod's copy
    by a job."""
    await ipam.release(caller.db, owner(row.id))
    await caller.db.delete(row)
    await _follow(caller, row, row.body.get("router_id"))


async def _follow(caller: Caller, row: NetResource, router_before: str | None) -> None:
    """The pods follow a floating IP's change by jobs: its own copy, and the routers it
    left and joined (a port of another pod needs a shadow copy in the gateway's pod)."""
    await queue.enqueue(caller.db, JOB_SYNC, row.id, row.project_id, {})
    for router_id in {router_before, row.body.get("router_id")} - {None}:
        await queue.enqueue(caller.db, routers.JOB_BUILD, str(router_id), row.project_id, {})


async def on_ports(caller: Caller, port_ids: list[str]) -> None:
    """Ports just reached a pod: their floating IPs follow (in the caller's transaction)."""
    for fip in await store.rows(caller.db, store.FLOATINGIP):
        if fip.body.get("port_id") in port_ids:
            await queue.enqueue(caller.db, JOB_SYNC, fip.id, fip.project_id, {})

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

from sqlalchemy import select

from cascade.db.models import NetResource, Pod
from cascade.jobs import queue
from cascade.pods.network import PodNeutron
from cascade.pods.registry import PodRegistry
from cascade.services import copies
from cascade.services.network import attrs, ipam, materialise, quotas, routers, store
from cascade.services.network.access import Caller, find
from cascade.services.network.errors import (
    BadRequest,
    Conflict,
    NeutronError,
    PolicyNotAuthorized,
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
CROSS_POD = "floating IPs across pods come in a later release"


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


async def _pod_name(caller: Caller, pod_id: str) -> str:
    pod = await caller.db.get(Pod, pod_id)
    return pod.name if pod is not None else pod_id


async def _association(
    caller: Caller, network: NetResource, port_id: str | None, fixed: str | None
) -> dict[str, Any]:
    """router_id, port_id and fixed_ip_address for associating with `port_id` (or none)."""
    if not port_id:
        return {"port_id": None, "fixed_ip_address": None, "router_id": None}
    port = await find(caller, store.PORT, str(port_id))
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
    home = str(network.body.get("_home_pod"))
    for pod in (await caller.db.scalars(select(Pod))).all():
        if pod.id != home and await materialise.bottom_id(
            caller.db, materialise.PORT, port.id, pod.id
        ):
            raise Conflict(
                f"Port {port.id} is in pod {pod.name} and external network {network.id} in "
                f"pod {await _pod_name(caller, home)}: {CROSS_POD}.",
                type="FloatingIPAcrossPods",
            )
    return {"port_id": port.id, "fixed_ip_address": chosen["ip_address"], "router_id": router.id}


async def create(caller: Caller, body: Any) -> NetResource:
    """A floating IP on an external network: 201; associated at once when `port_id` is
    given. Neutron's 400/404/409 otherwise; nothing is held after a refusal."""
    given = attrs.take(SPEC, body, "floatingip", caller.allows, update=False)
    project = attrs.owner(body, "floatingip", caller.project_id, caller.is_admin)
    network = await find(caller, store.NETWORK, given["floating_network_id"])
    if not network.body.get("router:external"):
        raise BadRequest(
            f"Bad floatingip request: Network {network.id} is not a valid external network."
        )
    if given["floating_ip_address"] is not None and not caller.is_admin:
        raise PolicyNotAuthorized("create_floatingip:floating_ip_address")
    await quotas.check(caller.db, caller.conf, project, "floatingip")
    subnets = [
        s
        for s in await store.rows(caller.db, store.SUBNET, parent_ids=[network.id])
        if s.body["ip_version"] == 4 and given["subnet_id"] in (None, s.id)
    ]
    if not subnets:
        raise BadRequest(f"Bad floatingip request: Network {network.id} has no IPv4 subnet.")
    linked = await _association(caller, network, given["port_id"], given["fixed_ip_address"])
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
    await queue.enqueue(caller.db, JOB_SYNC, row.id, project, {})
    await caller.db.commit()
    return row


async def update(caller: Caller, row: NetResource, given: dict[str, Any]) -> None:
    """Associate (port_id), move or disassociate (port_id null); the pod follows by a job."""
    if "port_id" in given:
        network = await find(caller, store.NETWORK, row.body["floating_network_id"])
        if given["port_id"] != row.body.get("port_id"):
            given.update(
                await _association(caller, network, given["port_id"], given.get("fixed_ip_address"))
            )
    if store.change(row, given):
        await queue.enqueue(caller.db, JOB_SYNC, row.id, row.project_id, {})
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
    await queue.enqueue(caller.db, JOB_SYNC, row.id, row.project_id, {})


async def on_ports(caller: Caller, port_ids: list[str]) -> None:
    """Ports just reached a pod: their floating IPs follow (in the caller's transaction)."""
    for fip in await store.rows(caller.db, store.FLOATINGIP):
        if fip.body.get("port_id") in port_ids:
            await queue.enqueue(caller.db, JOB_SYNC, fip.id, fip.project_id, {})


async def sync(caller: Caller, registry: PodRegistry, fip_id: str) -> None:
    """The pod holds the floating IP exactly while its port is associated and in the
    external network's pod (the job's work; safe to repeat)."""
    row = await store.get(caller.db, store.FLOATINGIP, fip_id)
    routings = await copies.copies(caller.db, materialise.FLOATINGIP, fip_id, intents=True)
    wanted_pod = None
    if row is not None and row.body.get("port_id"):
        network = await store.get(caller.db, store.NETWORK, row.body["floating_network_id"])
        home = str(network.body.get("_home_pod")) if network is not None else ""
        if await materialise.bottom_id(caller.db, materialise.PORT, row.body["port_id"], home):
            wanted_pod = home
    for routing in routings:
        pod = await caller.db.get(Pod, routing.pod_id)
        if pod is None:
            continue
        neutron = PodNeutron(registry, pod)
        current = None
        if routing.bottom_id:
            resp = await neutron.call("GET", f"/floatingips/{routing.bottom_id}")
            current = resp.json()["floatingip"] if resp.status_code == 200 else None
        b_port = (
            (await materialise.bottom_id(caller.db, materialise.PORT, row.body["port_id"], pod.id))
            if row is not None and row.body.get("port_id")
            else None
        )
        if routing.pod_id != wanted_pod or current is None or current.get("port_id") != b_port:
            if routing.bottom_id:
                await neutron.delete("floatingips", routing.bottom_id)
            await caller.db.delete(routing)
            await caller.db.commit()
    if row is None or wanted_pod is None:
        if row is not None and row.body.get("status") != "DOWN":
            store.change(row, {"status": "DOWN"})
            await caller.db.commit()
        return
    pod = await caller.db.get(Pod, wanted_pod)
    assert pod is not None
    neutron = PodNeutron(registry, pod)
    names = {pod.id: pod.name}
    network = await store.get(caller.db, store.NETWORK, row.body["floating_network_id"])
    assert network is not None
    b_net, _ = await materialise.ensure_network(caller.db, neutron, network, names)
    b_port = await materialise.bottom_id(caller.db, materialise.PORT, row.body["port_id"], pod.id)
    body = {
        "description": row.id,
        "project_id": row.project_id,
        "floating_network_id": b_net,
        "floating_ip_address": row.body["floating_ip_address"],
        "port_id": b_port,
        "fixed_ip_address": row.body.get("fixed_ip_address"),
    }
    await materialise.ensure(
        caller.db, neutron, materialise.FLOATINGIP, row.id, row.project_id, body
    )
    if row.body.get("status") != "ACTIVE":
        store.change(row, {"status": "ACTIVE"})
        await caller.db.commit()

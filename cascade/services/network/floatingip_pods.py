"""A top floating IP in its external network's pod: made, moved and removed by its job.

The floating IP lives in the pod of its external network (the gateway's pod of
its router), whatever pod its port is in:
- a port in that pod: the pod's floating IP is on the port's own copy;
- a port in another pod: on a *shadow* port in the gateway's pod, which has the
  port's fixed address and a MAC of its own from the top, is never bound (no
  server, no wire: it only holds the association), and sits on the port's
  network there (a VLAN network's copy, anchored with the router's interface),
  or on the router's shadow copy of a local subnet (`router_pods`). The
  router's routes carry the packets on to the port's pod.

A change of port, a port that left, a disassociation: the old floating IP and
shadow port go first, then the new ones are made (routing intent first, named
after the floating IP). The router's build job makes the shadow subnets; until
it has, the floating IP is DOWN, and the build queues this job again once it has.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.models import NetMac, NetResource, Pod
from cascade.pods.network import PodNeutron
from cascade.pods.registry import PodRegistry
from cascade.services import copies
from cascade.services.network import ipam, materialise, router_plan, store
from cascade.services.network.access import Caller
from cascade.services.network.errors import Conflict
from cascade.services.network.materialise import (
    FLOATINGIP,
    NETWORK,
    PORT,
    SHADOW_NETWORK,
    SHADOW_PORT,
    SHADOW_SUBNET,
    SUBNET,
)


def shadow_owner(fip_id: str) -> str:
    return f"shadow-port:{fip_id}"


async def _shadow_body(db: AsyncSession, fip: NetResource, pod: Pod) -> dict[str, Any] | None:
    """The shadow port the floating IP needs in its pod for a port of another pod (None:
    the subnet it goes on is not in the pod yet)."""
    port = await store.get(db, store.PORT, str(fip.body["port_id"]))
    subnet_id = await router_plan.fixed_subnet(db, fip)
    network = await store.get(db, store.NETWORK, port.parent_id or "") if port else None
    if port is None or network is None or subnet_id is None:
        raise Conflict(f"Floating IP {fip.id}: its port is gone.", type="PortNotFound")
    if router_plan.is_local(network):
        shadow_id = router_plan.shadow_interface_id(str(fip.body["router_id"]), subnet_id)
        b_net = await materialise.bottom_id(db, SHADOW_NETWORK, shadow_id, pod.id)
        b_sub = await materialise.bottom_id(db, SHADOW_SUBNET, shadow_id, pod.id)
    else:
        b_net = await materialise.bottom_id(db, NETWORK, network.id, pod.id)
        b_sub = await materialise.bottom_id(db, SUBNET, subnet_id, pod.id)
    if not b_net or not b_sub:
        return None  # the router's build makes them, then queues this job again
    mac = await _shadow_mac(db, fip, network.id)
    return {
        "name": materialise.bottom_name(SHADOW_PORT, fip.id),
        "description": f"stands in for port {port.id}",
        "project_id": fip.project_id,
        "network_id": b_net,
        "mac_address": mac,
        "fixed_ips": [{"subnet_id": b_sub, "ip_address": fip.body["fixed_ip_address"]}],
        "port_security_enabled": False,
    }


async def _shadow_mac(db: AsyncSession, fip: NetResource, network_id: str) -> str:
    """The shadow port's MAC: one of the top's, held while the shadow is wanted."""
    owner = shadow_owner(fip.id)
    held = await db.scalar(select(NetMac).where(NetMac.owner == owner))
    if held is not None:
        return str(held.mac_address)
    mac = await ipam.allocate_mac(db, owner, network_id)
    await db.commit()
    return mac


def _same_shadow(current: dict[str, Any] | None, wanted: dict[str, Any]) -> bool:
    if current is None:
        return False
    fixed = [(f["subnet_id"], f["ip_address"]) for f in current.get("fixed_ips", [])]
    return current.get("network_id") == wanted["network_id"] and fixed == [
        (f["subnet_id"], f["ip_address"]) for f in wanted["fixed_ips"]
    ]


async def _get(neutron: PodNeutron, collection: str, bottom_id: str | None) -> Any:
    if not bottom_id:
        return None
    resp = await neutron.call("GET", f"/{collection}/{bottom_id}")
    key = collection[:-1]
    return resp.json()[key] if resp.status_code == 200 else None


async def sync(caller: Caller, registry: PodRegistry, fip_id: str) -> None:
    """The external network's pod holds the floating IP exactly while it is associated
    with a port that is in some pod, on that port's copy or its shadow (the job's work;
    safe to repeat)."""
    db = caller.db
    row = await store.get(db, store.FLOATINGIP, fip_id)
    pod: Pod | None = None
    b_port: str | None = None
    shadow: dict[str, Any] | None = None
    waiting = False  # for the router's build to put the port's subnet into the pod
    if row is not None and row.body.get("port_id"):
        network = await store.get(db, store.NETWORK, row.body["floating_network_id"])
        held = await router_plan.port_pods(db, str(row.body["port_id"]))
        if network is not None and held:
            pod = await db.get(Pod, str(network.body.get("_home_pod")))
        if pod is not None and pod.id in held:
            b_port = await materialise.bottom_id(db, PORT, row.body["port_id"], pod.id)
        elif pod is not None:
            shadow = await _shadow_body(db, row, pod)
            waiting = shadow is None
    # the shadow port: kept only where and as wanted (else gone, its floating IP first)
    for routing, where in await copies.in_pods(db, SHADOW_PORT, fip_id, intents=True):
        neutron = PodNeutron(registry, where)
        current = await _get(neutron, "ports", routing.bottom_id)
        if (
            shadow is not None
            and pod is not None
            and where.id == pod.id
            and _same_shadow(current, shadow)
        ):
            b_port = routing.bottom_id
            continue
        await _drop_fip(db, registry, fip_id)
        await materialise.remove(db, neutron, (SHADOW_PORT,), fip_id)
    # the floating IP: kept only in the wanted pod, on the wanted port
    for routing, where in await copies.in_pods(db, FLOATINGIP, fip_id, intents=True):
        current = await _get(PodNeutron(registry, where), "floatingips", routing.bottom_id)
        wrong = current is None or current.get("port_id") != b_port
        if pod is None or where.id != pod.id or wrong:
            await _drop_fip(db, registry, fip_id, where.id)
    if row is None or pod is None or (b_port is None and shadow is None):
        if not waiting:
            await ipam.release_mac(db, shadow_owner(fip_id))
        await db.commit()
        if row is not None:
            await _status(db, fip_id, "DOWN", row.body.get("port_id"))
        return
    neutron = PodNeutron(registry, pod)
    if b_port is None and shadow is not None:
        b_port = await materialise.ensure(db, neutron, SHADOW_PORT, fip_id, row.project_id, shadow)
    network = await store.get(db, store.NETWORK, row.body["floating_network_id"])
    assert network is not None
    b_net, _ = await materialise.ensure_network(db, neutron, network, {pod.id: pod.name})
    body = {
        "description": row.id,
        "project_id": row.project_id,
        "floating_network_id": b_net,
        "floating_ip_address": row.body["floating_ip_address"],
        "port_id": b_port,
        "fixed_ip_address": row.body.get("fixed_ip_address"),
    }
    await materialise.ensure(db, neutron, FLOATINGIP, row.id, row.project_id, body)
    if shadow is None:
        await ipam.release_mac(db, shadow_owner(fip_id))
    await db.commit()
    await _status(db, fip_id, "ACTIVE", row.body.get("port_id"))


async def _status(db: AsyncSession, fip_id: str, status: str, port_id: Any) -> None:
    """The floating IP's status, read again under a row lock and set only if it is still
    associated as this run found it: an update made at the top meanwhile (a new port, a
    disassociation) is never overwritten by this run's older copy of the row, and its
    own job sets the status it leads to."""
    row = await store.locked(db, store.FLOATINGIP, fip_id)
    if row is not None and row.body.get("port_id") == port_id and row.body.get("status") != status:
        store.change(row, {"status": status})
    await db.commit()


async def unshadow(db: AsyncSession, registry: PodRegistry, fip_id: str, pod: Pod) -> None:
    """The floating IP's shadow port in `pod` goes, and the pod's floating IP with it: the
    port it stands in for is coming to that pod (a server moving in), whose own copy
    needs the address. The floating IP's job puts it on that copy once it is there."""
    if await copies.reread(db, SHADOW_PORT, fip_id, pod.id) is None:
        return
    await _drop_fip(db, registry, fip_id, pod.id)
    await materialise.remove(db, PodNeutron(registry, pod), (SHADOW_PORT,), fip_id)


async def _drop_fip(
    db: AsyncSession, registry: PodRegistry, fip_id: str, pod_id: str | None = None
) -> None:
    """The pod's copy of the floating IP goes (every pod's, or `pod_id`'s)."""
    for _, where in await copies.in_pods(db, FLOATINGIP, fip_id, intents=True):
        if pod_id in (None, where.id):
            await materialise.remove(db, PodNeutron(registry, where), (FLOATINGIP,), fip_id)

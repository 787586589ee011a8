"""A top router's bottom routers: built, repaired and removed by its jobs.

`build` makes every pod of the router's span (`router_plan`) hold exactly what
the plan says: the bottom router (named after the top id), its bridge port, its
gateway in the gateway's pod, the interfaces anchored there (the top's ports, at
the top's addresses and MACs, attached by port), the shadow interfaces that hold
floating IPs for ports of other pods, and the routes. A pod that left the span
loses its bottom router and everything made for it. Every object is made by
routing intent first (`copies.ensure`), so a crash or a second run adopts what
the first made; every step compares with what the pod has, so a run repeated is
a run that changes nothing.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.conf import NetworkSection
from cascade.db.models import NetResource, Pod, Routing
from cascade.jobs import queue
from cascade.pods.network import PodNeutron
from cascade.pods.registry import PodRegistry
from cascade.services import copies
from cascade.services.network import bridges, ipam, materialise, router_plan, store
from cascade.services.network.errors import NeutronError
from cascade.services.network.materialise import (
    PORT,
    ROUTER,
    SHADOW_INTERFACE,
    SHADOW_NETWORK,
    SHADOW_SUBNET,
)
from cascade.services.network.router_plan import INTERFACE, Plan

SHADOW = "router_shadow"
FIP_SYNC = "floatingip.sync"  # the top's record of a shadow copy (id: the interface's)


def shadow_owner(shadow_id: str) -> str:
    return f"shadow:{shadow_id}"


async def _pods(db: AsyncSession) -> dict[str, Pod]:
    return {p.id: p for p in (await db.scalars(select(Pod))).all()}


async def build(
    db: AsyncSession, conf: NetworkSection, registry: PodRegistry, router: NetResource
) -> Plan:
    """Every pod of the router's span holds what the plan says; pods that left it hold
    nothing of the router any more. Safe to repeat; the plan is returned."""
    plan = await router_plan.plan(db, router)
    pods = await _pods(db)
    # a pod deleted (by force) with subnets anchored in it: no bottom router, no route there
    plan.span = [p for p in plan.span if p in pods]
    names = {p.id: p.name for p in pods.values()}
    bridge: dict[str, tuple[str, str]] = {}
    if plan.bridged:
        cidrs = [s.body["cidr"] for s, _, _ in plan.subnets.values()]
        bridge = await bridges.addresses(db, conf, router, plan.span, cidrs)
    shadows = await _shadow_records(db, plan)

    async def in_pod(pod_id: str) -> None:
        # each pod on a session of its own: the pods of a group are built at the same time
        async with AsyncSession(db.bind, expire_on_commit=False) as own:
            neutron = PodNeutron(registry, pods[pod_id])
            await _build_in(own, conf, neutron, plan, names, bridge, shadows)

    # an interface that moves (a VLAN's, with the router's home) leaves its old pod before
    # it is made in the new one: its address and MAC are never on the segment twice
    for routing, pod in await copies.in_pods(db, ROUTER, router.id, intents=True):
        if pod.id not in plan.span:
            await purge_in(db, PodNeutron(registry, pod), router.id, routing, plan)
    losing = {
        r.pod_id
        for port_id, anchor in plan.anchors.items()
        for r in await copies.copies(db, PORT, port_id, intents=True)
        if r.pod_id != anchor
    }
    for group in ([p for p in plan.span if p in losing], [p for p in plan.span if p not in losing]):
        results = await asyncio.gather(*(in_pod(p) for p in group), return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            raise failed[0]  # the attempt fails; what the other pods finished stays done
    if not plan.bridged:
        await bridges.release(db, router.id)
    return plan


async def purge(db: AsyncSession, registry: PodRegistry, router_id: str) -> None:
    """The router is gone at the top: every pod's bottom router and what was made for it
    go, then the bridge and shadow addresses are free at the top."""
    for routing, pod in await copies.in_pods(db, ROUTER, router_id, intents=True):
        await purge_in(db, PodNeutron(registry, pod), router_id, routing, None)
    for record in await store.rows(db, SHADOW, parent_ids=[router_id]):
        await _drop_shadow_record(db, record)
    await bridges.release(db, router_id)


async def _build_in(
    db: AsyncSession,
    conf: NetworkSection,
    neutron: PodNeutron,
    plan: Plan,
    names: dict[str, str],
    bridge: dict[str, tuple[str, str]],
    shadows: list[NetResource],
) -> None:
    router, pod_id = plan.router, neutron.pod.id
    body = {
        "name": router.id,
        "project_id": router.project_id,
        "description": str(router.body.get("name", ""))[:255],
        "admin_state_up": router.body.get("admin_state_up", True),
    }
    b_router = await materialise.ensure(db, neutron, ROUTER, router.id, router.project_id, body)
    current = (await neutron.ok("GET", f"/routers/{b_router}", "a router lookup"))["router"]
    if current.get("admin_state_up") != body["admin_state_up"]:
        await neutron.ok(
            "PUT",
            f"/routers/{b_router}",
            "a router update",
            json={"router": {"admin_state_up": body["admin_state_up"]}},
        )
    await _gateway(db, neutron, plan, b_router, current, names)
    # bottom port -> (the top interface port it copies or None, the subnets it serves)
    wanted: dict[str, tuple[NetResource | None, list[str]]] = {}
    if plan.bridged:
        address, mac = bridge[pod_id]
        wanted[await bridges.ensure(db, neutron, conf, router, address, mac)] = (None, [])
    for port in plan.interfaces_in(pod_id):
        subnets = [ip["subnet_id"] for ip in port.body.get("fixed_ips", [])]
        wanted[await materialise.ensure_port(db, neutron, port, names)] = (port, subnets)
    if pod_id == plan.gateway_pod:
        for record in shadows:
            subnets = [str(record.body["subnet_id"])]
            wanted[await _ensure_shadow(db, neutron, plan, record)] = (None, subnets)
    for b_port, (top_port, subnets) in sorted(wanted.items()):
        found = await neutron.ok("GET", f"/ports/{b_port}", "a port lookup")
        if found["port"].get("device_id") != b_router:
            await neutron.ok(
                "PUT",
                f"/routers/{b_router}/add_router_interface",
                "a router interface",
                json={"port_id": b_port},
            )
            if top_port is not None:  # the pod binds it now: its status follows to the top
                await queue.enqueue(db, "port.status", top_port.id, top_port.project_id, {})
            if pod_id == plan.gateway_pod:  # floating IPs waiting for the subnet go on
                await _floating_ips_follow(db, router.id, subnets)
            await db.commit()
    # the routes once every interface they need is there, before stale interfaces go
    routes = plan.routes(pod_id, {p: a for p, (a, _) in bridge.items()})
    if _route_set(current.get("routes")) != _route_set(routes):
        await neutron.ok(
            "PUT",
            f"/routers/{b_router}",
            "the router's routes",
            json={"router": {"routes": routes}},
        )
    await remove_stale(neutron, b_router, set(wanted))
    await _forget_moved(db, neutron, plan)
    if not plan.bridged:
        await bridges.remove(db, neutron, router.id)
    await _drop_stale_shadows(db, neutron, plan, shadows)


def _route_set(routes: Any) -> set[tuple[str, str]]:
    return {(str(r["destination"]), str(r["nexthop"])) for r in routes or []}


async def _gateway(
    db: AsyncSession,
    neutron: PodNeutron,
    plan: Plan,
    b_router: str,
    current: dict[str, Any],
    names: dict[str, str],
) -> None:
    """The gateway in the gateway's pod only (at the top's address); none elsewhere."""
    info = plan.router.body.get("external_gateway_info")
    gateway: dict[str, Any] = {}
    if info and plan.gateway_pod == neutron.pod.id:
        network = await store.get(db, store.NETWORK, info["network_id"])
        if network is not None:
            b_net, b_subs = await materialise.ensure_network(db, neutron, network, names)
            fixed = [
                {"subnet_id": b_subs[f["subnet_id"]], "ip_address": f["ip_address"]}
                for f in info["external_fixed_ips"]
                if f["subnet_id"] in b_subs
            ]
            gateway = {
                "network_id": b_net,
                "enable_snat": info.get("enable_snat", True),
                "external_fixed_ips": fixed,
            }
    have = current.get("external_gateway_info") or {}
    if have.get("network_id") != gateway.get("network_id") or (
        gateway
        and (
            bool(have.get("enable_snat", True)) != bool(gateway["enable_snat"])
            or _addresses(have) != _addresses(gateway)
        )
    ):
        # a new network, SNAT or address: the pod's gateway follows (reset in place)
        await neutron.ok(
            "PUT",
            f"/routers/{b_router}",
            "a router gateway",
            json={"router": {"external_gateway_info": gateway}},
        )


def _addresses(info: dict[str, Any]) -> list[str]:
    return sorted(str(f.get("ip_address")) for f in info.get("external_fixed_ips") or [])


async def remove_stale(neutron: PodNeutron, b_router: str, wanted: set[str]) -> None:
    """Interfaces of the bottom router that the plan no longer has go (the pod deletes
    their ports)."""
    found = await neutron.ok(
        "GET", "/ports", "a port lookup", params={"device_id": b_router, "device_owner": INTERFACE}
    )
    for port in found["ports"]:
        if port["id"] not in wanted:
            resp = await neutron.call(
                "PUT", f"/routers/{b_router}/remove_router_interface", json={"port_id": port["id"]}
            )
            if resp.status_code not in (200, 404):
                raise NeutronError(
                    f"pod {neutron.pod.name} kept interface {port['id']}: {resp.text[:300]}",
                    409,
                    "RouterInterfaceInUse",
                )


async def _forget_moved(db: AsyncSession, neutron: PodNeutron, plan: Plan | None) -> None:
    """Copies in this pod of the router's interface ports anchored elsewhere now (a VLAN
    interface follows the router's home to its new gateway's pod): gone and forgotten."""
    if plan is None:
        return
    for port_id, anchor in plan.anchors.items():
        if anchor == neutron.pod.id:
            continue
        routing = await copies.reread(db, PORT, port_id, neutron.pod.id)
        if routing is None:
            continue
        if routing.bottom_id:
            await neutron.delete("ports", routing.bottom_id)
        await db.delete(routing)
        await db.commit()


async def purge_in(
    db: AsyncSession, neutron: PodNeutron, router_id: str, routing: Routing, plan: Plan | None
) -> None:
    """The bottom router in this pod goes with its routes, gateway, interfaces, bridge
    and shadow copies (the top's interface ports keep their own copies elsewhere)."""
    if routing.bottom_id:
        resp = await neutron.call("GET", f"/routers/{routing.bottom_id}")
        if resp.status_code == 200:
            await neutron.ok(
                "PUT",
                f"/routers/{routing.bottom_id}",
                "clearing a router",
                json={"router": {"routes": [], "external_gateway_info": {}}},
            )
            await remove_stale(neutron, routing.bottom_id, set())
            await neutron.delete("routers", routing.bottom_id)
    await _forget_moved(db, neutron, plan)
    await bridges.remove(db, neutron, router_id)
    for record in await store.rows(db, SHADOW, parent_ids=[router_id]):
        if record.body.get("pod_id") == neutron.pod.id:
            await _remove_shadow(db, neutron, record)
    await db.delete(routing)
    await db.commit()


# --- shadow copies: a local subnet of another pod, in the gateway's pod ---------------


async def _floating_ips_follow(db: AsyncSession, router_id: str, subnet_ids: list[str]) -> None:
    """The router's floating IPs for ports on the subnets: their jobs queued (the caller
    commits)."""
    for fip in await store.rows(db, store.FLOATINGIP):
        if fip.body.get("router_id") != router_id or not fip.body.get("port_id"):
            continue
        if await router_plan.fixed_subnet(db, fip) in subnet_ids:
            await queue.enqueue(db, FIP_SYNC, fip.id, fip.project_id, {})


async def _shadow_records(db: AsyncSession, plan: Plan) -> list[NetResource]:
    """The records of the shadow copies the plan needs (made now where missing, with an
    address on the subnet and a MAC for the router's interface there: committed)."""
    out = []
    for subnet_id in plan.shadows:
        subnet, network, _ = plan.subnets[subnet_id]
        shadow_id = router_plan.shadow_interface_id(plan.router.id, subnet_id)
        record = await store.get(db, SHADOW, shadow_id)
        if record is None:
            owner = shadow_owner(shadow_id)
            address = await ipam.allocate(db, network.id, store.view(subnet), owner)
            mac = await ipam.allocate_mac(db, owner, network.id)
            body = {
                "subnet_id": subnet.id,
                "network_id": network.id,
                "pod_id": plan.gateway_pod,
                "ip_address": address,
                "mac_address": mac,
            }
            record = store.add(db, SHADOW, plan.router.project_id, body, plan.router.id, shadow_id)
            await db.commit()
        out.append(record)
    return out


async def _ensure_shadow(
    db: AsyncSession, neutron: PodNeutron, plan: Plan, record: NetResource
) -> str:
    """The subnet's disconnected copy in this pod (network, subnet without DHCP) and the
    router's interface on it: the interface's bottom port id."""
    subnet, network, _ = plan.subnets[str(record.body["subnet_id"])]
    project = plan.router.project_id
    b_net = await materialise.ensure(
        db,
        neutron,
        SHADOW_NETWORK,
        record.id,
        project,
        {
            "name": materialise.bottom_name(SHADOW_NETWORK, record.id),
            "description": f"copy of network {network.id} for floating IPs of router "
            f"{plan.router.id}",
            "project_id": project,
            "port_security_enabled": False,
        },
    )
    b_sub = await materialise.ensure(
        db,
        neutron,
        SHADOW_SUBNET,
        record.id,
        project,
        {
            "name": materialise.bottom_name(SHADOW_SUBNET, record.id),
            "project_id": project,
            "network_id": b_net,
            "ip_version": 4,
            "cidr": subnet.body["cidr"],
            "gateway_ip": None,
            "enable_dhcp": False,
            "allocation_pools": [
                {"start": record.body["ip_address"], "end": record.body["ip_address"]}
            ],
        },
    )
    return await materialise.ensure(
        db,
        neutron,
        SHADOW_INTERFACE,
        record.id,
        project,
        {
            "name": materialise.bottom_name(SHADOW_INTERFACE, record.id),
            "project_id": project,
            "network_id": b_net,
            "mac_address": record.body["mac_address"],
            "fixed_ips": [{"subnet_id": b_sub, "ip_address": record.body["ip_address"]}],
            "port_security_enabled": False,
        },
    )


async def shadow_subnet(
    db: AsyncSession, router_id: str, subnet_id: str, pod_id: str
) -> str | None:
    """The bottom id of a subnet's shadow copy for the router in the pod (None: not made)."""
    shadow_id = router_plan.shadow_interface_id(router_id, subnet_id)
    return await materialise.bottom_id(db, SHADOW_SUBNET, shadow_id, pod_id)


async def _drop_stale_shadows(
    db: AsyncSession, neutron: PodNeutron, plan: Plan, wanted: list[NetResource]
) -> None:
    keep = {r.id for r in wanted}
    for record in await store.rows(db, SHADOW, parent_ids=[plan.router.id]):
        if record.id not in keep and record.body.get("pod_id") == neutron.pod.id:
            await _remove_shadow(db, neutron, record)


async def _remove_shadow(db: AsyncSession, neutron: PodNeutron, record: NetResource) -> None:
    """A shadow copy goes from the pod (its interface is detached already), then its
    record and address."""
    kinds = (SHADOW_INTERFACE, SHADOW_SUBNET, SHADOW_NETWORK)
    await materialise.remove(db, neutron, kinds, record.id)
    await _drop_shadow_record(db, record)


async def _drop_shadow_record(db: AsyncSession, record: NetResource) -> None:
    if await copies.copies(db, SHADOW_NETWORK, record.id, intents=True):
        return  # a pod still holds the copy (its pod was unreachable): kept for a retry
    await ipam.release(db, shadow_owner(record.id))
    await ipam.release_mac(db, shadow_owner(record.id))
    await db.delete(record)
    await db.commit()

"""The bridge of a router that spans pods: one VLAN joining its bottom routers.

The top keeps the bridge as a hidden object (kind `router_bridge`, its id the
bridge network's, its parent the router): a VLAN id of `[network] vlan_ranges`
(held in `net_segments` like a top network's) and a subnet of `[network]
bridge_cidr` that overlaps none of the router's subnets. Each pod of the span
has an address and a MAC on it from the top's IPAM (owner `bridge:<router>:<pod>`),
so no two pods' bridge ports share either. In a pod the bridge is a provider VLAN
network, a subnet without DHCP or gateway, and one port at the pod's address,
attached to the bottom router by port (the pod allocates nothing on the VLAN).
Everything is made by the router's build job, which also removes a pod's bridge
when the pod leaves the span, and the whole bridge when no pod needs it.
"""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.conf import NetworkSection
from cascade.db.models import NetAddress, NetMac, NetResource
from cascade.pods.network import PodNeutron
from cascade.services import copies
from cascade.services.network import ipam, materialise, segments, store
from cascade.services.network.errors import Conflict
from cascade.services.network.materialise import BRIDGE_NETWORK, BRIDGE_PORT, BRIDGE_SUBNET

KIND = "router_bridge"


def owner(router_id: str, pod_id: str) -> str:
    return f"bridge:{router_id}:{pod_id}"


async def find(db: AsyncSession, router_id: str) -> NetResource | None:
    found = await store.rows(db, KIND, parent_ids=[router_id])
    return found[0] if found else None


def choose_cidr(conf: NetworkSection, taken: list[str]) -> str:
    """The first `bridge_prefixlen` subnet of `bridge_cidr` overlapping none of `taken`."""
    pool = ipaddress.ip_network(conf.bridge_cidr, strict=False)
    used = [ipaddress.ip_network(c, strict=False) for c in taken]
    for candidate in pool.subnets(new_prefix=conf.bridge_prefixlen):
        if not any(candidate.version == u.version and candidate.overlaps(u) for u in used):
            return str(candidate)
    raise Conflict(
        f"No bridge subnet is free in {conf.bridge_cidr}: the router's subnets cover it.",
        type="RouterBridgeUnavailable",
    )


def _view(bridge: NetResource) -> dict[str, Any]:
    cidr = str(bridge.body["cidr"])
    return {"id": bridge.body["subnet_id"], "cidr": cidr, "allocation_pools": _pools(cidr)}


def _pools(cidr: str) -> list[dict[str, str]]:
    return ipam.default_pools(cidr, None)


async def addresses(
    db: AsyncSession,
    conf: NetworkSection,
    router: NetResource,
    span: list[str],
    cidrs: list[str],
) -> dict[str, tuple[str, str]]:
    """The bridge's address and MAC of every pod in `span` (made now where missing, with
    the bridge itself: committed). `cidrs`: the router's subnets, for a new bridge."""
    bridge = await find(db, router.id)
    if bridge is None:
        bridge_id = str(uuid.uuid4())
        vlan = await segments.allocate(db, conf, bridge_id, None)
        body = {"subnet_id": str(uuid.uuid4()), "cidr": choose_cidr(conf, cidrs), "vlan": vlan}
        bridge = store.add(db, KIND, router.project_id, body, router.id, bridge_id)
        await db.flush()
    out = {}
    for pod_id in span:
        mine = owner(router.id, pod_id)
        held = await db.scalar(select(NetAddress).where(NetAddress.owner == mine))
        mac = await db.scalar(select(NetMac).where(NetMac.owner == mine))
        address = (
            held.ip_address
            if held is not None
            else await ipam.allocate(db, bridge.id, _view(bridge), mine)
        )
        mac_address = (
            mac.mac_address if mac is not None else await ipam.allocate_mac(db, mine, bridge.id)
        )
        out[pod_id] = (address, mac_address)
    await db.commit()
    return out


async def ensure(
    db: AsyncSession,
    neutron: PodNeutron,
    conf: NetworkSection,
    router: NetResource,
    address: str,
    mac: str,
) -> str:
    """The pod's bridge port (network, subnet and port made where missing): its id."""
    bridge = await find(db, router.id)
    assert bridge is not None  # `addresses` made it
    project = router.project_id
    b_net = await materialise.ensure(
        db,
        neutron,
        BRIDGE_NETWORK,
        router.id,
        project,
        {
            "name": materialise.bottom_name(BRIDGE_NETWORK, router.id),
            "description": f"bridge of router {router.id}",
            "project_id": project,
            "provider:network_type": "vlan",
            "provider:physical_network": conf.physical_network,
            "provider:segmentation_id": bridge.body["vlan"],
            "port_security_enabled": False,
        },
    )
    b_sub = await materialise.ensure(
        db,
        neutron,
        BRIDGE_SUBNET,
        router.id,
        project,
        {
            "name": materialise.bottom_name(BRIDGE_SUBNET, router.id),
            "project_id": project,
            "network_id": b_net,
            "ip_version": 4,
            "cidr": bridge.body["cidr"],
            "gateway_ip": None,
            "enable_dhcp": False,
            "allocation_pools": [{"start": address, "end": address}],
        },
    )
    return await materialise.ensure(
        db,
        neutron,
        BRIDGE_PORT,
        router.id,
        project,
        {
            "name": materialise.bottom_name(BRIDGE_PORT, router.id),
            "project_id": project,
            "network_id": b_net,
            "mac_address": mac,
            "fixed_ips": [{"subnet_id": b_sub, "ip_address": address}],
            "port_security_enabled": False,
        },
    )


async def remove(db: AsyncSession, neutron: PodNeutron, router_id: str) -> None:
    """The pod's bridge goes (port, subnet, network: the caller detached the port from
    the bottom router), then the pod's address and MAC are free at the top."""
    kinds = (BRIDGE_PORT, BRIDGE_SUBNET, BRIDGE_NETWORK)
    await materialise.remove(db, neutron, kinds, router_id)
    await ipam.release(db, owner(router_id, neutron.pod.id))
    await ipam.release_mac(db, owner(router_id, neutron.pod.id))
    await db.commit()


async def release(db: AsyncSession, router_id: str) -> None:
    """The bridge is gone from every pod: its VLAN, addresses and record go (committed)."""
    bridge = await find(db, router_id)
    if bridge is None:
        return
    if await copies.copies(db, BRIDGE_NETWORK, router_id, intents=True):
        return  # a pod still holds it
    await db.execute(delete(NetAddress).where(NetAddress.network_id == bridge.id))
    await db.execute(delete(NetMac).where(NetMac.owner.like(f"bridge:{router_id}:%")))
    await segments.release(db, bridge.id)
    await db.delete(bridge)
    await db.commit()

"""Where a top router lives in the pods, computed from the top's state alone.

A top router R has a *home* pod (its gateway's pod; without a gateway, the pod of
its first interface). Every interface is *anchored* in one pod, where the bottom
router holds it at the top's address and MAC: a `local` network's interface in
the network's own pod, every other (a VLAN that spans pods) in the home pod, so
one router port answers a VLAN subnet's gateway address in all pods. R has a
bottom router in every pod that anchors an interface or holds its gateway (its
*span*). When the span has more than one pod, the bottom routers are joined by
R's bridge (a VLAN of its own, `bridges`) and each gets routes to the subnets
anchored elsewhere, and a default route to the gateway's pod.

A floating IP from R's gateway for a port in another pod than the gateway's is
held in the gateway's pod by a *shadow* port (the port's address, never bound).
For a port on a `local` network of another pod, that pod's subnet gets a
disconnected copy in the gateway's pod with an interface of R there (vanilla
Neutron finds a floating IP's router by the port's subnet), and the routes to
it are split in halves so they win over the copy's connected route: packets
to the subnet still cross the bridge to the pod where it lives.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.models import NetResource
from cascade.services import copies
from cascade.services.network import materialise, store

INTERFACE = "network:router_interface"
DEFAULT_ROUTE = "0.0.0.0/0"
# a name space for the ids of objects made for a (router, subnet) pair
SHADOW_SPACE = uuid.UUID("6c0f3f2e-5b1d-4a8e-9a52-2f7d6c1e9b40")


def shadow_interface_id(router_id: str, subnet_id: str) -> str:
    """The top id the routing of R's interface on a subnet's shadow copy is kept under."""
    return str(uuid.uuid5(SHADOW_SPACE, f"{router_id}/{subnet_id}"))


@dataclasses.dataclass
class Plan:
    """What R needs in every pod (pod ids)."""

    router: NetResource
    home: str | None
    gateway_pod: str | None
    # top interface port -> the pod anchoring it
    anchors: dict[str, str]
    ports: dict[str, NetResource]
    # subnet of an interface -> (subnet, its network, the pod anchoring it)
    subnets: dict[str, tuple[NetResource, NetResource, str]]
    # local subnets of other pods that the gateway's pod holds a copy of (for floating IPs)
    shadows: list[str]
    span: list[str]

    @property
    def bridged(self) -> bool:
        return len(self.span) > 1

    def interfaces_in(self, pod_id: str) -> list[NetResource]:
        return [self.ports[p] for p, anchor in sorted(self.anchors.items()) if anchor == pod_id]

    def routes(self, pod_id: str, bridge_ips: dict[str, str]) -> list[dict[str, str]]:
        """The bottom router's routes in `pod_id`: the tenant's own (a nexthop anchored
        in another pod is reached over the bridge), then the subnets anchored elsewhere
        and the default route to the gateway's pod, via their pods' bridge addresses.
        Where the tenant names a destination, the tenant's route is the only one."""
        out: list[dict[str, str]] = []
        for route in self.router.body.get("routes") or []:
            anchor = self._anchor_of(route["nexthop"])
            if anchor in (None, pod_id):
                out.append(dict(route))
            elif anchor in bridge_ips and _v4(route["destination"]):
                out.append({"destination": route["destination"], "nexthop": bridge_ips[anchor]})
        taken = {r["destination"] for r in out}
        by_cidr = sorted(self.subnets.items(), key=lambda item: _sort_key(item[1][0]))
        for subnet_id, (subnet, _, anchor) in by_cidr:
            cidr = subnet.body["cidr"]
            if anchor == pod_id or anchor not in bridge_ips or not _v4(cidr):
                continue
            shadowed = pod_id == self.gateway_pod and subnet_id in self.shadows
            for dest in halves(cidr) if shadowed else [cidr]:
                if dest not in taken:
                    out.append({"destination": dest, "nexthop": bridge_ips[anchor]})
        gateway = self.gateway_pod
        if gateway and gateway != pod_id and gateway in bridge_ips and DEFAULT_ROUTE not in taken:
            out.append({"destination": DEFAULT_ROUTE, "nexthop": bridge_ips[gateway]})
        return out

    def _anchor_of(self, address: str) -> str | None:
        ip = ipaddress.ip_address(address)
        for subnet, _, anchor in self.subnets.values():
            if ip in ipaddress.ip_network(subnet.body["cidr"], strict=False):
                return anchor
        return None


def halves(cidr: str) -> list[str]:
    """The two halves of a CIDR (routes more specific than its connected route)."""
    net = ipaddress.ip_network(cidr, strict=False)
    if net.prefixlen >= net.max_prefixlen:
        return [str(net)]
    return [str(n) for n in net.subnets(prefixlen_diff=1)]


def _sort_key(subnet: NetResource) -> tuple[int, int, int]:
    net = ipaddress.ip_network(subnet.body["cidr"], strict=False)
    return (net.version, int(net.network_address), net.prefixlen)


def _v4(cidr: str) -> bool:
    return ipaddress.ip_network(cidr, strict=False).version == 4


def is_local(network: NetResource) -> bool:
    return network.body.get("provider:network_type") == "local"


async def interface_ports(db: AsyncSession, router_id: str) -> list[NetResource]:
    return [
        p
        for p in await store.rows(db, store.PORT)
        if p.body.get("device_id") == router_id and p.body.get("device_owner") == INTERFACE
    ]


async def port_pods(db: AsyncSession, port_id: str) -> list[str]:
    """The pods holding a copy of a top port (ids, those whose copy is made)."""
    return sorted(r.pod_id for r in await copies.copies(db, materialise.PORT, port_id))


async def plan(db: AsyncSession, router: NetResource) -> Plan:
    """R's plan from the top's state now (interfaces, gateway, floating IPs)."""
    home = router.body.get("_pod")
    info = router.body.get("external_gateway_info") or {}
    gateway_pod = None
    if info.get("network_id"):
        external = await store.get(db, store.NETWORK, info["network_id"])
        gateway_pod = str(external.body["_home_pod"]) if external is not None else None
    anchors: dict[str, str] = {}
    ports: dict[str, NetResource] = {}
    subnets: dict[str, tuple[NetResource, NetResource, str]] = {}
    for port in await interface_ports(db, router.id):
        network = await store.get(db, store.NETWORK, port.parent_id or "")
        if network is None or not home:
            continue
        anchor = str(network.body.get("_home_pod") or home) if is_local(network) else str(home)
        anchors[port.id] = anchor
        ports[port.id] = port
        ids = [ip["subnet_id"] for ip in port.body.get("fixed_ips", [])]
        for subnet in await store.rows(db, store.SUBNET, ids=ids):
            subnets[subnet.id] = (subnet, network, anchor)
    shadows: set[str] = set()
    if gateway_pod:
        for fip in await store.rows(db, store.FLOATINGIP):
            if fip.body.get("router_id") != router.id or not fip.body.get("port_id"):
                continue
            subnet_id = await fixed_subnet(db, fip)
            if subnet_id in subnets and subnets[subnet_id][2] != gateway_pod:
                shadows.add(subnet_id)
    span = set(anchors.values()) | ({gateway_pod} if gateway_pod else set())
    return Plan(router, home, gateway_pod, anchors, ports, subnets, sorted(shadows), sorted(span))


async def fixed_subnet(db: AsyncSession, fip: NetResource) -> str | None:
    """The subnet of the fixed address a floating IP is associated with."""
    port = await store.get(db, store.PORT, str(fip.body.get("port_id")))
    if port is None:
        return None
    for ip in port.body.get("fixed_ips", []):
        if ip["ip_address"] == fip.body.get("fixed_ip_address"):
            return str(ip["subnet_id"])
    return None

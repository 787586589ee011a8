"""What a pod needs before a server there can use a top network or port.

Every bottom object is a copy (`services.copies`) named after its top object's id, its
routing (of the object's project) written first by the one request that makes it.

For each pod that uses a top network the pod gets:
- the network: a provider VLAN network with the top's VLAN id (`vlan`), or a
  tenant network of the pod's own (`local`, only in its home pod);
- every subnet: the same CIDR, gateway, routes and name servers; an
  allocation pool of one address reserved for the pod at the top (the pod's
  DHCP port), so nothing the pod allocates can collide with another pod;
- a DHCP port with that address and a top MAC, made before DHCP is enabled
  (so no agent can race in with an address of its own);
- the port's security groups, their rules with remote groups expanded into
  the members' addresses;
- the port itself with the top's fixed IPs and MAC.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.models import NetAddress, NetMac, NetResource, Pod
from cascade.pods.network import PodNetworkRefused, PodNeutron
from cascade.services import copies
from cascade.services.network import ipam, store
from cascade.services.network.errors import Conflict

NETWORK, SUBNET, PORT, GROUP, DHCP = "network", "subnet", "port", "security_group", "dhcp_port"
ROUTER, FLOATINGIP = "router", "floatingip"
# a router spanning pods (`router_plan`): its bridge in each pod (top id: the router's)
BRIDGE_NETWORK, BRIDGE_SUBNET, BRIDGE_PORT = "bridge_network", "bridge_subnet", "bridge_port"
# copies that hold a floating IP in its external network's pod for a port elsewhere: a
# local subnet's copy (top ids: the network's, the subnet's), the router's interface on
# it (`router_plan.shadow_interface_id`) and the port's stand-in (the floating IP's id)
SHADOW_NETWORK, SHADOW_SUBNET = "shadow_network", "shadow_subnet"
SHADOW_INTERFACE, SHADOW_PORT = "shadow_interface", "shadow_port"
COLLECTION = {
    ROUTER: "routers",
    FLOATINGIP: "floatingips",
    NETWORK: "networks",
    SUBNET: "subnets",
    PORT: "ports",
    GROUP: "security-groups",
    DHCP: "ports",
    BRIDGE_NETWORK: "networks",
    BRIDGE_SUBNET: "subnets",
    BRIDGE_PORT: "ports",
    SHADOW_NETWORK: "networks",
    SHADOW_SUBNET: "subnets",
    SHADOW_INTERFACE: "ports",
    SHADOW_PORT: "ports",
}
PREFIX = {DHCP: "dhcp", BRIDGE_NETWORK: "bridge", BRIDGE_SUBNET: "bridge", BRIDGE_PORT: "bridge"}
PREFIX.update({k: "shadow" for k in (SHADOW_NETWORK, SHADOW_SUBNET, SHADOW_INTERFACE, SHADOW_PORT)})
RESERVE_TRIES = 8  # a pod's reserved address lost to concurrent allocations: try again
RULE_TRIES = 3  # a rule another sync of the same group created first: look again


def bottom_name(kind: str, top_id: str) -> str:
    return f"{PREFIX[kind]}-{top_id}" if kind in PREFIX else top_id


@dataclasses.dataclass
class NeutronCopy:
    """A top object's copy in a pod's Neutron (`copies.Kind`, top: the top id): the pod's
    object named after the top id (or the given `adopt` id) is taken as it is, else one
    is POSTed from `body`. Only one request makes it (Neutron allows duplicate names)."""

    resource: str
    body: dict[str, Any]
    adopt: str | None = None

    def name(self, top: str) -> str:
        return bottom_name(self.resource, top)

    def bottom_id(self, copy: dict[str, Any]) -> str:
        return str(copy["id"])

    async def find(self, api: PodNeutron, top: str) -> dict[str, Any] | None:
        if self.adopt:
            return {"id": self.adopt}
        # floating IPs have no name: theirs is the description
        field = "description" if self.resource == FLOATINGIP else "name"
        found = await api.named(COLLECTION[self.resource], self.name(top), field)
        return found[0] if found else None

    def same(self, copy: dict[str, Any], top: str) -> bool:
        return True

    async def create(self, api: PodNeutron, top: str) -> dict[str, Any] | None:
        collection = COLLECTION[self.resource]
        singular = "security_group" if self.resource == GROUP else collection[:-1]
        made = await api.ok(
            "POST", f"/{collection}", f"a {singular} copy", json={singular: self.body}
        )
        copy: dict[str, Any] = made[singular]
        return copy

    async def converge(self, api: PodNeutron, top: str, copy: dict[str, Any], fresh: bool) -> None:
        return None

    async def remove(self, api: PodNeutron, bottom_id: str) -> None:
        await api.delete(COLLECTION[self.resource], bottom_id)


async def ensure(
    db: AsyncSession,
    neutron: PodNeutron,
    kind: str,
    top_id: str,
    project: str,
    body: dict[str, Any],
    adopt: str | None = None,
) -> str:
    """The bottom id of top object `top_id` in the pod (`copies.ensure` of a `NeutronCopy`)."""
    return await copies.ensure(db, neutron, NeutronCopy(kind, body, adopt), top_id, top_id, project)


async def remove(
    db: AsyncSession, neutron: PodNeutron, kinds: tuple[str, ...], top_id: str
) -> None:
    """The pod's copies of `top_id` of each kind go, in that order, and their routings
    with them (an intent's copy, which may have been made, is found by its name)."""
    for kind in kinds:
        routing = await copies.reread(db, kind, top_id, neutron.pod.id)
        if routing is None:
            continue
        collection = COLLECTION[kind]
        if routing.bottom_id:
            await neutron.delete(collection, routing.bottom_id)
        else:
            field = "description" if kind == FLOATINGIP else "name"
            for found in await neutron.named(collection, bottom_name(kind, top_id), field):
                await neutron.delete(collection, str(found["id"]))
        await db.delete(routing)
        await db.commit()


async def bottom_id(db: AsyncSession, kind: str, top_id: str, pod_id: str) -> str | None:
    routing = await copies.reread(db, kind, top_id, pod_id)
    return routing.bottom_id if routing is not None and routing.status == "active" else None


# --- networks and subnets -------------------------------------------------------------


async def _home(
    db: AsyncSession, network: NetResource, pod: Pod, pods_by_id: dict[str, str]
) -> None:
    """A `local` network lives in one pod: the first that uses it; elsewhere 409."""
    if network.body.get("provider:network_type") != "local":
        return
    home = network.body.get("_home_pod")
    if home is None:
        # read again under a lock: two first uses at once home it once, and a change made
        # at the top since this session loaded the network is not overwritten
        fresh = await store.locked(db, store.NETWORK, network.id)
        home = fresh.body.get("_home_pod") if fresh is not None else None
        if fresh is not None and home is None:
            store.change(fresh, {"_home_pod": pod.id})
        await db.commit()
        if home is None:
            return
    if home != pod.id:
        raise Conflict(
            f"Network {network.id} is a local network of pod {pods_by_id.get(home, home)}; "
            f"it cannot be used from pod {pod.name} (availability zone {pod.az}).",
            type="NetworkInUse",
        )


def _network_body(network: NetResource) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": bottom_name(NETWORK, network.id),
        "description": str(network.body.get("name", ""))[:255],
        "project_id": network.project_id,
        "admin_state_up": network.body.get("admin_state_up", True),
        "port_security_enabled": network.body.get("port_security_enabled", True),
    }
    if network.body.get("provider:network_type") == "vlan":
        body["provider:network_type"] = "vlan"
        body["provider:physical_network"] = network.body["provider:physical_network"]
        body["provider:segmentation_id"] = network.body["provider:segmentation_id"]
    return body


async def _reserved(
    db: AsyncSession, network_id: str, subnet: NetResource, pod: Pod
) -> tuple[str, str]:
    """The address and MAC the top keeps for the pod on `subnet` (its DHCP port).

    Made on a session of its own: a concurrent allocation that takes the same address
    first rolls back only there (the caller's loaded objects stay), and it is tried
    again with the next free one."""
    owner = ipam.pod_owner(pod.id, subnet.id)
    view = store.view(subnet)
    for _ in range(RESERVE_TRIES):
        async with AsyncSession(db.bind, expire_on_commit=False) as side:
            held = await side.scalar(select(NetAddress).where(NetAddress.owner == owner))
            mac = await side.scalar(select(NetMac).where(NetMac.owner == owner))
            if held is not None and mac is not None:
                return held.ip_address, mac.mac_address
            try:
                address = (
                    held.ip_address
                    if held is not None
                    else await ipam.allocate(side, network_id, view, owner)
                )
                mac_address = (
                    mac.mac_address
                    if mac is not None
                    else await ipam.allocate_mac(side, owner, network_id)
                )
                await side.commit()
                return address, mac_address
            except IntegrityError:
                await side.rollback()
    raise Conflict(
        f"Could not reserve an address for pod {pod.name} on subnet {subnet.id}; retry.",
        type="IpAddressGenerationFailure",
    )


async def ensure_subnet(
    db: AsyncSession, neutron: PodNeutron, network: NetResource, subnet: NetResource, b_net: str
) -> str:
    known = await bottom_id(db, SUBNET, subnet.id, neutron.pod.id)
    dhcp_known = await bottom_id(db, DHCP, subnet.id, neutron.pod.id)
    if known and (dhcp_known or not subnet.body.get("enable_dhcp")):
        return known  # built already: later changes come by jobs (subnet.sync)
    address, mac = await _reserved(db, network.id, subnet, neutron.pod)
    body = subnet.body
    wanted: dict[str, Any] = {
        "name": bottom_name(SUBNET, subnet.id),
        "description": str(body.get("name", ""))[:255],
        "project_id": subnet.project_id,
        "network_id": b_net,
        "ip_version": body["ip_version"],
        "cidr": body["cidr"],
        "gateway_ip": body.get("gateway_ip"),
        "allocation_pools": [{"start": address, "end": address}],
        "host_routes": body.get("host_routes", []),
        "dns_nameservers": body.get("dns_nameservers", []),
        "enable_dhcp": False,  # on only once the DHCP port has the reserved address
    }
    for key in ("ipv6_ra_mode", "ipv6_address_mode"):
        if body.get(key):
            wanted[key] = body[key]
    b_sub = await ensure(db, neutron, SUBNET, subnet.id, subnet.project_id, wanted)
    if body.get("enable_dhcp"):
        dhcp = {
            "name": bottom_name(DHCP, subnet.id),
            "project_id": subnet.project_id,
            "network_id": b_net,
            "mac_address": mac,
            "fixed_ips": [{"subnet_id": b_sub, "ip_address": address}],
            "device_owner": "network:dhcp",
            "device_id": "reserved_dhcp_port",
        }
        await ensure(db, neutron, DHCP, subnet.id, subnet.project_id, dhcp)
        await neutron.ok(
            "PUT", f"/subnets/{b_sub}", "enabling DHCP", json={"subnet": {"enable_dhcp": True}}
        )
    return b_sub


async def ensure_network(
    db: AsyncSession, neutron: PodNeutron, network: NetResource, pod_names: dict[str, str]
) -> tuple[str, dict[str, str]]:
    """The bottom network and its subnets (top subnet id -> bottom id) in the pod."""
    if network.body.get("provider:network_type") == "flat":
        return await _adopt_external(db, neutron, network, pod_names)
    await _home(db, network, neutron.pod, pod_names)
    b_net = await ensure(
        db, neutron, NETWORK, network.id, network.project_id, _network_body(network)
    )
    subnets = {}
    for subnet in sorted(
        await store.rows(db, store.SUBNET, parent_ids=[network.id]),
        key=lambda s: (s.created_at, s.id),
    ):
        subnets[subnet.id] = await ensure_subnet(db, neutron, network, subnet, b_net)
    return b_net, subnets


async def _adopt_external(
    db: AsyncSession, neutron: PodNeutron, network: NetResource, pod_names: dict[str, str]
) -> tuple[str, dict[str, str]]:
    """A top external network is its pod's own external network: adopted (never deleted)
    where the pod has one on the external physical network, else made; its subnets are
    the pod's subnets of the same CIDR (made only where missing)."""
    pod = neutron.pod
    if network.body.get("_home_pod") != pod.id:
        home = str(network.body.get("_home_pod"))
        raise Conflict(
            f"External network {network.id} is the external network of pod "
            f"{pod_names.get(home, home)}; a port of pod {pod.name} cannot be on it (routers "
            "and floating IPs reach it from every pod).",
            type="ExternalNetworkInOtherPod",
        )
    physnet = network.body.get("provider:physical_network")
    found = await neutron.ok(
        "GET",
        "/networks",
        "an external network lookup",
        params={"router:external": "True", "provider:physical_network": physnet},
    )
    # the pod's own external network is adopted; a pod without one gets it made, named
    # after the top id (so it is found again, and deleted with the top network)
    adopt = str(found["networks"][0]["id"]) if found["networks"] else None
    made = {
        "name": bottom_name(NETWORK, network.id),
        "description": str(network.body.get("name", ""))[:255],
        "project_id": network.project_id,
        "router:external": True,
        "shared": bool(network.body.get("shared", False)),
        "provider:network_type": "flat",
        "provider:physical_network": physnet,
    }
    b_net = await ensure(db, neutron, NETWORK, network.id, network.project_id, made, adopt=adopt)
    subnets = {}
    for subnet in await store.rows(db, store.SUBNET, parent_ids=[network.id]):
        same = await neutron.ok(
            "GET",
            "/subnets",
            "a subnet lookup",
            params={"network_id": b_net, "cidr": subnet.body["cidr"]},
        )
        body = {
            "name": bottom_name(SUBNET, subnet.id),
            "network_id": b_net,
            "ip_version": subnet.body["ip_version"],
            "cidr": subnet.body["cidr"],
            "gateway_ip": subnet.body.get("gateway_ip"),
            "enable_dhcp": False,
            "allocation_pools": subnet.body["allocation_pools"],
        }
        adopt = str(same["subnets"][0]["id"]) if same["subnets"] else None
        subnets[subnet.id] = await ensure(
            db, neutron, SUBNET, subnet.id, network.project_id, body, adopt=adopt
        )
    return b_net, subnets


# --- security groups ------------------------------------------------------------------


RULE_KEYS = (
    "direction",
    "ethertype",
    "protocol",
    "port_range_min",
    "port_range_max",
    "remote_ip_prefix",
)


def rule_key(rule: dict[str, Any]) -> tuple[Any, ...]:
    key = {k: rule.get(k) for k in RULE_KEYS}
    if key["protocol"] is not None:
        key["protocol"] = str(key["protocol"])
    if key["remote_ip_prefix"] is not None:
        key["remote_ip_prefix"] = str(ipaddress.ip_network(key["remote_ip_prefix"], strict=False))
    return tuple(key.values())


async def desired_rules(db: AsyncSession, group: NetResource) -> list[dict[str, Any]]:
    """The group's rules as the pods get them: a remote group becomes one rule per
    address of its members (top ports anywhere in the group), of the rule's ethertype."""
    rules = await store.rows(db, store.SECURITY_GROUP_RULE, parent_ids=[group.id])
    members: dict[str, list[str]] = {}
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rules:
        rule = {k: row.body.get(k) for k in RULE_KEYS}
        remote = row.body.get("remote_group_id")
        if remote is None:
            out[rule_key(rule)] = rule
            continue
        if remote not in members:
            ports = await store.rows(db, store.PORT, group.project_id)
            members[remote] = [
                ip["ip_address"]
                for p in ports
                if remote in p.body.get("security_groups", [])
                for ip in p.body.get("fixed_ips", [])
            ]
        for address in members[remote]:
            version = 6 if ":" in address else 4
            if rule["ethertype"] != f"IPv{version}":
                continue
            one = {**rule, "remote_ip_prefix": f"{address}/{128 if version == 6 else 32}"}
            out[rule_key(one)] = one
    return list(out.values())


async def sync_rules(
    db: AsyncSession, neutron: PodNeutron, group: NetResource, b_group: str
) -> None:
    """Make the bottom group's rules equal to the top's (expanded): extra ones deleted,
    missing ones created. Safe to repeat, and to run concurrently (a job and the first
    servers of a group in a pod): a rule another run created first (Neutron's 409 for
    the bulk create) is looked up again, not an error."""
    want = {rule_key(r): r for r in await desired_rules(db, group)}
    for attempt in range(1, RULE_TRIES + 1):
        current = await neutron.ok(
            "GET", "/security-group-rules", "a rule lookup", params={"security_group_id": b_group}
        )
        have: dict[tuple[Any, ...], list[str]] = {}
        for rule in current["security_group_rules"]:
            have.setdefault(rule_key(rule), []).append(rule["id"])
        for key, ids in have.items():
            extra = ids if key not in want else ids[1:]
            for rule_id in extra:
                await neutron.delete("security-group-rules", rule_id)
        missing = [
            {**rule, "security_group_id": b_group, "project_id": group.project_id}
            for key, rule in want.items()
            if key not in have
        ]
        if not missing:
            return
        try:
            await neutron.ok(
                "POST",
                "/security-group-rules",
                "security group rules",
                json={"security_group_rules": missing},
            )
            return
        except PodNetworkRefused as exc:
            if exc.status != 409 or attempt == RULE_TRIES:
                raise


async def ensure_group(db: AsyncSession, neutron: PodNeutron, group: NetResource) -> str:
    known = await bottom_id(db, GROUP, group.id, neutron.pod.id)
    body = {
        "name": bottom_name(GROUP, group.id),
        "project_id": group.project_id,
        "description": str(group.body.get("name", ""))[:255],
    }
    b_group = await ensure(db, neutron, GROUP, group.id, group.project_id, body)
    if known is None:  # new in this pod: its rules now; later changes come by jobs
        await sync_rules(db, neutron, group, b_group)
    return b_group


async def ensure_groups(db: AsyncSession, neutron: PodNeutron, port: NetResource) -> list[str]:
    """The pod's copies of the port's security groups (those that still exist)."""
    groups = []
    for group_id in port.body.get("security_groups", []):
        group = await store.get(db, store.SECURITY_GROUP, group_id)
        if group is not None:
            groups.append(await ensure_group(db, neutron, group))
    return groups


# --- ports ----------------------------------------------------------------------------


async def ensure_port(
    db: AsyncSession, neutron: PodNeutron, port: NetResource, pod_names: dict[str, str]
) -> str:
    """The bottom port of top port `port` in the pod, with everything it needs there."""
    network = await store.get(db, store.NETWORK, port.parent_id or "")
    if network is None:
        raise Conflict(f"Port {port.id} has no network any more.", type="NetworkNotFound")
    b_net, b_subnets = await ensure_network(db, neutron, network, pod_names)
    groups = await ensure_groups(db, neutron, port)
    secure = bool(port.body.get("port_security_enabled", True))
    body: dict[str, Any] = {
        "name": bottom_name(PORT, port.id),
        "description": str(port.body.get("name", ""))[:255],
        "project_id": port.project_id,
        "network_id": b_net,
        "mac_address": port.body["mac_address"],
        "fixed_ips": [
            {"subnet_id": b_subnets[ip["subnet_id"]], "ip_address": ip["ip_address"]}
            for ip in port.body.get("fixed_ips", [])
            if ip["subnet_id"] in b_subnets
        ],
        "admin_state_up": port.body.get("admin_state_up", True),
        "port_security_enabled": secure,
        "allowed_address_pairs": port.body.get("allowed_address_pairs", []) if secure else [],
    }
    if secure:
        body["security_groups"] = groups
    if port.body.get("extra_dhcp_opts"):
        body["extra_dhcp_opts"] = port.body["extra_dhcp_opts"]
    return await ensure(db, neutron, PORT, port.id, port.project_id, body)

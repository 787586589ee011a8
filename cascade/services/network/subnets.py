"""Subnets at the top (no HTTP types here): CIDR, gateway and pools checked as
Neutron checks them; the pods get the same CIDR and gateway later (materialise)."""

from __future__ import annotations

import ipaddress
import itertools
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.models import NetResource
from cascade.jobs import queue
from cascade.services.network import attrs, ipam, quotas, store, subnetpools
from cascade.services.network.access import Caller, creating, parent
from cascade.services.network.errors import BadRequest, Conflict, InvalidInput

IPV6_MODES = ("dhcpv6-stateful", "dhcpv6-stateless", "slaac")
# device owners as Neutron groups them (neutron-lib's constants)
ROUTER_INTERFACE_OWNERS = (
    "network:router_interface",
    "network:ha_router_replicated_interface",
    "network:router_interface_distributed",
)
AUTO_DELETE_PORT_OWNERS = (
    "network:dhcp",
    "network:distributed",
    "network:floatingip_agent_gateway",
)


def _ipv6_mode(name: str, value: Any) -> str | None:
    if value is not None and value not in IPV6_MODES:
        raise attrs.AttrInvalid(name, f"{value} is not in valid_values")
    return None if value is None else str(value)


A = attrs.Attr
SPEC: attrs.Spec = {
    "name": A(attrs.text(), "", put=True),
    "description": A(attrs.text(), "", put=True),
    "network_id": A(attrs.uuid_text, attrs.REQUIRED),
    "ip_version": A(attrs.integer(4, 6), 4),
    "cidr": A(attrs.optional_text(64), None),  # or a subnet pool's block
    "gateway_ip": A(attrs.anything, "auto", put=True),
    "allocation_pools": A(attrs.listed, None, put=True),
    "host_routes": A(attrs.listed, list, put=True),
    "dns_nameservers": A(attrs.listed, list, put=True),
    "enable_dhcp": A(attrs.boolean, True, put=True),
    "ipv6_ra_mode": A(_ipv6_mode, None),
    "ipv6_address_mode": A(_ipv6_mode, None),
    "service_types": A(attrs.listed, list, put=True),
    "subnetpool_id": A(attrs.anything, None),
    "use_default_subnetpool": A(attrs.boolean, False),  # extension default-subnetpools
    "prefixlen": A(attrs.anything, None),
    "segment_id": A(attrs.anything, None),
}
JOB_SYNC = "subnet.sync"
JOB_PURGE = "subnet.purge"


def _cidr(raw: str, version: int) -> ipam.IPNetwork:
    """The subnet's network. As Neutron (`_create_subnet_precommit`: "turn the CIDR into a
    proper subnet"), a CIDR with host bits set (`10.99.99.0/16`) is accepted and stored
    as its network (`10.99.0.0/16`); only a value without a prefix length is refused."""
    try:
        if "/" not in raw or raw != raw.strip():
            raise ValueError(raw)
        net = ipaddress.ip_network(raw, strict=False)
    except ValueError:
        raise InvalidInput(f"'{raw}' is not a valid IP subnet") from None
    if net.version != version:
        raise InvalidInput("cidr and ip_version mismatch")
    return net


def _check_cidr(net: ipam.IPNetwork, enable_dhcp: bool) -> None:
    """Neutron's checks of a new subnet's CIDR (`_validate_subnet`), its messages."""
    if net.version == 6 and int(net.network_address) == 0:
        raise InvalidInput("IPv6 subnet '::' is not supported")
    if not enable_dhcp:
        return
    if (net.version == 4 and net.prefixlen > 30) or (net.version == 6 and net.prefixlen > 126):
        raise InvalidInput(
            "Subnet has a prefix length that is incompatible with DHCP service enabled"
        )
    if net.is_multicast:
        raise InvalidInput("Multicast IP subnet is not supported if enable_dhcp is True")
    if net.is_loopback:
        raise InvalidInput("Loopback IP subnet is not supported if enable_dhcp is True")
    if net.version == 4 and int(net.network_address) == 0:
        raise InvalidInput("First IP '0.0.0.0' of network is not supported if enable_dhcp is True.")


def _check_ipv6_modes(given: dict[str, Any], net: ipam.IPNetwork) -> None:
    """Neutron's `ipv6_ra_mode`/`ipv6_address_mode` rules for a new subnet: none on IPv4;
    on IPv6 only with DHCP enabled, the same value when both are set, and a /64 for
    the automatic (EUI-64) modes."""
    ra_mode, address_mode = given["ipv6_ra_mode"], given["ipv6_address_mode"]
    if net.version == 4:
        if ra_mode is not None:
            raise InvalidInput("ipv6_ra_mode is not valid when ip_version is 4")
        if address_mode is not None:
            raise InvalidInput("ipv6_address_mode is not valid when ip_version is 4")
        return
    if (ra_mode or address_mode) and not given["enable_dhcp"]:
        raise InvalidInput(
            "ipv6_ra_mode or ipv6_address_mode cannot be set when enable_dhcp is set to False"
        )
    if ra_mode and address_mode and ra_mode != address_mode:
        raise InvalidInput(
            f"ipv6_ra_mode set to '{ra_mode}' with ipv6_address_mode set to "
            f"'{address_mode}' is not valid. If both attributes are set, they must be the "
            "same value"
        )
    if ipam.is_auto_address(given) and net.prefixlen != 64:
        raise InvalidInput(
            f"Invalid CIDR {net} for IPv6 address mode. OpenStack uses the EUI-64 address "
            "format, which requires the prefix to be /64"
        )


def _address(name: str, raw: Any, net: ipam.IPNetwork) -> str:
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        raise InvalidInput(f"'{raw}' is not a valid IP address") from None
    if address.version != net.version:
        raise InvalidInput(f"{name} {raw} does not match the subnet's IP version")
    return str(address)


def _gateway(raw: Any, net: ipam.IPNetwork) -> str | None:
    if raw == "auto":
        return str(net.network_address + 1)
    if raw is None or raw == "":
        return None
    gateway = _address("gateway_ip", raw, net)
    if ipaddress.ip_address(gateway) not in net or gateway in (
        str(net.network_address),
        str(net.broadcast_address) if net.version == 4 else "",
    ):
        raise InvalidInput(f"Gateway ip {gateway} is not valid on subnet {net}")
    return gateway


def _pools(raw: list[Any] | None, net: ipam.IPNetwork, gateway: str | None) -> list[dict[str, str]]:
    if raw is None:
        return ipam.default_pools(str(net), gateway)
    ranges = []
    for pool in raw:
        if not isinstance(pool, dict) or "start" not in pool or "end" not in pool:
            raise InvalidInput(f"Invalid data format for IP pool: '{pool}'")
        first = ipaddress.ip_address(_address("start", pool["start"], net))
        last = ipaddress.ip_address(_address("end", pool["end"], net))
        start, end = int(first), int(last)  # same version: compare as integers
        if start > end:
            raise InvalidInput(f"Invalid IP range {first}-{last}")
        if first not in net or last not in net:
            raise InvalidInput(
                f"The allocation pool {first}-{last} spans beyond the subnet cidr {net}"
            )
        ranges.append((start, end))
    ranges.sort()
    show = ipaddress.ip_address
    for (_, end1), (start2, end2) in itertools.pairwise(ranges):
        if start2 <= end1:
            raise InvalidInput(
                f"Found overlapping allocation pools: {show(start2)}-{show(end2)} and "
                f"another pool ending at {show(end1)}"
            )
    if gateway is not None:
        gw = int(ipaddress.ip_address(gateway))
        for start, end in ranges:
            if start <= gw <= end:
                raise Conflict(
                    f"Gateway ip {gateway} conflicts with allocation pool "
                    f"{show(start)}-{show(end)}",
                    type="GatewayConflictWithAllocationPools",
                )
    return [{"start": str(show(s)), "end": str(show(e))} for s, e in ranges]


def _routes(raw: list[Any], net: ipam.IPNetwork) -> list[dict[str, str]]:
    out = []
    for route in raw:
        if not isinstance(route, dict) or set(route) != {"destination", "nexthop"}:
            raise InvalidInput(f"Invalid data format for hostroute: '{route}'")
        try:
            dest = ipaddress.ip_network(route["destination"], strict=False)
            hop = ipaddress.ip_address(route["nexthop"])
        except ValueError:
            raise InvalidInput(f"Invalid data format for hostroute: '{route}'") from None
        if dest.version != net.version or hop.version != net.version:
            raise InvalidInput(f"host route {route} does not match the subnet's IP version")
        out.append({"destination": str(dest), "nexthop": str(hop)})
    return out


def _nameservers(raw: list[Any], net: ipam.IPNetwork) -> list[str]:
    out = [_address("dns_nameserver", ns, net) for ns in raw]
    if len(set(out)) != len(out):
        raise InvalidInput(f"Duplicate nameserver in {raw}")
    return out


async def create(caller: Caller, body: Any) -> NetResource:
    """A new subnet on a network `create_subnet` allows (by default the network's own
    project's members, or admins): 201; Neutron's 403 on another project's network (its
    ownership check: on one that is not shared; else the rule's), 400 for a bad or
    overlapping CIDR, gateway or pool; 409 over quota."""
    given = attrs.take(SPEC, body, "subnet", caller.allows, update=False)
    network = await parent(caller, store.NETWORK, given["network_id"], "create_subnet")
    project = creating(caller, body, "subnet", given, network)
    if given.pop("segment_id") is not None:
        raise InvalidInput("segment_id is not supported by the top yet")
    pool_id, prefixlen = given.pop("subnetpool_id"), given.pop("prefixlen")
    if given["cidr"] is not None and prefixlen is not None:
        raise BadRequest("Bad subnets request: cidr and prefixlen must not be supplied together.")
    if given.pop("use_default_subnetpool"):
        pool_id = await _default_pool(caller, given, body, pool_id)
    if pool_id is None and given["cidr"] is None:
        raise BadRequest(
            "Bad subnets request: a subnetpool must be specified in the absence of a cidr."
        )
    if pool_id is None:
        net = _cidr(given["cidr"], given["ip_version"])
    else:
        version = body["subnet"].get("ip_version")  # given, or the pool's
        raw = given["cidr"]
        wanted = None if raw is None else str(_cidr(raw, 6 if ":" in raw else 4))
        pool, net = await subnetpools.allocate(
            caller, str(pool_id), wanted, prefixlen, given["ip_version"] if version else None
        )
        pool_id, given["ip_version"] = pool.id, net.version
    _check_cidr(net, given["enable_dhcp"])
    for other in await store.rows(caller.db, store.SUBNET, parent_ids=[network.id]):
        if ipam.network_of(other.body["cidr"]).overlaps(net):
            raise InvalidInput(
                f"Requested subnet with cidr: {net} for network: {network.id} overlaps with "
                "another subnet"
            )
    await quotas.check(caller.db, caller.conf, project, "subnet")
    gateway = _gateway(given["gateway_ip"], net)
    _check_ipv6_modes(given, net)
    body_out = {
        **given,
        "cidr": str(net),
        "gateway_ip": gateway,
        "allocation_pools": _pools(given["allocation_pools"], net, gateway),
        "host_routes": _routes(given["host_routes"], net),
        "dns_nameservers": _nameservers(given["dns_nameservers"], net),
        "subnetpool_id": pool_id,
    }
    row = store.add(caller.db, store.SUBNET, project, body_out, parent_id=network.id)
    store.bump(network)
    await caller.db.commit()
    return row


async def _default_pool(caller: Caller, given: dict[str, Any], body: Any, pool_id: Any) -> str:
    """The default pool of the subnet's IP version (Neutron's `_get_subnetpool_id` with
    `use_default_subnetpool`): its CIDR's version, else the `ip_version` given."""
    if pool_id:
        raise BadRequest(
            "Bad subnets request: subnetpool_id and use_default_subnetpool cannot both be "
            "specified."
        )
    if given["cidr"] is not None:
        version = 6 if ":" in given["cidr"] else 4
    elif body["subnet"].get("ip_version") is not None:
        version = given["ip_version"]
    else:
        raise BadRequest(
            "Bad subnets request: ip_version must be specified in the absence of cidr and "
            "subnetpool_id."
        )
    for pool in await store.rows(caller.db, store.SUBNETPOOL):
        if pool.body.get("is_default") and pool.body.get("ip_version") == version:
            return pool.id
    raise BadRequest(f"Bad subnets request: No default subnetpool found for IPv{version}.")


async def views(caller: Caller, rows: list[NetResource]) -> list[dict[str, Any]]:
    """The subnets as Neutron shows them: `router:external` (extension
    subnet-external-network) is their network's, as it is now."""
    parents = {r.parent_id or "" for r in rows}
    networks = {n.id: n for n in await store.rows(caller.db, store.NETWORK, ids=parents)}
    out = []
    for row in rows:
        network = networks.get(row.parent_id or "")
        external = bool(network is not None and network.body.get("router:external"))
        out.append({**store.view(row), "router:external": external})
    return out


async def update(caller: Caller, row: NetResource, given: dict[str, Any]) -> None:
    """The subnet changed (gateway, pools, routes, nameservers, DHCP, name); pods that
    hold a copy follow via a job."""
    net = ipam.network_of(row.body["cidr"])
    modes = row.body.get("ipv6_ra_mode") or row.body.get("ipv6_address_mode")
    if net.version == 6 and given.get("enable_dhcp") is False and modes:
        raise InvalidInput("Cannot disable enable_dhcp with ipv6 attributes set")
    if "gateway_ip" in given:
        given["gateway_ip"] = _gateway(given["gateway_ip"], net)
    gateway = given.get("gateway_ip", row.body.get("gateway_ip"))
    if "allocation_pools" in given or "gateway_ip" in given:
        pools = given.get("allocation_pools", row.body["allocation_pools"])
        given["allocation_pools"] = _pools(pools, net, gateway)
    if "host_routes" in given:
        given["host_routes"] = _routes(given["host_routes"], net)
    if "dns_nameservers" in given:
        given["dns_nameservers"] = _nameservers(given["dns_nameservers"], net)
    if store.change(row, given):
        await queue.enqueue(caller.db, JOB_SYNC, row.id, row.project_id, {})
    await caller.db.commit()


async def purge_subnet(db: AsyncSession, row: NetResource) -> None:
    """The subnet and every address reserved on it go (in the caller's transaction)."""
    for address in await ipam.in_subnet(db, row.id):
        await db.delete(address)
    await db.delete(row)


async def delete(caller: Caller, row: NetResource) -> None:
    """The subnet goes; 409 SubnetInUse while a router interface, or (unless the subnet
    hands out automatic IPv6 addresses: SLAAC, DHCPv6 stateless) a user's port, holds
    one of its addresses. As in Neutron, the addresses of an automatic subnet and of
    DHCP ports leave their ports with it."""
    held = [
        a
        for a in await ipam.in_subnet(caller.db, row.id)
        if not a.owner.startswith(("pod:", "purging:"))
    ]
    ports = await store.rows(caller.db, store.PORT, ids={a.owner for a in held}) if held else []
    owners = {p.id: str(p.body.get("device_owner") or "") for p in ports}
    users = [a for a in held if owners.get(a.owner) not in AUTO_DELETE_PORT_OWNERS]
    if any(o in ROUTER_INTERFACE_OWNERS for o in owners.values()) or (
        users and not ipam.is_auto_address(row.body)
    ):
        raise Conflict(
            f"Unable to complete operation on subnet {row.id}: One or more ports have an IP "
            "allocation from this subnet.",
            type="SubnetInUse",
        )
    for port in ports:
        kept = [ip for ip in port.body.get("fixed_ips", []) if ip.get("subnet_id") != row.id]
        store.change(port, {"fixed_ips": kept})
    network = await store.get(caller.db, store.NETWORK, row.parent_id or "")
    await purge_subnet(caller.db, row)
    if network is not None:
        store.bump(network)
    await queue.enqueue(caller.db, JOB_PURGE, row.id, row.project_id, {"network_id": row.parent_id})
    await caller.db.commit()

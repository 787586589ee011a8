"""Ports at the top (no HTTP types here): the top allocates every fixed IP and MAC.

A port create takes its addresses from the central IPAM in the same
transaction as the port row, so an address is never handed out twice; a
concurrent create that loses the race on an address is retried.
"""

from __future__ import annotations

import ipaddress
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from cascade.db.models import NetResource
from cascade.jobs import queue
from cascade.services import copies
from cascade.services.network import attrs, ipam, materialise, quotas, security_groups, store
from cascade.services.network.access import (
    Caller,
    authorize,
    creating,
    find,
    target,
    unseen,
)
from cascade.services.network.errors import (
    Conflict,
    InvalidInput,
    NeutronError,
)
from cascade.services.network.subnets import ROUTER_INTERFACE_OWNERS

A = attrs.Attr
SPEC: attrs.Spec = {
    "name": A(attrs.text(), "", put=True),
    "description": A(attrs.text(), "", put=True),
    "network_id": A(attrs.uuid_text, attrs.REQUIRED),
    "admin_state_up": A(attrs.boolean, True, put=True),
    "mac_address": A(attrs.text(17), None, put=True),
    "fixed_ips": A(attrs.listed, None, put=True),
    "device_id": A(attrs.text(), "", put=True),
    "device_owner": A(attrs.text(), "", put=True),
    "security_groups": A(attrs.listed, None, put=True),
    "allowed_address_pairs": A(attrs.listed, list, put=True),
    "extra_dhcp_opts": A(attrs.listed, list, put=True),
    "port_security_enabled": A(attrs.boolean, None, put=True),
    "binding:host_id": A(attrs.text(), "", put=True, admin=True, explicit=True),
    "binding:profile": A(attrs.mapping, None, put=True, admin=True),
    "binding:vnic_type": A(attrs.text(64), "normal", put=True),
}
BINDING_ADMIN = ("binding:host_id", "binding:profile", "binding:vif_type", "binding:vif_details")
JOB_SYNC = "port.sync"
JOB_PURGE = "port.purge"
GROUP_SYNC = "security_group.sync"
ORPHAN_CHECK = "port.orphan_check"
FIP_SYNC = "floatingip.sync"
ROUTER_BUILD = "router.build"


async def views(caller: Caller, rows: list[NetResource]) -> list[dict[str, Any]]:
    """The ports as Neutron shows them: binding details where `get_port:<attribute>`
    allows them (admins and services by default)."""
    hidden = unseen(caller, "port", BINDING_ADMIN)
    return [{k: v for k, v in store.view(r).items() if k not in hidden} for r in rows]


# Neutron's ROUTER_INTERFACE_OWNERS_SNAT: router ports get no automatic IPv6 address
ROUTER_OWNERS = frozenset((*ROUTER_INTERFACE_OWNERS, "network:router_centralized_snat"))


def _auto(subnet: NetResource) -> bool:
    return subnet.body["ip_version"] == 6 and ipam.is_auto_address(subnet.body)


async def _subnets_seen(caller: Caller, raw: Any, subnets: list[NetResource]) -> None:
    """Neutron finds each subnet a port's fixed_ips name for the caller before it checks
    the subnet's network: an unknown subnet, or one the caller cannot see, is its 404
    `SubnetNotFound`; a visible subnet of another network stays `_wanted_ips`' 400."""
    known = {s.id for s in subnets}
    for item in raw if isinstance(raw, list) else []:
        subnet_id = item.get("subnet_id") if isinstance(item, dict) else None
        if isinstance(subnet_id, str) and subnet_id not in known:
            await find(caller, store.SUBNET, subnet_id)


def _wanted_ips(
    raw: list[Any],
    network: NetResource,
    subnets: list[NetResource],
    mac: str | None = None,
    owner: str = "",
) -> list[tuple[NetResource, str | None]]:
    """(subnet, address or None) for every requested fixed IP, with Neutron's 400s.

    With the port's `mac`, as Neutron's `_test_fixed_ips_for_port`: an address asked for
    on an automatic (SLAAC, DHCPv6 stateless) subnet must be the MAC's EUI-64 one, and
    every automatic subnet of the network gives the port its EUI-64 address anyway
    (router interfaces excepted)."""
    by_id = {s.id: s for s in subnets}
    out: list[tuple[NetResource, str | None]] = []
    for item in raw:
        if not isinstance(item, dict) or not set(item) <= {"subnet_id", "ip_address"}:
            raise InvalidInput(f"Invalid fixed_ips entry {item}")
        subnet_id, address = item.get("subnet_id"), item.get("ip_address")
        if subnet_id is not None and not isinstance(subnet_id, str):
            raise InvalidInput(f"'{subnet_id}' is not a valid UUID")  # neutron-lib's words
        if subnet_id is not None:
            if subnet_id not in by_id:
                raise InvalidInput(
                    f"Failed to create port on network {network.id}, because fixed_ips "
                    f"included invalid subnet {subnet_id}"
                )
            out.append((by_id[subnet_id], address))
            continue
        if address is None:
            raise InvalidInput(f"Invalid fixed_ips entry {item}: a subnet_id or ip_address")
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            raise InvalidInput(f"{address} is not a valid IP address") from None
        match = [s for s in subnets if ip in ipam.network_of(s.body["cidr"])]
        if not match:
            raise InvalidInput(
                f"IP address {address} is not a valid IP for any of the subnets on the "
                "specified network"
            )
        out.append((match[0], address))
    if mac is None or owner in ROUTER_OWNERS:
        return out
    for subnet, address in out:
        if address is None or not _auto(subnet):
            continue
        if ipaddress.ip_address(address) != ipaddress.ip_address(
            ipam.eui64(subnet.body["cidr"], mac)
        ):
            raise NeutronError(
                f"IPv6 address {address} cannot be directly assigned to a port on "
                f"subnet {subnet.id} as the subnet is configured for automatic addresses",
                400,
                "AllocationOnAutoAddressSubnet",
            )
    named = {subnet.id for subnet, _ in out}
    return out + [(s, None) for s in _ordered(subnets) if _auto(s) and s.id not in named]


def _ordered(subnets: list[NetResource]) -> list[NetResource]:
    return sorted(subnets, key=lambda s: (s.created_at, s.id))


def _default_ips(subnets: list[NetResource], owner: str) -> list[tuple[NetResource, str | None]]:
    """No fixed_ips given, as Neutron's `_allocate_ips_for_port`: one address of the
    first IPv4 subnet and of the first IPv6 subnet that is not automatic, and the
    EUI-64 address of every automatic one (none for router interfaces)."""
    ordered = _ordered(subnets)
    first_v4 = [s for s in ordered if s.body["ip_version"] == 4][:1]
    first_v6 = [s for s in ordered if s.body["ip_version"] == 6 and not _auto(s)][:1]
    auto = [] if owner in ROUTER_OWNERS else [s for s in ordered if _auto(s)]
    return [(s, None) for s in first_v4 + first_v6 + auto]


async def _groups(
    caller: Caller, project: str, given: list[Any] | None, secure: bool, owner: str
) -> list[str]:
    if given is None:
        if not secure or owner.startswith("network:"):
            return []
        return [(await security_groups.ensure_default(caller, project)).id]
    ids = []
    for group_id in given:
        row = await store.get(caller.db, store.SECURITY_GROUP, str(group_id))
        if row is None or not (caller.is_admin or row.project_id == project):
            raise Conflict(
                f"Security group {group_id} does not exist", 404, "SecurityGroupNotFound"
            )
        ids.append(row.id)
    if ids and not secure:
        raise Conflict(
            "Port has security group associated. Cannot disable port security or ip "
            "address until security group is removed",
            409,
            "PortSecurityAndIPRequiredForSecurityGroups",
        )
    return sorted(set(ids))


async def _allocate(
    caller: Caller,
    network: NetResource,
    port_id: str,
    wanted: list[tuple[NetResource, str | None]],
    mac: str | None = None,
) -> list[dict[str, str]]:
    out = []
    for subnet, address in wanted:
        ip = await ipam.allocate(
            caller.db, network.id, store.view(subnet), port_id, address, mac=mac
        )
        out.append({"subnet_id": subnet.id, "ip_address": ip})
    return out


async def create(caller: Caller, body: Any, for_server: bool = False) -> NetResource:
    """A new port with addresses from the top's IPAM: 201; Neutron's 400 for a bad fixed IP
    or MAC, 409 for an address or MAC in use, no address left, or over quota.

    `for_server`: made by a server create for a network it names. Such a port goes with
    its server, and a check is queued with it (same transaction): should the create
    never attach it (the process died), the check adopts or deletes it."""
    given = attrs.take(SPEC, body, "port", caller.allows, update=False)
    network = await find(caller, store.NETWORK, given["network_id"])
    project = creating(caller, body, "port", given, network)  # `create_port` on the network

    async def once() -> NetResource:
        # after a rollback the session's loaded objects are expired: found again
        fresh = await find(caller, store.NETWORK, given["network_id"])
        return await _create_once(caller, given, fresh, project, for_server)

    pinned = any(ip.get("ip_address") for ip in given["fixed_ips"] or [])
    return await ipam.retried(caller.db, once, pinned or bool(given["mac_address"]))


async def _create_once(
    caller: Caller, given: dict[str, Any], network: NetResource, project: str, for_server: bool
) -> NetResource:
    await quotas.check(caller.db, caller.conf, project, "port")
    secure = given["port_security_enabled"]
    if secure is None:
        secure = bool(network.body.get("port_security_enabled", True))
    groups = await _groups(caller, project, given["security_groups"], secure, given["device_owner"])
    subnets = await store.rows(caller.db, store.SUBNET, parent_ids=[network.id])
    await _subnets_seen(caller, given["fixed_ips"], subnets)
    new_id = str(uuid.uuid4())
    # the MAC first: an automatic IPv6 subnet's address is made from it
    mac = await ipam.allocate_mac(caller.db, new_id, network.id, given["mac_address"])
    owner = given["device_owner"] or ""
    wanted = (
        _wanted_ips(given["fixed_ips"], network, subnets, mac, owner)
        if given["fixed_ips"] is not None
        else _default_ips(subnets, owner)
    )
    # a router's port takes the subnet's gateway or a pool address, never EUI-64
    fixed = await _allocate(
        caller, network, new_id, wanted, None if owner in ROUTER_OWNERS else mac
    )
    body_out = {
        **given,
        "mac_address": mac,
        "fixed_ips": fixed,
        "security_groups": groups,
        "port_security_enabled": secure,
        "allowed_address_pairs": _pairs(given["allowed_address_pairs"], mac),
        "status": "DOWN",
        "binding:profile": given.get("binding:profile") or {},
        "binding:host_id": given.get("binding:host_id") or "",
        "binding:vif_type": "unbound",
        "binding:vif_details": {},
        "ip_allocation": "immediate",
        "propagate_uplink_status": False,
        "resource_request": None,
    }
    if for_server:
        body_out["_auto_delete"] = True
        delay = timedelta(seconds=caller.conf.orphan_check_seconds)
        await queue.enqueue(caller.db, ORPHAN_CHECK, new_id, project, {}, delay=delay)
    row = store.add(
        caller.db, store.PORT, project, body_out, parent_id=network.id, object_id=new_id
    )
    await members_changed(caller, project, groups)
    await caller.db.commit()
    return row


async def members_changed(caller: Caller, project: str, group_ids: list[str]) -> None:
    """Ports joined or left `group_ids`: every group with a rule whose remote group is
    one of them is synced again in the pods (its expanded addresses changed)."""
    if not group_ids:
        return
    for rule in await store.rows(caller.db, store.SECURITY_GROUP_RULE, project):
        if rule.body.get("remote_group_id") in group_ids and rule.parent_id:
            await queue.enqueue(caller.db, GROUP_SYNC, rule.parent_id, project, {})


def _pairs(raw: list[Any], mac: str) -> list[dict[str, str]]:
    out = []
    for pair in raw:
        if not isinstance(pair, dict) or "ip_address" not in pair:
            raise InvalidInput(f"Invalid allowed address pair {pair}")
        try:
            ipaddress.ip_network(str(pair["ip_address"]), strict=False)
        except ValueError:
            raise InvalidInput(f"'{pair['ip_address']}' is not a valid IP address") from None
        out.append(
            {
                "ip_address": str(pair["ip_address"]),
                "mac_address": ipam.valid_mac(pair.get("mac_address") or mac),
            }
        )
    return out


async def update(caller: Caller, row: NetResource, given: dict[str, Any]) -> None:
    """The port changed; new fixed IPs come from the IPAM, released ones go back. Pods
    holding a copy follow via a job."""
    network = await find(caller, store.NETWORK, row.parent_id or "")
    if "mac_address" in given:
        authorize(caller, "update_port:mac_address", target(caller, row, network))
        if given["mac_address"] != row.body["mac_address"]:
            await ipam.release_mac(caller.db, row.id)
            given["mac_address"] = await ipam.allocate_mac(
                caller.db, row.id, network.id, given["mac_address"]
            )
    secure = given.get("port_security_enabled", row.body.get("port_security_enabled", True))
    if "security_groups" in given or "port_security_enabled" in given:
        groups = given.get("security_groups", row.body.get("security_groups", []))
        given["security_groups"] = await _groups(caller, row.project_id, groups, secure, "x")
    if "fixed_ips" in given:
        subnets = await store.rows(caller.db, store.SUBNET, parent_ids=[network.id])
        await _subnets_seen(caller, given["fixed_ips"], subnets)
        wanted = _wanted_ips(given["fixed_ips"], network, subnets)
        current = {(ip["subnet_id"], ip["ip_address"]) for ip in row.body["fixed_ips"]}
        keep = [(s, a) for s, a in wanted if (s.id, a) in current]
        kept = {a for _, a in keep}
        for ip in row.body["fixed_ips"]:
            if ip["ip_address"] not in kept:
                await ipam.release_address(caller.db, network.id, ip["ip_address"])
        await caller.db.flush()
        fresh = await _allocate(
            caller,
            network,
            row.id,
            [(s, a) for s, a in wanted if (s.id, a) not in current],
            given.get("mac_address", row.body["mac_address"]),
        )
        given["fixed_ips"] = [{"subnet_id": s.id, "ip_address": str(a)} for s, a in keep] + fresh
    if "allowed_address_pairs" in given:
        given["allowed_address_pairs"] = _pairs(
            given["allowed_address_pairs"], given.get("mac_address", row.body["mac_address"])
        )
    before = set(row.body.get("security_groups", []))
    if store.change(row, given):
        await queue.enqueue(caller.db, JOB_SYNC, row.id, row.project_id, {})
        after = set(row.body.get("security_groups", []))
        if before != after or "fixed_ips" in given:
            await members_changed(caller, row.project_id, sorted(before | after))
    try:
        await caller.db.commit()
    except IntegrityError:
        await caller.db.rollback()
        raise Conflict(
            "An address requested for the port is in use.", type="IpAddressAlreadyAllocated"
        ) from None


async def release(caller: Caller, row: NetResource) -> None:
    """The port, its addresses and MAC go, in the caller's transaction; pods via a job."""
    if await copies.copies(caller.db, materialise.PORT, row.id, intents=True):
        # kept until the pods' copies are gone (port.purge), then handed out again
        await ipam.hold(caller.db, row.id, ipam.purging(row.id))
    else:
        # no pod has (or is making) a copy: free at once, as Neutron frees them
        await ipam.release(caller.db, row.id)
        await ipam.release_mac(caller.db, row.id)
    await members_changed(caller, row.project_id, list(row.body.get("security_groups", [])))
    # as Neutron: a floating IP of a deleted port stays, disassociated
    for fip in await store.rows(caller.db, store.FLOATINGIP):
        if fip.body.get("port_id") == row.id:
            router_id = fip.body.get("router_id")
            store.change(
                fip,
                {"port_id": None, "fixed_ip_address": None, "router_id": None, "status": "DOWN"},
            )
            await queue.enqueue(caller.db, FIP_SYNC, fip.id, fip.project_id, {})
            if router_id:  # a shadow copy for the port may go from the gateway's pod
                await queue.enqueue(caller.db, ROUTER_BUILD, router_id, fip.project_id, {})
    await caller.db.delete(row)
    await queue.enqueue(caller.db, JOB_PURGE, row.id, row.project_id, {"network_id": row.parent_id})


async def delete(caller: Caller, row: NetResource) -> None:
    """The port goes (409 ServicePortInUse for a router's interface, but for admins, and
    for a router's gateway port, whoever asks: the gateway is cleared on the router)."""
    owner = str(row.body.get("device_owner", ""))
    if (owner.startswith("network:router_interface") and not caller.is_admin) or (
        owner == "network:router_gateway"
    ):
        raise Conflict(
            f"Port {row.id} cannot be deleted directly via the port API: has device "
            f"owner {row.body['device_owner']}.",
            type="ServicePortInUse",
        )
    await release(caller, row)
    await caller.db.commit()

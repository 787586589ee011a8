"""Nova's network proxy APIs, answered from the top's own Networking (no HTTP types here).

Nova (below microversion 2.36) answers `/os-security-groups`,
`/os-security-group-rules`, `/os-floating-ips` and `/os-floating-ip-pools` by
asking Neutron with the caller's token, and a server's security groups
(`/servers/{id}/os-security-groups`, `addSecurityGroup`, `removeSecurityGroup`)
from the Neutron ports whose device is the server. At the top the Neutron is
the top's own Networking services: top ids, top groups, top ports. The
conversions are Nova's (nova/network/security_group_api.py,
nova/api/openstack/compute/security_groups.py, floating_ips.py), and so are
the refusals: Neutron's errors become Nova's as Nova maps them
(`workflow.Refused`, status and message).
"""

from __future__ import annotations

import ipaddress
import logging
import uuid
from typing import Any

from cascade.db.models import NetResource
from cascade.pods.client import PodUnavailable
from cascade.pods.compute import PodRefused
from cascade.pods.registry import PodRegistry
from cascade.services.network import floatingips, jobs, ports, security_groups, store
from cascade.services.network.access import Caller, find, permit, visible
from cascade.services.network.errors import NeutronError
from cascade.services.workflow import Refused

LOG = logging.getLogger(__name__)

Item = dict[str, Any]
SG_NOT_FOUND = "not found"  # a rule's source group the caller cannot see: the rule is left out


def _uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def valid_id(group_id: str) -> str:
    """Nova's `validate_id`: 400 unless the id looks like a UUID."""
    if not _uuid(group_id):
        raise Refused(400, "Security group id should be uuid")
    return group_id


# --- Neutron's security groups as Nova shows them ----------------------------------------


def _cidr(prefix: Any) -> str:
    """Nova's `parse_cidr` of a rule's remote prefix: none is `0.0.0.0/0`."""
    return str(prefix) if prefix else "0.0.0.0/0"


def nova_rule(rule: Item) -> Item:
    """Nova's `_convert_to_nova_security_group_rule_format` of a Neutron rule."""
    protocol = rule.get("protocol")
    low: Any
    high: Any
    if protocol and rule.get("port_range_min") is None and rule.get("port_range_max") is None:
        whole = str(protocol).upper() in ("TCP", "UDP")
        low, high = (1, 65535) if whole else (-1, -1)
    else:
        low, high = rule.get("port_range_min"), rule.get("port_range_max")
    return {
        "id": rule["id"],
        "parent_group_id": rule["security_group_id"],
        "protocol": protocol,
        "from_port": low,
        "to_port": high,
        "group_id": rule.get("remote_group_id"),
        "cidr": _cidr(rule.get("remote_ip_prefix")),
    }


def nova_group(group: Item) -> Item:
    """Nova's `_convert_to_nova_security_group_format`: ingress rules only."""
    return {
        "id": group["id"],
        "description": group.get("description", ""),
        "name": group.get("name", ""),
        "project_id": group.get("tenant_id", group.get("project_id")),
        "rules": [
            nova_rule(r)
            for r in group.get("security_group_rules", [])
            if r["direction"] == "ingress"
        ],
    }


def format_rule(rule: Item, source: Item | None) -> Item:
    """The API's view of a rule (`_format_security_group_rule`): `group` names the
    source group (`source`), else `ip_range` its CIDR."""
    return {
        "id": rule["id"],
        "parent_group_id": rule["parent_group_id"],
        "ip_protocol": rule["protocol"],
        "from_port": rule["from_port"],
        "to_port": rule["to_port"],
        "group": source or {},
        "ip_range": {} if rule["group_id"] else {"cidr": rule["cidr"]},
    }


async def _source(net: Caller, group_id: str, known: dict[str, Any]) -> Any:
    """A rule's source group as `{"name", "tenant_id"}`, SG_NOT_FOUND if the caller
    cannot see it (Nova leaves such a rule out)."""
    if group_id not in known:
        try:
            row = await find(net, store.SECURITY_GROUP, group_id)
        except NeutronError:
            known[group_id] = SG_NOT_FOUND
        else:
            known[group_id] = {"name": row.body.get("name", ""), "tenant_id": row.project_id}
    return known[group_id]


async def format_groups(net: Caller, groups: list[Item]) -> list[Item]:
    """The API's view of Nova groups (`_format_security_group`), each rule's source group
    looked up once."""
    known: dict[str, Any] = {
        g["id"]: {"name": g["name"], "tenant_id": g["project_id"]} for g in groups
    }
    out = []
    for group in groups:
        rules = []
        for rule in group["rules"]:
            source = None
            if rule["group_id"]:
                source = await _source(net, str(rule["group_id"]), known)
                if source == SG_NOT_FOUND:
                    continue
            rules.append(format_rule(rule, source))
        out.append(
            {
                "id": group["id"],
                "description": group["description"],
                "name": group["name"],
                "tenant_id": group["project_id"],
                "rules": rules,
            }
        )
    return out


def by_owner_and_name(groups: list[Item]) -> list[Item]:
    return sorted(groups, key=lambda g: (g["tenant_id"], g["name"]))


async def neutron_groups(net: Caller, rows: list[NetResource]) -> list[Item]:
    return [nova_group(g) for g in await security_groups.group_views(net, rows)]


async def get_group(net: Caller, group_id: str) -> Item:
    """Nova's `security_group_api.get`: 404 with Neutron's message for a group the caller
    cannot see."""
    try:
        row = await find(net, store.SECURITY_GROUP, group_id)
    except NeutronError as exc:
        raise Refused(404, exc.message) from exc
    return (await neutron_groups(net, [row]))[0]


async def list_groups(net: Caller, all_tenants: bool) -> list[Item]:
    """Nova's list: the caller's project's groups (its default group made, as Neutron's
    list makes it), every project's for an admin asking `all_tenants`."""
    if not (net.is_admin and all_tenants):
        await security_groups.before_listing(net, {"tenant_id": [net.project_id]})
        rows = await store.rows(net.db, store.SECURITY_GROUP, net.project_id)
    else:
        await security_groups.before_listing(net, {})
        rows = await visible(net, store.SECURITY_GROUP)
    return await neutron_groups(net, rows)


def _group_refusal(exc: NeutronError) -> Refused:
    """Nova's mapping of Neutron's errors on a group create, update or delete: 404 stays,
    409 (in use, a default group) is Invalid's 400, over quota 403, any other 400."""
    if exc.status == 404:
        return Refused(404, exc.message)
    if exc.status == 409 and exc.type == "OverQuota":
        return Refused(403, exc.message)
    if exc.status in (400, 409):
        return Refused(400, exc.message)
    return Refused(exc.status, exc.message)


async def create_group(net: Caller, name: str, description: str) -> Item:
    try:
        row = await security_groups.create_group(
            net, {"security_group": {"name": name, "description": description}}
        )
    except NeutronError as exc:
        if exc.status == 409:  # Nova's SecurityGroupLimitExceeded, whatever the conflict
            raise Refused(403, exc.message) from exc
        raise _group_refusal(exc) from exc
    return (await neutron_groups(net, [row]))[0]


async def update_group(net: Caller, group_id: str, name: str, description: str) -> Item:
    try:
        row = await find(net, store.SECURITY_GROUP, group_id)
        await permit(net, "update_security_group", row)
        await security_groups.update_group(net, row, {"name": name, "description": description})
    except NeutronError as exc:
        raise _group_refusal(exc) from exc
    return (await neutron_groups(net, [row]))[0]


async def delete_group(net: Caller, group_id: str) -> None:
    try:
        row = await find(net, store.SECURITY_GROUP, group_id)
        await permit(net, "delete_security_group", row)
        await security_groups.delete_group(net, row)
    except NeutronError as exc:
        raise _group_refusal(exc) from exc


# --- rules ---------------------------------------------------------------------------


def _port_number(value: Any, protocol: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        if protocol.upper() == "ICMP":
            why = "Type and Code must be integers for ICMP protocol type"
        else:
            why = "To and From ports must be integers"
        raise Refused(400, f"Invalid input received: {why}.") from None


def new_rule(protocol: Any, from_port: Any, to_port: Any, cidr: Any, group_id: Any) -> Item | None:
    """Nova's `_new_ingress_rule` (with `parse_cidr`): the rule's values, None where Nova
    says "Not enough parameters to build a valid rule."; Nova's 400s for bad values."""
    values: Item = {}
    if group_id is not None:
        values["group_id"] = group_id
        upper = str(protocol).upper() if protocol else ""
        if upper == "ICMP" and from_port is None and to_port is None:
            from_port = to_port = -1
        elif upper in ("TCP", "UDP") and from_port is None and to_port is None:
            from_port, to_port = 1, 65535
    else:
        if not cidr:
            cidr = "0.0.0.0/0"
        try:
            ipaddress.ip_network(str(cidr), strict=False)
            if "/" not in str(cidr):
                raise ValueError(cidr)
        except ValueError:
            raise Refused(400, f"Invalid cidr {cidr}.") from None
        values["cidr"] = str(cidr)
    if protocol and from_port is not None and to_port is not None:
        text = str(protocol)
        low, high = _port_number(from_port, text), _port_number(to_port, text)
        upper = text.upper()
        if upper not in ("TCP", "UDP", "ICMP"):
            raise Refused(400, f"Invalid IP protocol {text}.")
        if upper in ("TCP", "UDP") and low > high:
            raise Refused(
                400,
                f"Invalid port range {low}:{high}. Former value cannot be greater than the later",
            )
        if upper in ("TCP", "UDP") and (low < 1 or high > 65535):
            raise Refused(
                400,
                f"Invalid port range {low}:{high}. Valid {upper} ports should be between 1-65535",
            )
        if upper == "ICMP" and not (-1 <= low <= 255 and -1 <= high <= 255):
            raise Refused(
                400, f"Invalid port range {low}:{high}. For ICMP, the type:code must be valid"
            )
        values.update(protocol=text, from_port=low, to_port=high)
    elif "cidr" in values:
        return None
    return values


def _exists(group: Item, rule: Item) -> bool:
    keys = ("group_id", "cidr", "from_port", "to_port", "protocol")
    return any(all(r.get(k) == rule.get(k) for k in keys) for r in group["rules"])


def neutron_rule(rule: Item) -> Item:
    """Nova's `_make_neutron_security_group_rules_list` of one rule: ingress, IPv4 for a
    group rule, -1 ports left out."""
    cidr = rule.get("cidr")
    version = ipaddress.ip_network(str(cidr), strict=False).version if cidr else 4
    body: Item = {
        "direction": "ingress",
        "protocol": rule.get("protocol"),
        "ethertype": "IPv6" if version == 6 else "IPv4",
        "remote_ip_prefix": cidr,
        "security_group_id": rule["parent_group_id"],
        "remote_group_id": rule.get("group_id"),
    }
    if "from_port" in rule and rule["from_port"] != -1:
        body["port_range_min"] = rule["from_port"]
    if "to_port" in rule and rule["to_port"] != -1:
        body["port_range_max"] = rule["to_port"]
    return body


async def create_rule(net: Caller, given: Item) -> Item:
    """POST /os-security-group-rules (body checked): the rule as the API shows it."""
    parent = await get_group(net, str(given["parent_group_id"]))
    source: Item | None = None
    group_id = given.get("group_id")
    if group_id is not None:
        found = await get_group(net, str(group_id))
        source = {"name": found["name"], "tenant_id": found["project_id"]}
    rule = new_rule(
        given.get("ip_protocol"), given.get("from_port"), given.get("to_port"),
        given.get("cidr"), group_id,
    )  # fmt: skip
    if rule is None:
        raise Refused(400, "Not enough parameters to build a valid rule.")
    rule["parent_group_id"] = parent["id"]
    if "cidr" in rule:
        given_net = ipaddress.ip_interface(rule["cidr"])  # Nova's get_net_and_prefixlen
        if str(given_net.ip) not in ("0.0.0.0", "::") and given_net.network.prefixlen == 0:
            raise Refused(400, f"Bad prefix for network in cidr {rule['cidr']}")
    if _exists(parent, rule):
        raise Refused(400, f"This rule already exists in group {parent['id']}")
    try:
        row = await security_groups.create_rule(net, {"security_group_rule": neutron_rule(rule)})
    except NeutronError as exc:
        # Nova's add_rules: 404 SecurityGroupNotFound, 409 SecurityGroupLimitExceeded (403)
        raise Refused(403 if exc.status == 409 else exc.status, exc.message) from exc
    return format_rule(nova_rule(store.view(row)), source)


async def delete_rule(net: Caller, rule_id: str) -> None:
    """DELETE /os-security-group-rules/{id}: 400 for an id that is no UUID, 404 for a rule
    the caller cannot see."""
    valid_id(rule_id)
    try:
        row = await find(net, store.SECURITY_GROUP_RULE, rule_id)
        await find(net, store.SECURITY_GROUP, row.parent_id or "")
        await permit(net, "delete_security_group_rule", row)
        await security_groups.delete_rule(net, row)
    except NeutronError as exc:
        raise Refused(404 if exc.status == 404 else exc.status, exc.message) from exc


# --- a server's groups ---------------------------------------------------------------


async def server_ports(net: Caller, server_id: str) -> list[NetResource]:
    """The top ports whose device is the server (none: its pod's own networks)."""
    return [p for p in await store.rows(net.db, store.PORT) if p.body.get("device_id") == server_id]


async def server_groups(net: Caller, found: list[NetResource]) -> list[Item]:
    """Nova's `get_instance_security_groups(detailed=True)` over the server's ports: each
    port's groups the caller can see, in order (a group on two ports twice), as the API
    shows them, sorted by owner and name."""
    ids = [g for p in found for g in p.body.get("security_groups", [])]
    seen = {r.id: r for r in await store.rows(net.db, store.SECURITY_GROUP, ids=set(ids))}
    rows = [
        seen[g] for g in ids if g in seen and (net.is_admin or seen[g].project_id == net.project_id)
    ]
    views = {v["id"]: nova_group(v) for v in await security_groups.group_views(net, rows)}
    return by_owner_and_name(await format_groups(net, [views[r.id] for r in rows]))


async def _named(net: Caller, name: str) -> str:
    """neutronclient's `find_resourceid_by_name_or_id` in the caller's project: the id of
    the group with that id or name; 409 for several, 404 for none (Nova's messages)."""
    mine = await store.rows(net.db, store.SECURITY_GROUP, net.project_id)
    by_id = [g for g in mine if g.id == name]
    if by_id:
        return by_id[0].id
    found = [g for g in mine if g.body.get("name") == name]
    if len(found) > 1:
        raise Refused(
            409,
            f"Multiple security_group matches found for name '{name}', use an ID to be more "
            "specific.",
        )
    if not found:
        raise Refused(404, f"Security group {name} is not found for project {net.project_id}")
    return found[0].id


def _securable(port: NetResource) -> bool:
    """Nova's `_has_security_group_requirements`."""
    has_ip = port.body.get("fixed_ips") or port.body.get("ip_allocation") == "deferred"
    return bool(has_ip) and bool(port.body.get("port_security_enabled", True))


async def add_to_server(net: Caller, server_id: str, found: list[NetResource], name: str) -> None:
    """Nova's `add_to_instance`: the group (by name or id) added to every port of the
    server; 400 for a port without port security or addresses."""
    group_id = await _named(net, name)
    for port in found:
        if not _securable(port):
            raise Refused(400, "Unable to apply security group to port(s).")
        groups = [*port.body.get("security_groups", []), group_id]
        try:
            await ports.update(net, port, {"security_groups": groups})
        except NeutronError as exc:
            raise Refused(400 if exc.status == 400 else 409, exc.message) from exc


async def remove_from_server(
    net: Caller, server_id: str, found: list[NetResource], name: str
) -> None:
    """Nova's `remove_from_instance`: the group taken off every port that has it; 404
    when none has it."""
    group_id = await _named(net, name)
    removed = False
    for port in found:
        groups = list(port.body.get("security_groups", []))
        if group_id not in groups:
            continue
        groups.remove(group_id)
        await ports.update(net, port, {"security_groups": groups})
        removed = True
    if not removed:
        raise Refused(404, f"Security group {name} not associated with the instance {server_id}")


async def groups_in_pods_now(net: Caller, pods: PodRegistry, found: list[NetResource]) -> None:
    """The pods' copies of the server's ports take their groups now, not when the queued
    `port.sync` runs: Nova's Neutron has them before Nova answers, and a server's view at
    the top is its pod's Nova's (tempest reads it back at once). A pod that fails here is
    left to that job, which retries."""
    for port in found:
        try:
            await jobs.port_now(net.db, pods, port)
        except (PodUnavailable, PodRefused) as exc:
            LOG.warning("port %s: its pods follow by the queued job: %s", port.id, exc)


# --- floating IPs --------------------------------------------------------------------


async def pools(net: Caller) -> list[Item]:
    """Nova's `/os-floating-ip-pools`: every external network the caller sees, by name."""
    return [
        {"name": n.body.get("name", "")}
        for n in await visible(net, store.NETWORK)
        if n.body.get("router:external")
    ]


async def floating_view(net: Caller, row: NetResource) -> Item:
    """Nova's `_translate_floating_ip_view` of a top floating IP."""
    fip = (await floatingips.views(net, [row]))[0]
    port_id = fip.get("port_id")
    instance = None
    if port_id:
        port = await store.get(net.db, store.PORT, str(port_id))
        instance = (port.body.get("device_id") or None) if port is not None else None
    network = await store.get(net.db, store.NETWORK, str(fip.get("floating_network_id")))
    pool = (network.body.get("name") if network is not None else None) or fip.get(
        "floating_network_id"
    )
    return {
        "fixed_ip": fip.get("fixed_ip_address"),
        "id": fip["id"],
        "instance_id": instance,
        "ip": fip.get("floating_ip_address"),
        "pool": pool,
    }


async def list_floating(net: Caller) -> list[Item]:
    rows = await store.rows(net.db, store.FLOATINGIP, net.project_id)
    return [await floating_view(net, r) for r in rows]


async def get_floating(net: Caller, fip_id: str) -> NetResource:
    """The caller's floating IP: Nova's 404 "Floating IP not found for ID" otherwise."""
    try:
        return await find(net, store.FLOATINGIP, fip_id)
    except NeutronError:
        raise Refused(404, f"Floating IP not found for ID {fip_id}") from None


async def create_floating(net: Caller, pool: str | None) -> Item:
    """Nova's `allocate_floating_ip`: from the external network `pool` names (an id or a
    name; none: `[network] default_floating_pool`, as Nova's option); Nova's 404 for
    no such pool or no address left, 403 over quota."""
    pool = pool or net.conf.default_floating_pool
    external = [n for n in await visible(net, store.NETWORK) if n.body.get("router:external")]
    field = "id" if _uuid(pool) else "name"
    chosen = [n for n in external if (n.id if field == "id" else n.body.get("name")) == pool]
    if not chosen:
        raise Refused(404, "Floating IP pool not found.")
    if len(chosen) > 1:
        raise Refused(500, f"Multiple floating IP pools matches found for name '{pool}'")
    try:
        row = await floatingips.create(net, {"floatingip": {"floating_network_id": chosen[0].id}})
    except NeutronError as exc:
        if exc.type == "OverQuota":
            raise Refused(403, f"IP allocation over quota in pool {pool}.") from exc
        if exc.status == 409 or exc.type == "IpAddressGenerationFailure":
            raise Refused(404, f"No more floating IPs in pool {pool}.") from exc
        raise Refused(400, exc.message) from exc
    return await floating_view(net, row)


async def delete_floating(net: Caller, fip_id: str) -> None:
    row = await get_floating(net, fip_id)
    try:
        await permit(net, "delete_floatingip", row)
        await floatingips.delete(net, row)
    except NeutronError as exc:
        raise Refused(403 if exc.status == 403 else 404, exc.message) from exc


async def floating_by_address(net: Caller, address: str) -> NetResource | None:
    """The caller's floating IP of that address (Nova's `_get_floating_ip_by_address`);
    None for none, 409 for several."""
    found = [
        f
        for f in await visible(net, store.FLOATINGIP)
        if f.body.get("floating_ip_address") == address
    ]
    if len(found) > 1:
        raise Refused(409, f"Multiple floating IPs are found for address {address}.")
    return found[0] if found else None


def _ipv4(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).version == 4
    except ValueError:
        return False


async def add_floating(
    net: Caller, server_id: str, found: list[NetResource], address: str, fixed: str | None
) -> None:
    """Nova's `addFloatingIp` (below 2.44) on the server's top ports: the fixed address
    given (one of the server's) or its first IPv4 one; Nova's 400s and 404."""
    fixed_ips = [(p, str(ip["ip_address"])) for p in found for ip in p.body.get("fixed_ips", [])]
    if not fixed_ips:
        raise Refused(400, "No fixed IPs associated to instance")
    if fixed:
        chosen = [(p, a) for p, a in fixed_ips if a == fixed]
        if not chosen:
            raise Refused(400, "Specified fixed address not assigned to instance")
    else:
        chosen = [(p, a) for p, a in fixed_ips if _ipv4(a)]
        if not chosen:
            raise Refused(
                400,
                f"Unable to associate floating IP {address} to any fixed IPs for instance "
                f"{server_id}. Instance has no fixed IPv4 addresses to associate.",
            )
    port, fixed_address = chosen[0]

    def failed(error: str) -> Refused:
        return Refused(
            400,
            f"Unable to associate floating IP {address} to fixed IP {fixed_address} for "
            f"instance {server_id}. Error: {error}",
        )

    try:
        row = await floating_by_address(net, address)
    except Refused as exc:
        raise failed(exc.message) from exc
    if row is None:
        raise Refused(404, "floating IP not found")
    try:
        await permit(net, "update_floatingip", row)
        await floatingips.update(net, row, {"port_id": port.id, "fixed_ip_address": fixed_address})
    except NeutronError as exc:
        if exc.status == 403:
            raise Refused(403, exc.message) from exc
        raise (Refused(400, exc.message) if exc.status == 409 else failed(exc.message)) from exc


async def remove_floating(net: Caller, server_id: str, address: str) -> None:
    """Nova's `removeFloatingIp` (below 2.44): 404 for an address the caller has no
    floating IP of, 409 when it is not the server's; else disassociated."""
    row = await floating_by_address(net, address)
    if row is None:
        raise Refused(404, f"Floating IP not found for address {address}.")
    port_id = row.body.get("port_id")
    port = await store.get(net.db, store.PORT, str(port_id)) if port_id else None
    if port is None or port.body.get("device_id") != server_id:
        raise Refused(409, f"Floating IP {address} is not associated with instance {server_id}.")
    try:
        await permit(net, "update_floatingip", row)
        await floatingips.update(net, row, {"port_id": None})
    except NeutronError as exc:
        raise Refused(403 if exc.status == 403 else 400, exc.message) from exc


# --- networks ------------------------------------------------------------------------

# Nova's `os-networks` fields of nova-network days: only `id` and `label` are filled
NETWORK_FIELDS = (
    "id", "cidr", "netmask", "gateway", "broadcast", "dns1", "dns2", "cidr_v6",
    "gateway_v6", "label", "netmask_v6",
)  # fmt: skip
ADMIN_NETWORK_FIELDS = (
    "created_at", "updated_at", "deleted_at", "deleted", "injected", "bridge", "vlan",
    "vpn_public_address", "vpn_public_port", "vpn_private_address", "dhcp_start",
    "project_id", "host", "bridge_interface", "multi_host", "priority", "rxtx_base", "mtu",
    "dhcp_server", "enable_dhcp", "share_address",
)  # fmt: skip


def network_view(row: NetResource, admin: bool) -> Item:
    """Nova's `os-networks` view (`networks.network_dict`): the id and the name as
    `label`, every other field null (more of them for an admin)."""
    fields = NETWORK_FIELDS + (ADMIN_NETWORK_FIELDS if admin else ())
    found: Item = dict.fromkeys(fields)
    found.update(id=row.id, label=row.body.get("name"))
    return found


def tenant_network_view(row: NetResource) -> Item:
    """Nova's `os-tenant-networks` view: the id, the name as `label`, `cidr` "None"."""
    return {"id": row.id, "cidr": "None", "label": row.body.get("name")}


async def networks(net: Caller) -> list[NetResource]:
    """Every network the caller sees (Neutron's list, as Nova's `get_all` asks it)."""
    return await visible(net, store.NETWORK)


async def network(net: Caller, network_id: str) -> NetResource:
    """A network the caller sees: Nova's 404 "Network not found" otherwise."""
    try:
        return await find(net, store.NETWORK, network_id)
    except NeutronError:
        raise Refused(404, "Network not found") from None

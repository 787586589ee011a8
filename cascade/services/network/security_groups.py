"""Security groups and their rules at the top (no HTTP types here).

Every project has a `default` group (made the first time the project needs one,
as Neutron does) with Neutron's four rules: egress anywhere over IPv4 and IPv6,
ingress from members of the group over IPv4 and IPv6. A rule change is sent to
every pod holding the group by a job (`security_group.sync`, latest wins).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from cascade.db.models import NetResource
from cascade.jobs import queue
from cascade.services.network import attrs, quotas, store
from cascade.services.network.access import Caller, find, visible
from cascade.services.network.errors import Conflict, Forbidden, NeutronError

A = attrs.Attr
GROUP_SPEC: attrs.Spec = {
    "name": A(attrs.text(), "", put=True),
    "description": A(attrs.text(), "", put=True),
    "stateful": A(attrs.boolean, True, put=True),
}
RULE_SPEC: attrs.Spec = {
    "security_group_id": A(attrs.uuid_text, attrs.REQUIRED),
    "direction": A(attrs.text(16), attrs.REQUIRED),
    "ethertype": A(attrs.text(8), "IPv4"),
    "protocol": A(attrs.anything, None),
    "port_range_min": A(attrs.anything, None),
    "port_range_max": A(attrs.anything, None),
    "remote_ip_prefix": A(attrs.anything, None),
    "remote_group_id": A(attrs.anything, None),
    "remote_address_group_id": A(attrs.anything, None),
    "description": A(attrs.text(), ""),
}
PROTOCOLS = {
    "ah": 51,
    "dccp": 33,
    "egp": 8,
    "esp": 50,
    "gre": 47,
    "hopopt": 0,
    "icmp": 1,
    "icmpv6": 58,
    "igmp": 2,
    "ipip": 4,
    "ipv6-encap": 41,
    "ipv6-frag": 44,
    "ipv6-icmp": 58,
    "ipv6-nonxt": 59,
    "ipv6-opts": 60,
    "ipv6-route": 43,
    "ospf": 89,
    "pgm": 113,
    "rsvp": 46,
    "sctp": 132,
    "tcp": 6,
    "udp": 17,
    "udplite": 136,
    "vrrp": 112,
}
PORT_PROTOCOLS = ("tcp", "udp", "dccp", "sctp", "udplite", "6", "17", "33", "132", "136")
ICMP = ("icmp", "icmpv6", "ipv6-icmp", "1", "58")
JOB_SYNC = "security_group.sync"
DEFAULT = "default"
DEFAULT_DESCRIPTION = "Default security group"


class RuleInvalid(NeutronError):
    status = 400
    type = "InvalidInput"


def _rule(
    group_id: str, direction: str, ethertype: str, remote_group: str | None
) -> dict[str, Any]:
    return {
        "security_group_id": group_id,
        "direction": direction,
        "ethertype": ethertype,
        "protocol": None,
        "port_range_min": None,
        "port_range_max": None,
        "remote_ip_prefix": None,
        "remote_group_id": remote_group,
        "remote_address_group_id": None,
        "normalized_cidr": None,
        "description": None,
        "belongs_to_default_sg": None,
    }


def _add_group(
    caller: Caller, project: str, name: str, description: str, stateful: bool, default: bool
) -> NetResource:
    body = {"name": name, "description": description, "stateful": stateful, "shared": False}
    row = store.add(caller.db, store.SECURITY_GROUP, project, body)
    rules = [_rule(row.id, "egress", "IPv4", None), _rule(row.id, "egress", "IPv6", None)]
    if default:
        row.body = {**body, "_default": True}
        rules += [
            _rule(row.id, "ingress", "IPv4", row.id),
            _rule(row.id, "ingress", "IPv6", row.id),
        ]
    for rule in rules:
        rule["belongs_to_default_sg"] = default
        store.add(caller.db, store.SECURITY_GROUP_RULE, project, rule, parent_id=row.id)
    return row


async def default_group(caller: Caller, project: str) -> NetResource | None:
    for row in await store.rows(caller.db, store.SECURITY_GROUP, project):
        if row.body.get("_default"):
            return row
    return None


async def ensure_default(caller: Caller, project: str) -> NetResource:
    """The project's default group, made (and committed) the first time it is needed."""
    found = await default_group(caller, project)
    if found is not None:
        return found
    row = _add_group(caller, project, DEFAULT, DEFAULT_DESCRIPTION, True, default=True)
    await caller.db.commit()
    again = await default_group(caller, project)
    if again is not None and again.id != row.id and again.created_at <= row.created_at:
        # two requests made one at the same moment: keep the first, drop ours
        for rule in await store.rows(caller.db, store.SECURITY_GROUP_RULE, parent_ids=[row.id]):
            await caller.db.delete(rule)
        await caller.db.delete(row)
        await caller.db.commit()
        return again
    return row


async def show_group(caller: Caller, row: NetResource) -> dict[str, Any]:
    out = store.view(row)
    rules = await store.rows(caller.db, store.SECURITY_GROUP_RULE, parent_ids=[row.id])
    out["security_group_rules"] = [store.view(r) for r in rules]
    return out


async def create_group(caller: Caller, body: Any) -> dict[str, Any]:
    """A new group with Neutron's two egress rules: 201; 409 over quota."""
    given = attrs.take(GROUP_SPEC, body, "security_group", caller.is_admin, update=False)
    project = attrs.owner(body, "security_group", caller.project_id, caller.is_admin)
    if given["name"] == DEFAULT:
        raise Conflict(
            "Default security group already exists.", type="SecurityGroupDefaultAlreadyExists"
        )
    await ensure_default(caller, project)
    await quotas.check(caller.db, caller.conf, project, "security_group")
    row = _add_group(
        caller, project, given["name"], given["description"], given["stateful"], default=False
    )
    await caller.db.commit()
    return await show_group(caller, row)


async def get_group(caller: Caller, group_id: str) -> dict[str, Any]:
    return await show_group(caller, await find(caller, store.SECURITY_GROUP, group_id))


async def list_groups(caller: Caller) -> list[dict[str, Any]]:
    await ensure_default(caller, caller.project_id)
    groups = await visible(caller, store.SECURITY_GROUP)
    rules: dict[str, list[dict[str, Any]]] = {g.id: [] for g in groups}
    for rule in await store.rows(caller.db, store.SECURITY_GROUP_RULE, parent_ids=list(rules)):
        rules[rule.parent_id or ""].append(store.view(rule))
    return [{**store.view(g), "security_group_rules": rules[g.id]} for g in groups]


def _mine(caller: Caller, row: NetResource, action: str) -> None:
    if not caller.is_admin and row.project_id != caller.project_id:
        raise Forbidden(f"(rule:{action}) is disallowed by policy", type="PolicyNotAuthorized")


async def update_group(caller: Caller, group_id: str, body: Any) -> dict[str, Any]:
    row = await find(caller, store.SECURITY_GROUP, group_id)
    _mine(caller, row, "update_security_group")
    given = attrs.take(GROUP_SPEC, body, "security_group", caller.is_admin, update=True)
    if row.body.get("_default") and given.get("name", DEFAULT) != DEFAULT:
        raise Conflict(
            "Updating default security group not allowed.", type="SecurityGroupCannotUpdateDefault"
        )
    store.change(row, given)
    await caller.db.commit()
    return await show_group(caller, row)


async def delete_group(caller: Caller, group_id: str) -> None:
    """The group and its rules go; 409 while a port uses it or for a project's default
    group (admins may delete a default group that no port uses)."""
    row = await find(caller, store.SECURITY_GROUP, group_id)
    _mine(caller, row, "delete_security_group")
    if row.body.get("_default") and not caller.is_admin:
        raise Conflict(
            "Insufficient rights for removing default security group.",
            type="SecurityGroupCannotRemoveDefault",
        )
    for port in await store.rows(caller.db, store.PORT, row.project_id):
        if row.id in port.body.get("security_groups", []):
            raise Conflict(f"Security Group {row.id} in use.", type="SecurityGroupInUse")
    for rule in await store.rows(caller.db, store.SECURITY_GROUP_RULE, parent_ids=[row.id]):
        await caller.db.delete(rule)
    await caller.db.delete(row)
    await queue.enqueue(caller.db, JOB_SYNC, row.id, row.project_id, {"deleted": True})
    await caller.db.commit()


def _protocol(raw: Any) -> str | None:
    if raw is None or raw == "" or str(raw).lower() == "any":
        return None
    text = str(raw).lower()
    if text in PROTOCOLS or (text.isdigit() and 0 <= int(text) <= 255):
        return text
    raise NeutronError(
        f"Security group rule protocol {raw} not supported. Only protocol values "
        f"{sorted(PROTOCOLS)} and integer representations [0 to 255] are supported.",
        400,
        "SecurityGroupRuleInvalidProtocol",
    )


def _port(name: str, raw: Any) -> int | None:
    if raw is None:
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise RuleInvalid(f"Invalid input for {name}. Reason: '{raw}' is not an integer.") from None


def _ports(
    protocol: str | None, low: int | None, high: int | None
) -> tuple[int | None, int | None]:
    if protocol in PORT_PROTOCOLS:
        if low is None and high is not None:
            low = high
        if high is None and low is not None:
            high = low
        if low is not None and high is not None:
            for value in (low, high):
                if not 1 <= value <= 65535:
                    raise NeutronError(
                        f"Invalid value for port {value}", 400, "SecurityGroupInvalidPortValue"
                    )
            if low > high:
                raise NeutronError(
                    "For TCP/UDP protocols, port_range_min must be <= port_range_max",
                    400,
                    "SecurityGroupInvalidPortRange",
                )
        return low, high
    if protocol in ICMP:
        for icmp, what in ((low, "type"), (high, "code")):
            if icmp is not None and not 0 <= icmp <= 255:
                raise NeutronError(
                    f"Invalid value for ICMP {what} {icmp}; it must be 0-255",
                    400,
                    "SecurityGroupInvalidIcmpValue",
                )
        if low is None and high is not None:
            raise NeutronError(
                f"ICMP code (port-range-max) {high} is provided but ICMP type "
                "(port-range-min) is missing.",
                400,
                "SecurityGroupMissingIcmpType",
            )
        return low, high
    if low is not None or high is not None:
        raise RuleInvalid(
            "Invalid input for operation: port_range_min and port_range_max "
            f"are only allowed with TCP, UDP, ICMP and related protocols, "
            f"not {protocol}."
        )
    return None, None


def _prefix(raw: Any, ethertype: str) -> tuple[str | None, str | None]:
    if raw is None:
        return None, None
    try:
        net = ipaddress.ip_network(str(raw), strict=False)
    except ValueError:
        raise RuleInvalid(
            f"Invalid input for remote_ip_prefix. Reason: '{raw}' is not a valid IP subnet."
        ) from None
    if f"IPv{net.version}" != ethertype:
        raise NeutronError(
            f"Conflicting value ethertype {ethertype} for CIDR {raw}",
            400,
            "SecurityGroupRuleParameterConflict",
        )
    return str(raw), str(net)


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    keys = (
        "direction",
        "ethertype",
        "protocol",
        "port_range_min",
        "port_range_max",
        "normalized_cidr",
        "remote_group_id",
        "remote_address_group_id",
    )
    return all(a.get(k) == b.get(k) for k in keys)


async def create_rule(caller: Caller, body: Any) -> dict[str, Any]:
    """A new rule in a group the caller owns: 201; Neutron's 400 for a bad direction,
    protocol, port range or prefix, 409 SecurityGroupRuleExists for a duplicate. The
    pods holding the group get it via a job."""
    given = attrs.take(RULE_SPEC, body, "security_group_rule", caller.is_admin, update=False)
    group = await find(caller, store.SECURITY_GROUP, given["security_group_id"])
    _mine(caller, group, "create_security_group_rule")
    if given["direction"] not in ("ingress", "egress"):
        raise RuleInvalid(
            f"Invalid input for direction. Reason: {given['direction']} is not in valid_values."
        )
    if given["ethertype"] not in ("IPv4", "IPv6"):
        raise RuleInvalid(
            f"Invalid input for ethertype. Reason: {given['ethertype']} is not in valid_values."
        )
    if given["remote_ip_prefix"] is not None and given["remote_group_id"] is not None:
        raise NeutronError(
            "Only remote_ip_prefix or remote_group_id may be provided.",
            400,
            "SecurityGroupRemoteGroupAndRemoteIpPrefix",
        )
    if given["remote_address_group_id"] is not None:
        raise RuleInvalid("remote_address_group_id is not supported by the top yet")
    if given["remote_group_id"] is not None:
        await find(caller, store.SECURITY_GROUP, str(given["remote_group_id"]))
    protocol = _protocol(given["protocol"])
    low, high = _ports(
        protocol,
        _port("port_range_min", given["port_range_min"]),
        _port("port_range_max", given["port_range_max"]),
    )
    prefix, normalized = _prefix(given["remote_ip_prefix"], given["ethertype"])
    rule = {
        **given,
        "protocol": protocol,
        "port_range_min": low,
        "port_range_max": high,
        "remote_ip_prefix": prefix,
        "normalized_cidr": normalized,
        "belongs_to_default_sg": bool(group.body.get("_default")),
    }
    for other in await store.rows(caller.db, store.SECURITY_GROUP_RULE, parent_ids=[group.id]):
        if _same(other.body, rule):
            raise Conflict(
                f"Security group rule already exists. Rule id is {other.id}.",
                type="SecurityGroupRuleExists",
            )
    await quotas.check(caller.db, caller.conf, group.project_id, "security_group_rule")
    row = store.add(
        caller.db, store.SECURITY_GROUP_RULE, group.project_id, rule, parent_id=group.id
    )
    store.bump(group)
    await queue.enqueue(caller.db, JOB_SYNC, group.id, group.project_id, {})
    await caller.db.commit()
    return store.view(row)


async def _rule_row(caller: Caller, rule_id: str) -> NetResource:
    row = await store.get(caller.db, store.SECURITY_GROUP_RULE, rule_id)
    if row is None or not (caller.is_admin or row.project_id == caller.project_id):
        raise NeutronError(
            f"Security group rule {rule_id} does not exist", 404, "SecurityGroupRuleNotFound"
        )
    return row


async def get_rule(caller: Caller, rule_id: str) -> dict[str, Any]:
    return store.view(await _rule_row(caller, rule_id))


async def list_rules(caller: Caller) -> list[dict[str, Any]]:
    return [store.view(r) for r in await visible(caller, store.SECURITY_GROUP_RULE)]


async def delete_rule(caller: Caller, rule_id: str) -> None:
    """The rule goes at the top, and from every pod holding its group via a job."""
    row = await _rule_row(caller, rule_id)
    group = await store.get(caller.db, store.SECURITY_GROUP, row.parent_id or "")
    await caller.db.delete(row)
    if group is not None:
        store.bump(group)
        await queue.enqueue(caller.db, JOB_SYNC, group.id, group.project_id, {})
    await caller.db.commit()

"""Security groups and their rules at the top (no HTTP types here).

Every project has a `default` group (made the first time the project needs one,
as Neutron does). A new group's rules are made from the default security group
rules (`default_rules`; as seeded, Neutron's four: egress anywhere over IPv4 and
IPv6 in every group, ingress from members of the group in default groups). A rule change is sent to
every pod holding the group by a job (`security_group.sync`, latest wins).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from cascade.db.models import NetResource
from cascade.jobs import queue
from cascade.services.network import attrs, quotas, store
from cascade.services.network.access import Caller, creating, find, parent
from cascade.services.network.errors import Conflict, NeutronError

DEFAULT = "default"
PARENT = "PARENT"  # a default rule's remote group: the group made from it
DEFAULT_DESCRIPTION = "Default security group"


def _name_not_default(name: str, value: Any) -> str:
    """Neutron's `name_not_default`: no group but the project's own may be `default`
    (any case), on create and on update: 409 SecurityGroupDefaultAlreadyExists."""
    text: str = attrs.text()(name, value)
    if text.lower() == DEFAULT:
        raise Conflict(
            "Default security group already exists.", type="SecurityGroupDefaultAlreadyExists"
        )
    return text


A = attrs.Attr
GROUP_SPEC: attrs.Spec = {
    "name": A(_name_not_default, "", put=True),
    "description": A(attrs.text(), "", put=True),
    "stateful": A(attrs.boolean, True, put=True),
}
RULE_SPEC: attrs.Spec = {
    "security_group_id": A(attrs.uuid_text, attrs.REQUIRED),
    "direction": A(attrs.anything, attrs.REQUIRED),
    "ethertype": A(attrs.anything, "IPv4"),
    "protocol": A(attrs.anything, None),
    "port_range_min": A(attrs.anything, None),
    "port_range_max": A(attrs.anything, None),
    "remote_ip_prefix": A(attrs.anything, None),
    "remote_group_id": A(attrs.anything, None),
    "remote_address_group_id": A(attrs.anything, None),
    "description": A(attrs.text(), ""),
}
# neutron-lib's IP_PROTOCOL_MAP, in its order (the order of Neutron's error message)
PROTOCOLS = {
    "ah": 51,
    "dccp": 33,
    "egp": 8,
    "esp": 50,
    "gre": 47,
    "hopopt": 0,
    "icmp": 1,
    "igmp": 2,
    "ip": 0,
    "ipip": 4,
    "ipv6-encap": 41,
    "ipv6-frag": 44,
    "ipv6-icmp": 58,
    "icmpv6": 58,
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
# neutron-lib's IP_PROTOCOL_NUM_TO_NAME_MAP: 0 is `ip`, 58 `ipv6-icmp`
PROTOCOL_NAMES = {
    str(num): name for name, num in PROTOCOLS.items() if name not in ("hopopt", "icmpv6")
}
ANY = (None, "any")
SUPPORTED = (*ANY, *PROTOCOLS)
PORT_PROTOCOL_NAMES = ("dccp", "sctp", "tcp", "udp", "udplite")
PORT_PROTOCOL_NUMBERS = tuple(PROTOCOLS[name] for name in PORT_PROTOCOL_NAMES)
ICMP_NUMBERS = (1, 58)
IPV6_ICMP_LEGACY = ("icmp", "icmpv6")
IPV6_ONLY = (
    *("ipv6-encap", "ipv6-frag", "ipv6-icmp", "icmpv6", "ipv6-nonxt", "ipv6-opts", "ipv6-route"),
    *("41", "44", "58", "59", "60", "43"),
)
ETHERTYPES = ("IPv4", "IPv6")
JOB_SYNC = "security_group.sync"


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


async def _add_group(
    caller: Caller, project: str, name: str, description: str, stateful: bool, default: bool
) -> NetResource:
    """The group with the rules the default rules give it (Neutron's
    `_create_rules_from_template`): those `used_in_default_sg` for a project's default
    group, those `used_in_non_default_sg` for any other; `PARENT` is the group itself."""
    body = {"name": name, "description": description, "stateful": stateful, "shared": False}
    row = store.add(caller.db, store.SECURITY_GROUP, project, body)
    if default:
        row.body = {**body, "_default": True}
    used = "used_in_default_sg" if default else "used_in_non_default_sg"
    for template in await store.rows(caller.db, store.DEFAULT_SECURITY_GROUP_RULE):
        if template.body.get(used):
            rule = _from_template(row.id, template.body, default)
            store.add(caller.db, store.SECURITY_GROUP_RULE, project, rule, parent_id=row.id)
    return row


def _from_template(group_id: str, template: dict[str, Any], default: bool) -> dict[str, Any]:
    remote = template.get("remote_group_id")
    rule = _rule(
        group_id,
        template["direction"],
        template["ethertype"],
        group_id if remote == PARENT else remote,
    )
    prefix = template.get("remote_ip_prefix")
    rule.update(
        protocol=template.get("protocol"),
        port_range_min=template.get("port_range_min"),
        port_range_max=template.get("port_range_max"),
        remote_ip_prefix=prefix,
        normalized_cidr=str(ipaddress.ip_interface(prefix).network) if prefix else None,
        belongs_to_default_sg=default,
    )
    return rule


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
    row = await _add_group(caller, project, DEFAULT, DEFAULT_DESCRIPTION, True, default=True)
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


async def create_group(caller: Caller, body: Any) -> NetResource:
    """A new group with Neutron's two egress rules: 201; 409 over quota or for the name
    `default` (SecurityGroupDefaultAlreadyExists)."""
    given = attrs.take(GROUP_SPEC, body, "security_group", caller.allows, update=False)
    project = creating(caller, body, "security_group", given)
    await ensure_default(caller, project)
    await quotas.check(caller.db, caller.conf, project, "security_group")
    row = await _add_group(
        caller, project, given["name"], given["description"], given["stateful"], default=False
    )
    await caller.db.commit()
    return row


async def before_listing(caller: Caller, filters: dict[str, list[str]]) -> None:
    """As Neutron's `get_security_groups`: a list makes the default group of the project it
    is filtered on (`project_id`, else `tenant_id`), else of the caller's project. Only an
    admin's list makes one for another project."""
    wanted = filters.get("project_id") or filters.get("tenant_id") or [caller.project_id]
    project = wanted[0]
    if project == caller.project_id or caller.is_admin:
        await ensure_default(caller, project)


async def group_views(caller: Caller, groups: list[NetResource]) -> list[dict[str, Any]]:
    """The groups as Neutron shows them, each with its rules."""
    rules: dict[str, list[dict[str, Any]]] = {g.id: [] for g in groups}
    for rule in await store.rows(caller.db, store.SECURITY_GROUP_RULE, parent_ids=list(rules)):
        rules[rule.parent_id or ""].append(store.view(rule))
    return [{**store.view(g), "security_group_rules": rules[g.id]} for g in groups]


async def rule_views(caller: Caller, rules: list[NetResource]) -> list[dict[str, Any]]:
    return [store.view(r) for r in rules]


async def update_group(caller: Caller, row: NetResource, given: dict[str, Any]) -> None:
    """The group renamed or described: 200; 409 SecurityGroupDefaultAlreadyExists for the
    name `default`, SecurityGroupCannotUpdateDefault for a new name of the default group."""
    if row.body.get("_default") and "name" in given:
        raise Conflict(
            "Updating default security group not allowed.", type="SecurityGroupCannotUpdateDefault"
        )
    store.change(row, given)
    await caller.db.commit()


async def delete_group(caller: Caller, row: NetResource) -> None:
    """The group and its rules go; 409 while a port uses it or for a project's default
    group (admins may delete a default group that no port uses)."""
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


class RuleError(NeutronError):
    """Neutron's security group rule errors: all InvalidInput (400), named by type."""

    status = 400


def _protocol(raw: Any) -> str | None:
    """Neutron's `convert_protocol`: None for any, a name of the map or 0-255 as text."""
    if raw in ANY:
        return None
    # a number as JSON gives it (not a boolean, not a fraction) or as text: the rest of
    # the rule reads it back with int(), which must not fail on what passed here
    integral = isinstance(raw, int | str) or (isinstance(raw, float) and raw.is_integer())
    try:
        number = int(raw) if integral and not isinstance(raw, bool) else -1
    except (TypeError, ValueError, OverflowError):
        if isinstance(raw, str) and raw.lower() in SUPPORTED:
            return raw.lower()
    else:
        if 0 <= number <= 255:
            return str(number) if isinstance(raw, float) else str(raw)
    raise RuleError(
        f"Security group rule protocol {raw} not supported. Only protocol values "
        f"{SUPPORTED!r} and integer representations [0 to 255] are supported.",
        type="SecurityGroupRuleInvalidProtocol",
    )


def _port(raw: Any) -> int | None:
    """Neutron's `convert_validate_port_value`: None, or a port 0-65535."""
    if raw is None:
        return None
    try:
        number = int(raw)
    except (TypeError, ValueError):
        number = -1
    if not 0 <= number <= 65535:
        raise RuleError(f"Invalid value for port {raw}", type="SecurityGroupInvalidPortValue")
    return number


def _ethertype(raw: Any) -> str:
    for known in ETHERTYPES:
        if isinstance(raw, str) and raw.lower() == known.lower():
            return known
    raise RuleError(
        f"Security group rule for ethertype '{raw}' not supported. Allowed values are "
        f"{list(ETHERTYPES)!r}.",
        type="SecurityGroupRuleInvalidEtherType",
    )


def _ip_prefix(raw: Any) -> str | None:
    """Neutron's `convert_ip_prefix_to_cidr`: the prefix with its mask, host bits kept."""
    if not raw:
        return None
    try:
        interface = ipaddress.ip_interface(str(raw))
    except ValueError:
        raise RuleError(f"Invalid CIDR {raw} given as IP prefix.", type="InvalidCIDR") from None
    return f"{interface.ip}/{interface.network.prefixlen}"


def _protocol_number(protocol: str | None) -> int | None:
    if protocol is None or protocol == "any":
        return None
    name = "ipv6-icmp" if protocol == "icmpv6" else protocol
    return PROTOCOLS[name] if name in PROTOCOLS else int(name)


def _check_ports(rule: dict[str, Any]) -> None:
    """Neutron's `_validate_port_range`, messages and types included."""
    low, high = rule["port_range_min"], rule["port_range_max"]
    if low is None and high is None:
        return
    if not rule["protocol"]:
        raise RuleError(
            "Must also specify protocol if port range is given.",
            type="SecurityGroupProtocolRequiredWithPorts",
        )
    number = _protocol_number(rule["protocol"])
    if number in PORT_PROTOCOL_NUMBERS:
        if low == 0 or high == 0:
            raise RuleError("Invalid value for port 0", type="SecurityGroupInvalidPortValue")
        if low is None or high is None or low > high:
            raise RuleError(
                "For TCP/UDP protocols, port_range_min must be <= port_range_max",
                type="SecurityGroupInvalidPortRange",
            )
    elif number in ICMP_NUMBERS:
        for attr, field in (("port_range_min", "type"), ("port_range_max", "code")):
            value = rule[attr]
            if value is not None and not 0 <= value <= 255:
                raise RuleError(
                    f"Invalid value for ICMP {field} ({attr}) {value}. It must be 0 to 255.",
                    type="SecurityGroupInvalidIcmpValue",
                )
        if low is None and high is not None:
            raise RuleError(
                f"ICMP code (port-range-max) {high} is provided but ICMP type "
                "(port-range-min) is missing.",
                type="SecurityGroupMissingIcmpType",
            )
    else:
        valid = ", ".join(name.upper() for name in PORT_PROTOCOL_NAMES)
        raise RuleError(
            f"Ports cannot be specified for protocol {number}. Ports are only supported "
            f"for {valid}.",
            type="SecurityGroupInvalidProtocolForPort",
        )


def _validate(rule: dict[str, Any]) -> None:
    """Neutron's `_validate_base_security_group_rule_attributes`, in its order: legacy
    IPv6 ICMP names made canonical, 1-65535 made "no range", then the checks."""
    rule["protocol"] = _ipv6_icmp(rule["protocol"], rule["ethertype"])
    if rule["port_range_min"] == 1 and rule["port_range_max"] == 65535:
        rule["port_range_min"] = rule["port_range_max"] = None
    _check_ports(rule)
    prefix = rule["remote_ip_prefix"]
    if prefix and rule["ethertype"] != f"IPv{ipaddress.ip_interface(prefix).version}":
        raise RuleError(
            f"Conflicting value ethertype {rule['ethertype']} for CIDR {prefix}",
            type="SecurityGroupRuleParameterConflict",
        )
    if rule["protocol"] in IPV6_ONLY and rule["ethertype"] == "IPv4":
        raise RuleError(
            f"Invalid ethertype {rule['ethertype']} for protocol {rule['protocol']}.",
            type="SecurityGroupEthertypeConflictWithProtocol",
        )
    remotes = ("remote_ip_prefix", "remote_group_id", "remote_address_group_id")
    if sum(1 for key in remotes if rule[key]) > 1:
        raise RuleError(
            "Only one of remote_ip_prefix or remote_group_id or remote_address_group_id "
            "may be provided.",
            type="SecurityGroupMultipleRemoteEntites",
        )


def rule_key(rule: dict[str, Any]) -> tuple[str, ...]:
    """Neutron's `_rule_to_key`: what makes two rules of a group the same (a protocol by
    name or number, any address or no prefix)."""

    def norm(key: str) -> str:
        value = rule.get(key)
        if key == "remote_ip_prefix":
            return "+" if value in ("0.0.0.0/0", "::/0", None) else str(value)
        if value is None:
            return "+"
        if key == "protocol":
            return str(_name_and_number(str(value), rule.get("ethertype")))
        return str(value)

    keys = (
        "direction",
        "ethertype",
        "port_range_max",
        "port_range_min",
        "protocol",
        "remote_group_id",
        "remote_address_group_id",
        "remote_ip_prefix",
        "security_group_id",
    )
    return tuple(norm(k) for k in keys)


def _ipv6_icmp(protocol: str, ethertype: str | None) -> str:
    """ICMP over IPv6 by its canonical name or number (the legacy names, 1: 58)."""
    if ethertype == "IPv6" and protocol in IPV6_ICMP_LEGACY:
        return "ipv6-icmp"
    return "58" if ethertype == "IPv6" and protocol == "1" else protocol


def _name_and_number(protocol: str, ethertype: str | None) -> list[str] | None:
    if protocol == "any":
        return None
    protocol = _ipv6_icmp(protocol, ethertype)
    if protocol in PROTOCOLS:
        return [protocol, str(PROTOCOLS[protocol])]
    if protocol in PROTOCOL_NAMES:
        return [PROTOCOL_NAMES[protocol], protocol]
    return [protocol, protocol]


def normalised(given: dict[str, Any]) -> dict[str, Any]:
    """A rule's attributes (a group's rule or a default rule) as Neutron converts and
    checks them: Neutron's 400s (same types and messages) for a bad direction,
    ethertype, protocol, port range or prefix; a remote address group is not served at
    the top yet (400)."""
    if given["direction"] not in ("ingress", "egress"):
        raise attrs.AttrInvalid("direction", f"{given['direction']} is not in valid_values")
    rule = {
        **given,
        "protocol": _protocol(given["protocol"]),
        "port_range_min": _port(given["port_range_min"]),
        "port_range_max": _port(given["port_range_max"]),
        "ethertype": _ethertype(given["ethertype"]),
        "remote_ip_prefix": _ip_prefix(given["remote_ip_prefix"]),
    }
    _validate(rule)
    if rule["remote_address_group_id"] is not None:
        raise RuleError(
            "remote_address_group_id is not supported by the top yet", type="InvalidInput"
        )
    return rule


async def create_rule(caller: Caller, body: Any) -> NetResource:
    """A new rule in a group the caller owns: 201; Neutron's 400s (same types and
    messages) for a bad direction, ethertype, protocol, port range or prefix, 409
    SecurityGroupRuleExists for a duplicate. The pods holding the group get it via a
    job."""
    given = attrs.take(RULE_SPEC, body, "security_group_rule", caller.allows, update=False)
    rule = normalised(given)
    if rule["remote_group_id"] is not None:
        await find(caller, store.SECURITY_GROUP, str(rule["remote_group_id"]))
    group = await parent(
        caller, store.SECURITY_GROUP, rule["security_group_id"], "create_security_group_rule"
    )
    creating(caller, body, "security_group_rule", rule, group)  # kept in the group's project
    prefix = rule["remote_ip_prefix"]
    rule["normalized_cidr"] = str(ipaddress.ip_interface(prefix).network) if prefix else None
    rule["belongs_to_default_sg"] = bool(group.body.get("_default"))
    mine = rule_key(rule)
    for other in await store.rows(caller.db, store.SECURITY_GROUP_RULE, parent_ids=[group.id]):
        if rule_key(other.body) == mine:
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
    return row


async def delete_rule(caller: Caller, row: NetResource) -> None:
    """The rule goes at the top, and from every pod holding its group via a job."""
    group = await store.get(caller.db, store.SECURITY_GROUP, row.parent_id or "")
    await caller.db.delete(row)
    if group is not None:
        store.bump(group)
        await queue.enqueue(caller.db, JOB_SYNC, group.id, group.project_id, {})
    await caller.db.commit()

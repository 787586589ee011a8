"""Top names and ids for what Nova shows about a server's networks.

A bottom network is named after its top id, so Nova labels a server's
addresses with that id: the top shows the top network's name instead. So are
bottom security groups, so Nova lists a server's `security_groups` by that id:
the top shows the top group's name. Ports,
networks and subnets in `os-interface` answers are bottom ids: the top shows
its own ids (found through the routings of the pod).
"""

from __future__ import annotations

import re
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.models import NetResource, Routing
from cascade.services.network import store

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
NAMES_SECONDS = 5.0
_names: dict[str, tuple[str, float]] = {}  # top network id -> (name, valid until)
_group_cache: dict[str, tuple[str, float]] = {}  # top security group id -> (name, valid until)


def uuid_labels(servers: list[dict[str, Any]]) -> bool:
    """Whether any server has an address label that may be a top network id."""
    return bool(_labels(servers))


def _labels(servers: list[dict[str, Any]]) -> set[str]:
    return {
        key
        for item in servers
        if isinstance(item.get("addresses"), dict)
        for key in item["addresses"]
        if UUID.match(key)
    }


async def rename_addresses(db: AsyncSession, servers: list[dict[str, Any]]) -> None:
    """Address labels that are top network ids become the networks' names (kept for
    NAMES_SECONDS, so lists of many servers cost one query)."""
    labels = _labels(servers)
    now = time.monotonic()
    missing = [label for label in labels if _names.get(label, ("", 0.0))[1] < now]
    if missing:
        query = select(NetResource).where(NetResource.id.in_(missing))
        for row in (await db.scalars(query)).all():
            _names[row.id] = (str(row.body.get("name", "")) or row.id, now + NAMES_SECONDS)
    for item in servers:
        addresses = item.get("addresses")
        if not isinstance(addresses, dict) or not labels & set(addresses):
            continue
        renamed: dict[str, Any] = {}
        for key, value in addresses.items():
            name = _names.get(key, (key, 0.0))[0] if key in labels else key
            renamed.setdefault(name, []).extend(value)
        item["addresses"] = renamed
    await _floating(db, servers)


FIXED, FLOATING = "fixed", "floating"
TYPE, MAC = "OS-EXT-IPS:type", "OS-EXT-IPS-MAC:mac_addr"


async def _floating(db: AsyncSession, servers: list[dict[str, Any]]) -> None:
    """The floating addresses are the top's: each fixed address (by MAC and address) whose
    top port has a floating IP is followed by it, as Nova lists them. The pod's Nova
    knows only those its own Neutron holds (a floating IP of another pod's external
    network is held there, by a shadow port), so its own floating entries are replaced."""
    entries = [
        entry
        for item in servers
        if isinstance(item.get("addresses"), dict)
        for value in item["addresses"].values()
        if isinstance(value, list)
        for entry in value
        if isinstance(entry, dict)
    ]
    fixed = {str(e.get("addr")) for e in entries if e.get(TYPE, FIXED) == FIXED}
    if not fixed:
        return
    fips = [
        f
        for f in await store.rows(db, store.FLOATINGIP)
        if f.body.get("port_id") and f.body.get("fixed_ip_address") in fixed
    ]
    ports = await store.rows(db, store.PORT, ids={str(f.body["port_id"]) for f in fips})
    macs = {p.id: str(p.body.get("mac_address")) for p in ports}
    floating = {
        (macs.get(str(f.body["port_id"])), str(f.body["fixed_ip_address"])): str(
            f.body["floating_ip_address"]
        )
        for f in fips
    }
    for item in servers:
        addresses = item.get("addresses")
        if not isinstance(addresses, dict):
            continue
        for label, value in addresses.items():
            if not isinstance(value, list) or not any(TYPE in e for e in value):
                continue  # no extended attributes: nothing to tell fixed from floating
            out = []
            for entry in value:
                if entry.get(TYPE) == FLOATING:
                    continue
                out.append(entry)
                address = floating.get((entry.get(MAC), str(entry.get("addr"))))
                if address is not None:
                    out.append({**entry, "addr": address, TYPE: FLOATING})
            addresses[label] = out


def uuid_groups(servers: list[dict[str, Any]]) -> bool:
    """Whether any server lists a security group whose name may be a top group id."""
    return bool(_group_names(servers))


def _group_names(servers: list[dict[str, Any]]) -> set[str]:
    return {
        str(group["name"])
        for item in servers
        if isinstance(item.get("security_groups"), list)
        for group in item["security_groups"]
        if isinstance(group, dict) and UUID.match(str(group.get("name", "")))
    }


async def rename_groups(db: AsyncSession, servers: list[dict[str, Any]]) -> None:
    """Security group names that are top group ids (the names of the pods' copies)
    become the top groups' names, as Nova lists a server's groups: `{"name": ...}`, the
    id for a group without a name. A pod's own group (no top group has its name as id)
    keeps its name. Kept for NAMES_SECONDS, as network names."""
    labels = _group_names(servers)
    now = time.monotonic()
    missing = [label for label in labels if _group_cache.get(label, ("", 0.0))[1] < now]
    if missing:
        query = select(NetResource).where(
            NetResource.id.in_(missing), NetResource.kind == store.SECURITY_GROUP
        )
        for row in (await db.scalars(query)).all():
            name = str(row.body.get("name", "")) or row.id
            _group_cache[row.id] = (name, now + NAMES_SECONDS)
    for item in servers:
        groups = item.get("security_groups")
        if not isinstance(groups, list):
            continue
        for group in groups:
            if isinstance(group, dict) and str(group.get("name", "")) in labels:
                group["name"] = _group_cache.get(group["name"], (group["name"], 0.0))[0]


async def top_interfaces(db: AsyncSession, pod_id: str, attachments: list[dict[str, Any]]) -> None:
    """Bottom port, network and subnet ids in `os-interface` answers become top ids."""
    bottoms: set[str] = set()
    for att in attachments:
        bottoms.update(str(att.get(k)) for k in ("port_id", "net_id") if att.get(k))
        bottoms.update(str(ip.get("subnet_id")) for ip in att.get("fixed_ips", []) or [])
    if not bottoms:
        return
    query = select(Routing.bottom_id, Routing.top_id).where(
        Routing.pod_id == pod_id,
        Routing.bottom_id.in_(list(bottoms)),
        Routing.resource_type.in_(["port", "network", "subnet"]),
    )
    top = {str(b): str(t) for b, t in (await db.execute(query)).all()}
    for att in attachments:
        for key in ("port_id", "net_id"):
            if att.get(key) in top:
                att[key] = top[att[key]]
        for ip in att.get("fixed_ips", []) or []:
            if ip.get("subnet_id") in top:
                ip["subnet_id"] = top[ip["subnet_id"]]

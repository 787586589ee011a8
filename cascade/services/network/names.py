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

"""What an audit compares in one pod, and what it finds (no HTTP types; nothing changed).

The top's records of a pod (its routings, the top objects they copy) are set against
what the pod lists, as Cascade's service user, every project's:

- routed objects (servers; volumes, snapshots, backups, groups, group snapshots):
  an object without a routing is an `orphan` (made in the pod directly; repair:
  `adopt` it, or `delete` it in the pod); a routing whose object the pod no longer
  has is `missing` (repair: `forget` the routing);
- copies of top objects (flavors, keypairs, volume types) and networking's
  materialised objects (networks, subnets, ports, security groups and their rules,
  routers, floating IPs, bridges, shadows): a copy that is gone is `missing`
  (`forget`, so the next use makes it again; a flavor's or a volume type's can be
  `recopy`d now); one unlike its top object `differs` (`converge`: the top's state
  pushed to that copy); an object named after a top id (`cascade-<id>`, `<id>`,
  `dhcp-<id>`, ...) that no routing knows, or the copy of a top object that is gone,
  is an `orphan` (`delete`);
- routings stuck `creating` or `deleting` longer than any request lasts are `stale`
  (`settle`); a routing marked `stale` (or `deleting`) whose object is there and not
  being deleted is `status` (`activate`).

Races with requests under way are ruled out, not reported: routings are read before
the pod is listed (a routing made during the listing is not taken as missing) and a
missing object is asked for once more by its id; routings are read again after the
listing (an object made during it is not an orphan), and an object of a project with a
create in flight (an intent of its kind in the pod) waits for the next audit.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cascade.db.engine import now
from cascade.db.models import Flavor, NetResource, Pod, Routing, VolumeType
from cascade.pods import volume as pod_volume
from cascade.pods.client import PodUnavailable
from cascade.pods.compute import PodRefused
from cascade.pods.network import PodNetworkRefused, PodNeutron
from cascade.pods.registry import PodRegistry
from cascade.services import copies, stale
from cascade.services.compute import flavor_copies, flavors, keypair_copies, moves, servers
from cascade.services.compute.flavors import RESOURCE as FLAVOR
from cascade.services.network import materialise
from cascade.services.resources import BY_KIND
from cascade.services.volume import type_copies, volumes
from cascade.services.volume import types as volume_types

ORPHAN, MISSING, STALE, DIFFERS, STATUS = "orphan", "missing", "stale", "differs", "status"
CODES = (ORPHAN, MISSING, STALE, DIFFERS, STATUS)
ERROR, WARNING = "error", "warning"
SEVERITIES = (ERROR, WARNING)
# the repairs an operator may ask for (see the module's docstring)
ADOPT, DELETE, FORGET, RECOPY, CONVERGE, SETTLE, ACTIVATE = (
    "adopt",
    "delete",
    "forget",
    "recopy",
    "converge",
    "settle",
    "activate",
)
ACTIONS = (ADOPT, DELETE, FORGET, RECOPY, CONVERGE, SETTLE, ACTIVATE)

# routed kinds audited (attachments are the pods' Novas' own, for their servers)
CINDER_KINDS = {r.kind for r in volumes.LISTED.values() if r.kind != "attachment"}
ROUTED = (servers.SERVER, *sorted(CINDER_KINDS))
LIVE = ("active", "stale")  # routings whose object should be in the pod
NETWORKING = tuple(materialise.COLLECTION)
UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# a networking object named after a top id: (prefix or "", the top id)
NAMED = re.compile(rf"^(?:(dhcp|bridge|shadow)-)?({UUID})$")
Top = TypeVar("Top", Flavor, VolumeType)
COPY_NAMED = re.compile(rf"^{copies.PREFIX}({UUID})$")


@dataclass
class Found:
    """One finding, as `AuditFinding` keeps it."""

    code: str
    resource_type: str
    detail: str
    repairs: tuple[str, ...]
    top_id: str | None = None
    bottom_id: str | None = None
    project_id: str | None = None
    routing_id: str | None = None
    differences: dict[str, Any] | None = None

    @classmethod
    def of(
        cls,
        code: str,
        routing: Routing,
        detail: str,
        repairs: tuple[str, ...],
        differences: dict[str, Any] | None = None,
    ) -> Found:
        """A finding about a routing and its object."""
        return cls(
            code,
            routing.resource_type,
            detail,
            repairs,
            top_id=routing.top_id,
            bottom_id=routing.bottom_id,
            project_id=routing.project_id or None,
            routing_id=routing.id,
            differences=differences,
        )

    @property
    def severity(self) -> str:
        return ERROR if self.code == MISSING else WARNING


@dataclass
class PodAudit:
    """One pod's audit: what it found, and the parts the pod could not be asked about."""

    sessions: async_sessionmaker[AsyncSession]
    registry: PodRegistry
    pod: Pod
    page_size: int = 500
    pace: float = 1.0
    request_id: str = ""
    found: list[Found] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)
    before: list[Routing] = field(default_factory=list)
    after: dict[tuple[str, str], Routing] = field(default_factory=dict)

    def of(self, kinds: Iterable[str]) -> list[Routing]:
        wanted = set(kinds)
        return [r for r in self.before if r.resource_type in wanted]

    async def run(self) -> PodAudit:
        self.before = await self._routings()
        volume = (pod_volume.SERVICE, *pod_volume.CATALOG_TYPES)
        service = {kind: volume if kind in CINDER_KINDS else ("compute",) for kind in ROUTED}
        parts: list[tuple[str, tuple[str, ...], Callable[[], Awaitable[None]]]] = [
            *((kind, service[kind], partial(self._routed, kind)) for kind in ROUTED),
            ("flavors", ("compute",), self._flavors),
            ("keypairs", ("compute",), self._keypairs),
            ("volume types", volume, self._volume_types),
            ("networking", ("network",), self._networking),
        ]
        # a service the pod's catalog does not have (a pod without Block Storage) has no
        # objects to audit; one it has but that does not answer is named
        catalog = await self.registry.pod_endpoints(self.pod)
        for what, services, part in parts:
            if not catalog.keys() & set(services):
                continue
            try:
                await part()
            except (stale.CannotTell, PodUnavailable, PodRefused) as exc:
                self.unavailable.append(f"{what}: {exc}")
        self._stuck()
        return self

    async def _routings(self) -> list[Routing]:
        async with self.sessions() as db:
            query = select(Routing).where(Routing.pod_id == self.pod.id)
            return list((await db.scalars(query)).all())

    async def _reread(self) -> None:
        """The pod's routings as they are now, by (kind, top id) and by (kind, the pod's
        id) for objects moved there from another pod."""
        rows = await self._routings()
        self.after = {(r.resource_type, r.top_id): r for r in rows}
        self.after.update(
            {(r.resource_type, r.bottom_id): r for r in rows if r.bottom_id not in (None, r.top_id)}
        )

    async def _still_missing(self, routing: Routing) -> bool:
        """The routing is still there, still live, and its pod says 404 for its object."""
        async with self.sessions() as db:
            now_row = await db.get(Routing, routing.id)
            if now_row is None or now_row.status not in LIVE:
                return False
            return not await stale.present(db, self.registry, now_row, self.request_id)

    # --- routed objects ---------------------------------------------------------------

    async def _routed(self, kind: str) -> None:
        listed = await stale.listed(
            self.registry, self.pod, kind, self.request_id, None, self.page_size, self.pace
        )
        await self._reread()
        by_id = {str(o["id"]): o for o in listed if o.get("id")}
        owner = BY_KIND[kind].owner or "tenant_id"
        in_flight = {
            r.project_id
            for r in self.after.values()
            if r.resource_type == kind and r.status == "creating"
        }
        for routing in self.of([kind]):
            seen = by_id.get(str(routing.bottom_id))
            if routing.status in LIVE and routing.bottom_id and seen is None:
                if await self._still_missing(routing):
                    self._missing(routing, (FORGET,))
            elif routing.status == "stale" and seen is not None:
                self._status(routing, "the pod has it")
        async with self.sessions() as db:
            under_way = (await moves.of_pods(self.sessions, db, self.registry, [self.pod.id]))[
                self.pod.id
            ]
        for object_id, seen in by_id.items():
            project = str(seen.get(owner) or "")
            if (kind, object_id) in self.after or project in in_flight:
                continue
            if kind in moves.MOVED_KINDS and not under_way.shown(seen):
                continue  # the target of a move under way: the move's, not an orphan
            name = seen.get("name") or seen.get("display_name") or ""
            self.found.append(
                Found(
                    ORPHAN,
                    kind,
                    f"{kind} {object_id} ({name!s}) of project {project} is in pod "
                    f"{self.pod.name} with no routing: made there directly, not through "
                    "Cascade",
                    (ADOPT, DELETE),
                    top_id=object_id,
                    bottom_id=object_id,
                    project_id=project or None,
                )
            )

    def _missing(self, routing: Routing, repairs: tuple[str, ...]) -> None:
        self.found.append(
            Found.of(
                MISSING,
                routing,
                f"{routing.resource_type} {routing.top_id} is routed to pod {self.pod.name} "
                f"as {routing.bottom_id}, which the pod does not have",
                repairs,
            )
        )

    def _status(self, routing: Routing, why: str) -> None:
        self.found.append(
            Found.of(
                STATUS,
                routing,
                f"the routing of {routing.resource_type} {routing.top_id} in pod "
                f"{self.pod.name} is {routing.status}, but {why}",
                (ACTIVATE,),
            )
        )

    def _stuck(self) -> None:
        """Routings `creating` or `deleting` for longer than any request lasts."""
        cutoff = now() - stale.age(self.registry)
        for routing in self.before:
            if routing.status not in ("creating", "deleting"):
                continue
            if (routing.updated_at or routing.created_at) >= cutoff:
                continue
            self.found.append(
                Found.of(
                    STALE,
                    routing,
                    f"the routing of {routing.resource_type} {routing.top_id} in pod "
                    f"{self.pod.name} has been {routing.status} since "
                    f"{(routing.updated_at or routing.created_at).isoformat()}",
                    (SETTLE,),
                )
            )

    def _orphan_copy(self, kind: str, bottom_id: str, name: str, why: str) -> None:
        self.found.append(
            Found(
                ORPHAN,
                kind,
                f"{kind} {bottom_id} ({name}) in pod {self.pod.name} {why}",
                (DELETE,),
                bottom_id=bottom_id,
            )
        )

    # --- copies of top objects in Nova and Cinder -------------------------------------

    async def _flavors(self) -> None:
        nova = flavor_copies.nova(self.registry, self.pod, self.request_id)
        listed = await _pages(
            lambda params: nova.send("GET", "/flavors/detail", (200,), params=params),
            "flavors",
            {"is_public": "None"},
            self.page_size,
            self.pace,
        )

        async def gone(bottom_id: str) -> bool:
            resp = await nova.send("GET", f"/flavors/{bottom_id}", (200, 404))
            return resp.status_code == 404

        async def differences(copy: dict[str, Any], top: Flavor) -> dict[str, Any]:
            path = f"/flavors/{copy['id']}/os-extra_specs"
            specs = (await nova.send("GET", path, (200,))).json().get("extra_specs", {})
            return _flavor_differences(copy, specs, top)

        # a deleted flavor's copies stay for the servers booted from it (`flavor-retired`)
        await self._copies(FLAVOR, Flavor, listed, gone, differences, (flavors.RETIRED,))

    async def _volume_types(self) -> None:
        cinder = type_copies.cinder(self.registry, self.pod, self.request_id)
        resp = await cinder.send("GET", "/types", (200,), params={"is_public": "None"})
        listed = [t for t in resp.json().get("volume_types", []) if isinstance(t, dict)]

        async def gone(bottom_id: str) -> bool:
            resp = await cinder.send("GET", f"/types/{bottom_id}", (200, 404))
            return resp.status_code == 404

        async def differences(copy: dict[str, Any], top: VolumeType) -> dict[str, Any]:
            if top.name == volume_types.DEFAULT:
                return {}  # the pod's own default type, adopted as it is
            want, have = volume_types.pod_specs(top), dict(copy.get("extra_specs") or {})
            return {"extra_specs": {"top": want, "pod": have}} if want != have else {}

        await self._copies(volume_types.KIND, VolumeType, listed, gone, differences)

    async def _copies(
        self,
        kind: str,
        model: type[Top],
        listed: list[dict[str, Any]],
        gone: Callable[[str], Awaitable[bool]],
        differences: Callable[[dict[str, Any], Top], Awaitable[dict[str, Any]]],
        known: tuple[str, ...] = (),
    ) -> None:
        """The pod's copies of top objects of `kind` (named `cascade-<top id>`, `listed`)
        against their routings and their top objects (rows of `model`); a copy the
        routings of the `known` kinds hold is no orphan either."""
        await self._reread()
        by_id = {str(c["id"]): c for c in listed if c.get("id")}
        routings = self.of([kind])
        async with self.sessions() as db:
            tops = {r.top_id: await db.get(model, r.top_id) for r in routings}
        for routing in routings:
            if routing.status not in LIVE or not routing.bottom_id:
                continue
            copy, top = by_id.get(routing.bottom_id), tops.get(routing.top_id)
            if copy is None:
                if await gone(routing.bottom_id):
                    self._missing(routing, (RECOPY, FORGET) if top is not None else (FORGET,))
            elif top is None:
                why = f"copies a {kind} the top no longer has"
                self._orphan_copy(kind, routing.bottom_id, str(copy.get("name")), why)
            elif found := await differences(copy, top):
                self._differs(routing, found)
        routed = {r.bottom_id for r in self.of([kind, *known])}
        kinds = {kind, *known}
        for bottom_id, copy in by_id.items():
            named = COPY_NAMED.match(str(copy.get("name", "")))
            if named is None or bottom_id in routed:
                continue
            if not any((k, named[1]) in self.after for k in kinds):
                self._orphan_copy(kind, bottom_id, named[0], "is no copy the top knows of")

    def _differs(self, routing: Routing, differences: dict[str, Any]) -> None:
        self.found.append(
            Found.of(
                DIFFERS,
                routing,
                f"the copy of {routing.resource_type} {routing.top_id} in pod "
                f"{self.pod.name} ({routing.bottom_id}) differs from the top's in "
                f"{', '.join(sorted(differences))}",
                # a subnet's CIDR cannot change in place: reported, not converged
                () if "cidr" in differences else (CONVERGE,),
                differences,
            )
        )

    async def _keypairs(self) -> None:
        """A keypair copy is owned by its user: only whether it is there is asked."""
        for routing in self.of([keypair_copies.RESOURCE]):
            live = routing.status in LIVE and routing.bottom_id
            if live and await self._still_missing(routing):
                self._missing(routing, (FORGET,))

    # --- networking's materialised objects --------------------------------------------

    async def _networking(self) -> None:
        neutron = PodNeutron(self.registry, self.pod, self.request_id)
        listed: dict[str, dict[str, dict[str, Any]]] = {}
        for collection in sorted(set(materialise.COLLECTION.values())):
            key = collection.replace("-", "_")
            try:
                items = await _pages(
                    lambda params, c=collection, k=key: neutron.ok(  # type: ignore[misc]
                        "GET", f"/{c}", f"a {k} list", params=params
                    ),
                    key,
                    {},
                    self.page_size,
                    self.pace,
                )
            except PodNetworkRefused as exc:
                if exc.status != 404:
                    raise
                items = []  # a Neutron without the extension (routers): none there
            listed[collection] = {str(o["id"]): o for o in items}
        await self._reread()
        routings = self.of(NETWORKING)
        tops = await self._net_tops(routings)
        rules: dict[str, list[dict[str, Any]]] | None = None
        for routing in routings:
            collection = materialise.COLLECTION[routing.resource_type]
            copy = listed[collection].get(str(routing.bottom_id))
            if routing.status not in LIVE or not routing.bottom_id:
                continue
            if copy is None:
                path = f"/{collection}/{routing.bottom_id}"
                if (await neutron.call("GET", path)).status_code == 404:
                    self._missing(routing, (FORGET,))
                continue
            top = tops.get(routing.top_id)
            if top is None or top.kind != routing.resource_type:
                continue
            if routing.resource_type == materialise.GROUP:
                if rules is None:
                    rules = await _rules(neutron, self.page_size, self.pace)
                async with self.sessions() as db:
                    want = await materialise.desired_rules(db, top)
                differences = _rule_differences(want, rules.get(routing.bottom_id, []))
            else:
                differences = _net_differences(routing.resource_type, top, copy)
            if differences:
                self._differs(routing, differences)
        self._net_orphans(listed, routings)

    async def _net_tops(self, routings: list[Routing]) -> dict[str, NetResource]:
        ids = {r.top_id for r in routings}
        if not ids:
            return {}
        async with self.sessions() as db:
            rows = await db.scalars(select(NetResource).where(NetResource.id.in_(ids)))
            return {row.id: row for row in rows.all()}

    def _net_orphans(
        self, listed: dict[str, dict[str, dict[str, Any]]], routings: list[Routing]
    ) -> None:
        """Objects named after a top id that no routing in the pod knows."""
        bottoms = {r.bottom_id for r in routings if r.bottom_id}
        routed_tops = {
            (materialise.COLLECTION[kind], top_id)
            for kind, top_id in self.after
            if kind in materialise.COLLECTION
        }
        for collection, items in listed.items():
            field_ = "description" if collection == "floatingips" else "name"
            for bottom_id, item in items.items():
                named = NAMED.match(str(item.get(field_) or ""))
                if named is None or bottom_id in bottoms:
                    continue
                if (collection, named[2]) in routed_tops:
                    continue
                kind = _net_kind(collection, named[1])
                self.found.append(
                    Found(
                        ORPHAN,
                        kind,
                        f"{collection[:-1]} {bottom_id} in pod {self.pod.name} is named "
                        f"after top id {named[2]}, but no routing in the pod knows it",
                        (DELETE,),
                        top_id=named[2],
                        bottom_id=bottom_id,
                        project_id=str(item.get("project_id") or item.get("tenant_id") or "")
                        or None,
                    )
                )


def _net_kind(collection: str, prefix: str | None) -> str:
    """The routing kind an object of `collection` named with `prefix` would be."""
    for kind, where in materialise.COLLECTION.items():
        if where == collection and (materialise.PREFIX.get(kind) or None) == prefix:
            return kind
    return collection.replace("-", "_")[:-1]


async def _pages(
    get: Callable[[dict[str, str]], Awaitable[Any]],
    key: str,
    params: dict[str, str],
    page_size: int,
    pace: float = 0.0,
) -> list[dict[str, Any]]:
    """Every page of a pod's list (`limit` and `marker`), one call at a time, a pause of
    `pace` times what a page took after each."""
    found: list[dict[str, Any]] = []
    query = {**params, "limit": str(page_size)}
    while True:
        asked = time.monotonic()
        answer = await get(query)
        await asyncio.sleep((time.monotonic() - asked) * pace)
        body = answer.json() if hasattr(answer, "json") else answer
        page = [o for o in (body or {}).get(key, []) if isinstance(o, dict) and o.get("id")]
        found += page
        if len(page) < page_size:
            return found
        query["marker"] = str(page[-1]["id"])


async def _rules(
    neutron: PodNeutron, page_size: int, pace: float
) -> dict[str, list[dict[str, Any]]]:
    """The pod's security group rules by group."""
    items = await _pages(
        lambda params: neutron.ok("GET", "/security-group-rules", "a rule list", params=params),
        "security_group_rules",
        {},
        page_size,
        pace,
    )
    by_group: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rule in items:
        by_group[str(rule.get("security_group_id"))].append(rule)
    return by_group


def _flavor_differences(copy: dict[str, Any], specs: dict[str, Any], top: Flavor) -> dict[str, Any]:
    pairs = {
        "ram": (top.ram, copy.get("ram")),
        "vcpus": (top.vcpus, copy.get("vcpus")),
        "disk": (top.disk, copy.get("disk")),
        "ephemeral": (top.ephemeral, copy.get("OS-FLV-EXT-DATA:ephemeral", 0)),
        "swap": (top.swap, copy.get("swap") or 0),
        "is_public": (top.is_public, copy.get("os-flavor-access:is_public")),
        "description": (top.description, copy.get("description")),
        "extra_specs": (dict(top.extra_specs or {}), dict(specs)),
    }
    return {k: {"top": t, "pod": p} for k, (t, p) in pairs.items() if t != p}


# what a pod's copy keeps of its top object, per networking kind (`network.jobs` pushes
# these); a subnet's CIDR cannot be changed in place: reported, not converged
NET_FIELDS = {
    materialise.NETWORK: ("admin_state_up", "port_security_enabled"),
    materialise.SUBNET: ("cidr", "gateway_ip", "dns_nameservers", "host_routes", "enable_dhcp"),
    materialise.PORT: ("admin_state_up", "mac_address", "fixed_ips"),
}


def _net_value(name: str, value: Any) -> Any:
    """A field as both sides can be compared (order and the pod's subnet ids left out)."""
    if name == "dns_nameservers":
        return sorted(value or [])
    if name == "host_routes":
        return sorted((r.get("destination"), r.get("nexthop")) for r in value or [])
    if name == "fixed_ips":
        return sorted(str(ip.get("ip_address")) for ip in value or [])
    if name == "cidr" and value:
        return str(ipaddress.ip_network(value, strict=False))
    return value


def _net_differences(kind: str, top: NetResource, copy: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in NET_FIELDS.get(kind, ()):
        if name not in top.body:
            continue
        want, have = _net_value(name, top.body.get(name)), _net_value(name, copy.get(name))
        if want != have:
            out[name] = {"top": want, "pod": have}
    return out


def _rule_differences(want: list[dict[str, Any]], have: list[dict[str, Any]]) -> dict[str, Any]:
    wanted = {materialise.rule_key(r) for r in want}
    present = {materialise.rule_key(r) for r in have}
    if wanted == present:
        return {}
    return {
        "rules": {
            "missing": sorted(map(list, wanted - present), key=str),
            "extra": sorted(map(list, present - wanted), key=str),
        }
    }

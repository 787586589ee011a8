"""Networking lists the top answers from its own state, read only:

- GET `/availability_zones`: the top's AZs (its pods' AZs) as Neutron lists them, each
  for resource `network` and `router`, state `available`; filters and `fields`.
- GET `/service-providers`: the L3 router providers Neutron's router plugin lists.
- GET `/floatingip_pools`: the IPv4 subnets of the external networks the caller sees
  (where its floating IPs can come from), `project_id` the caller's, as Neutron's.
- GET `/agents`: none. The top runs no Neutron agents of its own (the pods' agents
  serve the pods' copies); a member's list is empty in Neutron too (`get_agent` is
  admin-only), and the `agent` extension is not listed.
- GET `/network-ip-availabilities` and `/network-ip-availabilities/{network_id}`
  (admins; others see none, as Neutron's admin-only policy filters them): per network
  and subnet, the size of the allocation pools and the addresses in use.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from cascade.api.network import query
from cascade.api.network.common import caller, reply
from cascade.db.models import NetAddress, Pod
from cascade.services.network import store
from cascade.services.network.access import Caller, visible
from cascade.services.network.errors import NeutronError

L3 = "neutron.services.l3_router.service_providers."
# Neutron's router plugin lists these whatever its configuration (`_LegacyPlus...`)
PROVIDERS = [
    {"service_type": "L3_ROUTER_NAT", "name": name, "driver": L3 + driver, "default": False}
    for name, driver in (
        ("dvrha", "dvrha.DvrHaDriver"),
        ("dvr", "dvr.DvrDriver"),
        ("ha", "ha.HaDriver"),
        ("single_node", "single_node.SingleNodeDriver"),
    )
]


def _listed(request: Request, items: list[dict[str, Any]], names: set[str]) -> list[dict[str, Any]]:
    """Filtered on `names` (400 for another attribute) and trimmed to `fields`."""
    wanted = query.parse(request, names)
    wanted.limit, wanted.marker = 0, None  # these lists are not paged in Neutron
    return [query.select_fields(i, wanted.fields) for i in items if query.matches(i, wanted)]


async def availability_zones(request: Request) -> Response:
    async with caller(request) as who:
        zones = sorted(set((await who.db.scalars(select(Pod.az))).all()))
    items = [
        {"name": az, "resource": resource, "state": "available"}
        for az in zones
        if az
        for resource in ("network", "router")
    ]
    names = {"name", "resource", "state"}
    return reply({"availability_zones": _listed(request, items, names)})


async def service_providers(request: Request) -> Response:
    async with caller(request):
        pass  # a token is needed, as for every Networking list
    names = {"service_type", "name", "driver", "default"}
    return reply({"service_providers": _listed(request, PROVIDERS, names)})


def _size(pool: dict[str, str]) -> int:
    return int(ipaddress.ip_address(pool["end"])) - int(ipaddress.ip_address(pool["start"])) + 1


async def _availability(who: Caller, network_ids: list[str] | None) -> list[dict[str, Any]]:
    if not who.allows("get_network_ip_availability"):  # Neutron's list: empty, not 403
        return []
    networks = await store.rows(who.db, store.NETWORK, ids=network_ids)
    subnets = await store.rows(who.db, store.SUBNET, parent_ids=[n.id for n in networks])
    used: dict[str, int] = {}
    for address in (await who.db.scalars(select(NetAddress))).all():
        if not address.owner.startswith("purging:"):  # a deleted port's, freed soon
            used[address.subnet_id] = used.get(address.subnet_id, 0) + 1
    out = []
    for network in networks:
        entries = []
        for sub in (s for s in subnets if s.parent_id == network.id):
            pools = sub.body.get("allocation_pools") or []
            total = sum(_size(p) for p in pools)
            entries.append(
                {
                    "subnet_id": sub.id,
                    "subnet_name": sub.body.get("name", ""),
                    "cidr": sub.body["cidr"],
                    "ip_version": sub.body["ip_version"],
                    "total_ips": total,
                    "used_ips": used.get(sub.id, 0),
                }
            )
        out.append(
            {
                "network_id": network.id,
                "network_name": network.body.get("name", ""),
                "project_id": network.project_id,
                "tenant_id": network.project_id,
                "total_ips": sum(e["total_ips"] for e in entries),
                "used_ips": sum(e["used_ips"] for e in entries),
                "subnet_ip_availability": entries,
            }
        )
    return out


async def ip_availabilities(request: Request) -> Response:
    names = {"network_id", "network_name", "project_id", "tenant_id", "ip_version"}
    async with caller(request) as who:
        items = await _availability(who, None)
    # `ip_version` filters on the subnets' versions, as Neutron's does
    versions = request.query_params.getlist("ip_version")
    if versions:
        items = [
            i
            for i in items
            if any(str(e["ip_version"]) in versions for e in i["subnet_ip_availability"])
        ]
    wanted = query.parse(request, names)
    wanted.filters.pop("ip_version", None)
    chosen = [i for i in items if query.matches(i, wanted)]
    return reply(
        {"network_ip_availabilities": [query.select_fields(i, wanted.fields) for i in chosen]}
    )


async def ip_availability(request: Request) -> Response:
    network_id = request.path_params["network_id"]
    async with caller(request) as who:
        found = await _availability(who, [network_id])
    if not found:
        raise NeutronError(f"Network {network_id} could not be found.", 404, "NetworkNotFound")
    fields = [f for f in request.query_params.getlist("fields") if f]
    return reply({"network_ip_availability": query.select_fields(found[0], fields)})


async def agents(request: Request) -> Response:
    async with caller(request):
        pass  # a token is needed, as for every Networking list
    _listed(request, [], {"id", "agent_type", "binary", "host", "topic", "admin_state_up", "alive"})
    return reply({"agents": []})


async def agent(request: Request) -> Response:
    async with caller(request):
        pass
    agent_id = request.path_params["agent_id"]
    raise NeutronError(f"Agent {agent_id} could not be found.", 404, "AgentNotFound")


async def floatingip_pools(request: Request) -> Response:
    names = {"subnet_id", "subnet_name", "cidr", "network_id", "project_id", "tenant_id"}
    async with caller(request) as who:
        external = [
            n.id for n in await visible(who, store.NETWORK) if n.body.get("router:external")
        ]
        subnets = await store.rows(who.db, store.SUBNET, parent_ids=external) if external else []
        items = [
            {
                "subnet_id": s.id,
                "subnet_name": s.body.get("name", ""),
                "project_id": who.project_id,
                "network_id": s.parent_id,
                "cidr": s.body["cidr"],
            }
            for s in sorted(subnets, key=lambda s: s.id)
            if s.body.get("ip_version") == 4
        ]
    return reply({"floatingip_pools": _listed(request, items, names)})

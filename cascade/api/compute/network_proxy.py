"""Nova's network proxy APIs at the top, answered from the top's own Networking.

Below microversion 2.36 Nova serves, from Neutron:
- GET/POST /os-security-groups, GET/PUT/DELETE /os-security-groups/{id}: the
  caller's groups (every project's for an admin asking `all_tenants`), sorted by
  owner and name, with `limit`/`offset`; create and update 200, delete 202. An id
  that is no UUID is 400 "Security group id should be uuid", one the caller cannot
  see 404; deleting a group in use or a default group is 400.
- POST /os-security-group-rules, DELETE /os-security-group-rules/{id}: ingress
  rules only, as Nova builds them (200 with the rule, 202).
- GET /os-floating-ip-pools: the external networks by name.
- GET/POST /os-floating-ips, GET/DELETE /os-floating-ips/{id}.
- GET /os-networks (+ /{id}), GET /os-tenant-networks (+ /{id}): the networks the
  caller sees, as Nova shows Neutron's (the id, the name as `label`); 404 "Network
  not found". Their nova-network calls (create, delete, add, associate) are 410 at
  every version, as Nova has removed them.
At 2.36 and later each is Nova's 404 "The resource could not be found.".

The top's Neutron is its own Networking services (top ids, top groups, top
floating IPs), called in-process (`services.compute.network_proxy`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.compute import forward, schemas
from cascade.api.compute.errors import ComputeError
from cascade.api.compute.versions import negotiated
from cascade.api.handlers import json_body, reply
from cascade.api.request import context
from cascade.services.compute import network_proxy as proxy
from cascade.services.compute import server_create
from cascade.services.network.access import Caller as NetCaller
from cascade.services.network.errors import NeutronError
from cascade.services.workflow import Refused
from cascade.versions import Version

LAST_PROXY = Version(2, 35)  # Nova's MAX_PROXY_API_SUPPORT_VERSION
LAST_FLOATING_ACTION = Version(2, 43)  # add/removeFloatingIp, gone at 2.44
NOT_FOUND = "The resource could not be found."
MAX_LIMIT = 1000  # Nova's [api] max_limit

_TEXT: schemas.Schema = {"type": "string", "minLength": 0, "maxLength": 255}
GROUP_BODY: schemas.Schema = {
    "type": "object",
    "properties": {
        "security_group": {
            "type": "object",
            "properties": {"name": _TEXT, "description": _TEXT},
            "required": ["name", "description"],
        }
    },
    "required": ["security_group"],
}
RULE_BODY: schemas.Schema = {
    "type": "object",
    "properties": {
        "security_group_rule": {
            "type": "object",
            "properties": {
                "group_id": {"type": ["string", "null"]},
                "parent_group_id": {"type": "string"},
            },
            "required": ["parent_group_id"],
        }
    },
    "required": ["security_group_rule"],
}
FLOATING_BODY: schemas.Schema = {
    "type": ["object", "null"],
    "properties": {"pool": {"type": ["string", "null"]}},
}
_IP: schemas.Schema = {"type": "string"}
FLOATING_ACTIONS: dict[str, schemas.Schema] = {
    action: {
        "type": "object",
        "properties": {
            action: {
                "type": "object",
                "properties": {"address": _IP, **({"fixed_address": _IP} if add else {})},
                "required": ["address"],
                "additionalProperties": False,
            }
        },
        "required": [action],
        "additionalProperties": False,
    }
    for action, add in (("addFloatingIp", True), ("removeFloatingIp", False))
}
NAMED_ACTION: schemas.Schema = {
    "type": "object",
    "properties": {"name": {"type": "string", "minLength": 1}},
    "required": ["name"],
    "additionalProperties": False,
}


async def proxied(request: Request) -> Version:
    """The request's microversion; Nova's 404 past 2.35, where the proxies are gone."""
    version = await negotiated(request)
    if version > LAST_PROXY:
        raise ComputeError(404, NOT_FOUND)
    return version


@asynccontextmanager
async def networking(request: Request, version: Version) -> AsyncIterator[NetCaller]:
    """The top's Networking as the caller, its refusals as Nova's errors."""
    ctx = context(request)
    ask = forward.asker(request, ctx, version)
    with forward.refusals():
        try:
            async with server_create.net_caller(forward.workflow_env(request), ask) as net:
                yield net
        except NeutronError as exc:  # one the proxy does not map: Nova passes it on
            raise Refused(exc.status, exc.message) from exc


def _uuid_field(name: str, value: Any) -> None:
    """Nova's `uuid` format of a body field (not checked by `schemas.check`)."""
    if value is not None and not proxy._uuid(str(value)):
        raise ComputeError(
            400, f"Invalid input for field/attribute {name}. Value: {value}. "
            f"'{value}' is not a 'uuid'"
        )  # fmt: skip


def limited(request: Request, items: list[Any]) -> list[Any]:
    """Nova's `common.limited`: `offset` and `limit` (at most MAX_LIMIT), for the proxy
    APIs that page a whole list (security groups, floating IPs, volumes, snapshots)."""
    found = {}
    for key in ("offset", "limit"):
        raw = request.query_params.get(key)
        if raw is None:
            continue
        if not raw.isdigit():
            raise ComputeError(
                400, f"Invalid input for query parameters {key}. Value: {raw}. "
                f"'{raw}' does not match '^[0-9]*$'"
            )  # fmt: skip
        found[key] = int(raw)
    offset = found.get("offset", 0)
    limit = min(MAX_LIMIT, found.get("limit") or MAX_LIMIT)
    return items[offset : offset + limit]


# --- security groups -----------------------------------------------------------------


async def groups_index(request: Request) -> Response:
    version = await proxied(request)
    every = "all_tenants" in request.query_params
    async with networking(request, version) as net:
        found = limited(request, await proxy.list_groups(net, every))
        shown = await proxy.format_groups(net, found)
    return reply({"security_groups": proxy.by_owner_and_name(shown)})


async def groups_create(request: Request) -> Response:
    version = await proxied(request)
    body = await json_body(request)
    schemas.check(GROUP_BODY, body)
    given = body["security_group"]
    async with networking(request, version) as net:
        made = await proxy.create_group(net, given["name"], given["description"])
        return reply({"security_group": (await proxy.format_groups(net, [made]))[0]})


async def group_show(request: Request) -> Response:
    version = await proxied(request)
    group_id = request.path_params["group_id"]
    async with networking(request, version) as net:
        found = await proxy.get_group(net, proxy.valid_id(group_id))
        return reply({"security_group": (await proxy.format_groups(net, [found]))[0]})


async def group_update(request: Request) -> Response:
    version = await proxied(request)
    group_id = request.path_params["group_id"]
    body = await json_body(request)
    schemas.check(GROUP_BODY, body)
    given = body["security_group"]
    async with networking(request, version) as net:
        proxy.valid_id(group_id)
        await proxy.get_group(net, group_id)
        done = await proxy.update_group(net, group_id, given["name"], given["description"])
        return reply({"security_group": (await proxy.format_groups(net, [done]))[0]})


async def group_delete(request: Request) -> Response:
    version = await proxied(request)
    group_id = request.path_params["group_id"]
    async with networking(request, version) as net:
        await proxy.delete_group(net, proxy.valid_id(group_id))
    return Response(status_code=202)


async def rules_create(request: Request) -> Response:
    version = await proxied(request)
    body = await json_body(request)
    schemas.check(RULE_BODY, body)
    given = body["security_group_rule"]
    _uuid_field("group_id", given.get("group_id"))
    _uuid_field("parent_group_id", given["parent_group_id"])
    async with networking(request, version) as net:
        return reply({"security_group_rule": await proxy.create_rule(net, given)})


async def rule_delete(request: Request) -> Response:
    version = await proxied(request)
    async with networking(request, version) as net:
        await proxy.delete_rule(net, request.path_params["rule_id"])
    return Response(status_code=202)


# --- floating IPs --------------------------------------------------------------------


async def pools_index(request: Request) -> Response:
    version = await proxied(request)
    async with networking(request, version) as net:
        return reply({"floating_ip_pools": await proxy.pools(net)})


async def floating_index(request: Request) -> Response:
    version = await proxied(request)
    async with networking(request, version) as net:
        return reply({"floating_ips": await proxy.list_floating(net)})


async def floating_create(request: Request) -> Response:
    version = await proxied(request)
    raw = await request.body()
    body = await json_body(request) if raw.strip() else None
    schemas.check(FLOATING_BODY, body)
    pool = body.get("pool") if isinstance(body, dict) else None
    async with networking(request, version) as net:
        return reply({"floating_ip": await proxy.create_floating(net, pool)})


async def floating_show(request: Request) -> Response:
    version = await proxied(request)
    async with networking(request, version) as net:
        row = await proxy.get_floating(net, request.path_params["fip_id"])
        return reply({"floating_ip": await proxy.floating_view(net, row)})


async def floating_delete(request: Request) -> Response:
    version = await proxied(request)
    async with networking(request, version) as net:
        await proxy.delete_floating(net, request.path_params["fip_id"])
    return Response(status_code=202)


# --- a server's security groups (called by `servers.member` once the server is found) --


async def server_groups(request: Request, server_id: str, version: Version) -> Response | None:
    """GET /servers/{id}/os-security-groups from the top's ports of the server: the top
    groups as Nova shows them. None (the pod answers) for a server on no top port."""
    async with networking(request, version) as net:
        found = await proxy.server_ports(net, server_id)
        if not found:
            return None
        return reply({"security_groups": await proxy.server_groups(net, found)})


async def group_action(
    request: Request, server_id: str, body: dict[str, Any], version: Version
) -> Response | None:
    """`addSecurityGroup` / `removeSecurityGroup` (by group name or id, as Nova takes
    it) on the server's top ports, `addFloatingIp` / `removeFloatingIp` (below 2.44) with
    the top's floating IPs: 202. None (the pod answers) for a server on no top port or
    another action."""
    action = next(iter(body), "") if len(body) == 1 else ""
    if action in FLOATING_ACTIONS and version <= LAST_FLOATING_ACTION:
        return await _floating_action(request, server_id, body, action, version)
    if action not in ("addSecurityGroup", "removeSecurityGroup"):
        return None
    # Nova's schema first (a body without a name is its 400), then its own checks
    schemas.check({"type": "object", "properties": {action: NAMED_ACTION}}, body)
    name = str(body[action]["name"])
    if not name.strip():
        raise ComputeError(400, "Security group name cannot be empty")
    async with networking(request, version) as net:
        found = await proxy.server_ports(net, server_id)
        if not found:
            return None
        if action == "addSecurityGroup":
            await proxy.add_to_server(net, server_id, found, name)
        else:
            await proxy.remove_from_server(net, server_id, found, name)
        await proxy.groups_in_pods_now(net, request.app.state.registry, found)
    return Response(status_code=202)


def _ip_field(name: str, value: Any) -> None:
    """Nova's `ip_address` type (an IPv4 or IPv6 address), which `schemas.check` does not
    know."""
    try:
        ipaddress.ip_address(str(value))
    except ValueError:
        raise ComputeError(
            400, f"Invalid input for field/attribute {name}. Value: {value}. "
            f"'{value}' is not valid under any of the given schemas"
        ) from None  # fmt: skip


async def _floating_action(
    request: Request, server_id: str, body: dict[str, Any], action: str, version: Version
) -> Response | None:
    schemas.check(FLOATING_ACTIONS[action], body)
    given = body[action]
    for name in ("address", "fixed_address"):
        if name in given:
            _ip_field(name, given[name])
    async with networking(request, version) as net:
        found = await proxy.server_ports(net, server_id)
        if not found:
            return None
        if action == "addFloatingIp":
            fixed = given.get("fixed_address")
            await proxy.add_floating(net, server_id, found, given["address"], fixed)
        else:
            await proxy.remove_floating(net, server_id, given["address"])
    return Response(status_code=202)


# --- networks ------------------------------------------------------------------------

GONE = "This resource is no longer available. No forwarding address is given."


async def no_id(request: Request) -> Response:
    """A proxy collection's path with a blank id: Nova's 404, as its router answers."""
    await negotiated(request)
    raise ComputeError(404, NOT_FOUND)


async def removed(request: Request) -> Response:
    """A nova-network call Nova has removed: 410 at every microversion."""
    await negotiated(request)
    raise ComputeError(410, GONE)


async def networks_index(request: Request) -> Response:
    version = await proxied(request)
    admin = context(request).is_admin
    async with networking(request, version) as net:
        found = await proxy.networks(net)
    return reply({"networks": [proxy.network_view(n, admin) for n in found]})


async def network_show(request: Request) -> Response:
    version = await proxied(request)
    admin = context(request).is_admin
    async with networking(request, version) as net:
        found = await proxy.network(net, request.path_params["network_id"])
    return reply({"network": proxy.network_view(found, admin)})


async def tenant_networks_index(request: Request) -> Response:
    version = await proxied(request)
    async with networking(request, version) as net:
        found = await proxy.networks(net)
    return reply({"networks": [proxy.tenant_network_view(n) for n in found]})


async def tenant_network_show(request: Request) -> Response:
    version = await proxied(request)
    async with networking(request, version) as net:
        found = await proxy.network(net, request.path_params["network_id"])
    return reply({"network": proxy.tenant_network_view(found)})

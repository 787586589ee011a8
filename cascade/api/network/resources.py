"""The Networking collections at `/networking/v2.0/<collection>`: one generic set of
handlers (list, create incl. bulk, show, update, delete, tags) over each
collection's service functions.

- GET on a collection: 200 with Neutron's filters, `fields`, sorting and paging
  (`<collection>_links`); an attribute that cannot be filtered is 400.
- POST: 201 with the object; a plural body (`{"networks": [...]}`) creates all or
  none.
- GET/PUT/DELETE on an id: 200/200/204, 404 `<Kind>NotFound` for an id the caller
  cannot see; `If-Match: revision_number=N` is honoured (412 on a mismatch).
- `/tags`: GET, PUT (replace), DELETE (all); `/tags/{tag}`: GET 204/404, PUT 201,
  DELETE 204/404. Every change of tags bumps the revision number.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.network import query
from cascade.api.network.common import base_url, caller, json_body, not_found, reply
from cascade.services.network import (
    floatingips,
    networks,
    ports,
    routers,
    security_groups,
    store,
    subnets,
)
from cascade.services.network.access import Caller, find
from cascade.services.network.errors import BadRequest, NeutronError

Lister = Callable[[Caller], Awaitable[list[dict[str, Any]]]]
Creator = Callable[[Caller, Any], Awaitable[dict[str, Any]]]
Shower = Callable[[Caller, str], Awaitable[dict[str, Any]]]
Updater = Callable[[Caller, str, Any], Awaitable[dict[str, Any]]]
Deleter = Callable[[Caller, str], Awaitable[None]]
Preparer = Callable[[Caller, dict[str, list[str]]], Awaitable[None]]


@dataclass(frozen=True)
class Collection:
    kind: str
    singular: str
    plural: str
    path: str
    fields: frozenset[str]
    index: Lister
    create: Creator
    show: Shower
    update: Updater | None
    delete: Deleter
    before_listing: Preparer | None = None  # given the list's filters


def _fields(*names: str) -> frozenset[str]:
    return frozenset((*names, *query.STANDARD, "tags"))


COLLECTIONS = {
    c.path: c
    for c in (
        Collection(
            store.NETWORK,
            "network",
            "networks",
            "networks",
            _fields(
                *networks.SPEC,
                "status",
                "subnets",
                "availability_zones",
                "ipv4_address_scope",
                "ipv6_address_scope",
            ),
            networks.listing,
            networks.create,
            networks.get,
            networks.update,
            networks.delete,
        ),
        Collection(
            store.SUBNET,
            "subnet",
            "subnets",
            "subnets",
            _fields(*subnets.SPEC, "router:external"),
            subnets.listing,
            subnets.create,
            subnets.get,
            subnets.update,
            subnets.delete,
        ),
        Collection(
            store.PORT,
            "port",
            "ports",
            "ports",
            _fields(
                *ports.SPEC, "status", "binding:vif_type", "binding:vif_details", "ip_allocation"
            ),
            ports.listing,
            ports.create,
            ports.get,
            ports.update,
            ports.delete,
        ),
        Collection(
            store.SECURITY_GROUP,
            "security_group",
            "security_groups",
            "security-groups",
            _fields(*security_groups.GROUP_SPEC, "shared", "security_group_rules"),
            security_groups.list_groups,
            security_groups.create_group,
            security_groups.get_group,
            security_groups.update_group,
            security_groups.delete_group,
            security_groups.before_listing,
        ),
        Collection(
            store.ROUTER,
            "router",
            "routers",
            "routers",
            _fields(
                *routers.SPEC, "status", "availability_zones", "distributed", "ha", "flavor_id"
            ),
            routers.listing,
            routers.create,
            routers.get,
            routers.update,
            routers.delete,
        ),
        Collection(
            store.FLOATINGIP,
            "floatingip",
            "floatingips",
            "floatingips",
            _fields(*floatingips.SPEC, "status", "router_id", "port_details"),
            floatingips.listing,
            floatingips.create,
            floatingips.get,
            floatingips.update,
            floatingips.delete,
        ),
        Collection(
            store.SECURITY_GROUP_RULE,
            "security_group_rule",
            "security_group_rules",
            "security-group-rules",
            _fields(*security_groups.RULE_SPEC, "normalized_cidr", "belongs_to_default_sg"),
            security_groups.list_rules,
            security_groups.create_rule,
            security_groups.get_rule,
            None,
            security_groups.delete_rule,
        ),
    )
}


def _collection(request: Request) -> Collection:
    found = COLLECTIONS.get(request.path_params["collection"])
    if found is None:
        raise not_found()
    return found


def _one(request: Request, item: dict[str, Any]) -> dict[str, Any]:
    fields = [f for f in request.query_params.getlist("fields") if f]
    return query.select_fields(item, fields)


async def index(request: Request) -> Response:
    coll = _collection(request)
    wanted = query.parse(request, coll.fields)
    async with caller(request) as who:
        if coll.before_listing is not None:
            await coll.before_listing(who, wanted.filters)
        items = await coll.index(who)
    page, links = query.apply(request, base_url(request, f"/v2.0/{coll.path}"), items, wanted)
    body: dict[str, Any] = {coll.plural: page}
    if links:
        body[f"{coll.plural}_links"] = links
    return reply(body)


async def create(request: Request) -> Response:
    coll = _collection(request)
    body = await json_body(request)
    async with caller(request) as who:
        if isinstance(body, dict) and isinstance(body.get(coll.plural), list):
            return reply({coll.plural: await _bulk(who, coll, body[coll.plural])}, 201)
        return reply({coll.singular: await coll.create(who, body)}, 201)


async def _bulk(who: Caller, coll: Collection, items: list[Any]) -> list[dict[str, Any]]:
    made: list[dict[str, Any]] = []
    try:
        for item in items:
            made.append(await coll.create(who, {coll.singular: item}))
    except NeutronError:
        await who.db.rollback()
        for done in reversed(made):  # all or none, as Neutron's bulk create
            await coll.delete(who, done["id"])
        raise
    return made


async def _check_revision(request: Request, current: dict[str, Any]) -> None:
    header = request.headers.get("if-match")
    if not header:
        return
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "revision_number":
            if not value.isdigit():
                raise BadRequest(f"Invalid If-Match header {header}")
            if int(value) != current.get("revision_number"):
                raise NeutronError(
                    f"Constrained to {value}, but current revision is "
                    f"{current.get('revision_number')}",
                    412,
                    "RevisionNumberConstraintFailed",
                )


async def show(request: Request) -> Response:
    coll = _collection(request)
    async with caller(request) as who:
        item = await coll.show(who, request.path_params["object_id"])
    return reply({coll.singular: _one(request, item)})


async def update(request: Request) -> Response:
    coll = _collection(request)
    if coll.update is None:
        raise NeutronError("Method not allowed for this resource.", 405, "HTTPMethodNotAllowed")
    body = await json_body(request)
    async with caller(request) as who:
        object_id = request.path_params["object_id"]
        await _check_revision(request, await coll.show(who, object_id))
        return reply({coll.singular: await coll.update(who, object_id, body)})


async def delete(request: Request) -> Response:
    coll = _collection(request)
    async with caller(request) as who:
        object_id = request.path_params["object_id"]
        await _check_revision(request, await coll.show(who, object_id))
        await coll.delete(who, object_id)
    return reply(None, 204)


# --- tags -----------------------------------------------------------------------------


def _valid_tag(tag: Any) -> str:
    if not isinstance(tag, str) or not tag or len(tag) > 255 or "," in tag or "/" in tag:
        raise BadRequest(f"Invalid input for operation: '{tag}' is not a valid tag.")
    return tag


async def tags(request: Request) -> Response:
    """GET, PUT (replace: 200 with the tags) and DELETE (all: 204) of an object's tags."""
    coll = _collection(request)
    body = await json_body(request) if request.method == "PUT" else None
    async with caller(request) as who:
        row = await find(who, coll.kind, request.path_params["object_id"])
        if request.method == "GET":
            return reply({"tags": list(row.tags)})
        if request.method == "PUT":
            if not isinstance(body, dict) or not isinstance(body.get("tags"), list):
                raise BadRequest("Invalid input for operation: a body {'tags': [...]} is required.")
            row.tags = sorted({_valid_tag(t) for t in body["tags"]})
        else:
            row.tags = []
        store.bump(row)
        await who.db.commit()
        return reply({"tags": list(row.tags)}) if request.method == "PUT" else reply(None, 204)


async def tag(request: Request) -> Response:
    """GET (204 if the object has it, else 404), PUT (add: 201), DELETE (204/404) a tag."""
    coll = _collection(request)
    name = _valid_tag(request.path_params["tag"])
    async with caller(request) as who:
        row = await find(who, coll.kind, request.path_params["object_id"])
        has = name in row.tags
        if request.method != "PUT" and not has:
            raise NeutronError(f"Tag {name} could not be found.", 404, "TagNotFound")
        if request.method == "GET":
            return reply(None, 204)
        if request.method == "PUT":
            if not has:
                row.tags = sorted({*row.tags, name})
                store.bump(row)
                await who.db.commit()
            return reply(None, 201)
        row.tags = [t for t in row.tags if t != name]
        store.bump(row)
        await who.db.commit()
        return reply(None, 204)


async def router_interface(request: Request) -> Response:
    """PUT /routers/{id}/add_router_interface and /remove_router_interface: 200 with the
    interface (router, port, subnet and network ids)."""
    body = await json_body(request)
    action = request.path_params["action"]
    async with caller(request) as who:
        router_id = request.path_params["router_id"]
        if action == "add_router_interface":
            return reply(await routers.add_interface(who, router_id, body))
        if action == "remove_router_interface":
            return reply(await routers.remove_interface(who, router_id, body))
    raise not_found()

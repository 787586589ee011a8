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
  DELETE 204/404. Every change of tags bumps the revision number. Another project's
  object is Neutron's 403 (reading a shared network's tags excepted), as its tags API
  answers; an unknown id is 404.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.network import query
from cascade.api.network.common import base_url, caller, json_body, not_found, reply
from cascade.db.models import NetResource
from cascade.services.network import (
    address_groups,
    attrs,
    default_rules,
    flavors,
    floatingips,
    networks,
    ports,
    rbac,
    routers,
    security_groups,
    store,
    subnetpools,
    subnets,
)
from cascade.services.network.access import (
    Caller,
    find,
    parent_of,
    permit,
    sees,
    target,
    visible,
)
from cascade.services.network.errors import BadRequest, NeutronError
from cascade.services.network.policies import TAGS

Viewer = Callable[[Caller, list[NetResource]], Awaitable[list[dict[str, Any]]]]
Creator = Callable[[Caller, Any], Awaitable[NetResource]]
Updater = Callable[[Caller, NetResource, dict[str, Any]], Awaitable[None]]
Deleter = Callable[[Caller, NetResource], Awaitable[None]]
Preparer = Callable[[Caller, dict[str, list[str]]], Awaitable[None]]


@dataclass(frozen=True)
class Collection:
    """One collection: its kind (the body's key; `<kind>s` the list's), the attributes
    a client may send (`spec`) or filter and sort on (`fields`), and its services."""

    kind: str
    spec: attrs.Spec
    fields: frozenset[str]
    views: Viewer  # the objects as Neutron shows them
    create: Creator
    update: Updater | None
    delete: Deleter
    before_listing: Preparer | None = None  # given the list's filters
    plural_name: str = ""  # the list's key where it is not `<kind>s`
    path: str = ""  # the URL's collection where it is not the plural with dashes

    @property
    def plural(self) -> str:
        return self.plural_name or f"{self.kind}s"

    @property
    def url(self) -> str:
        return self.path or self.plural.replace("_", "-")

    async def view(self, who: Caller, row: NetResource) -> dict[str, Any]:
        return (await self.views(who, [row]))[0]


def _fields(spec: attrs.Spec, *names: str) -> frozenset[str]:
    return frozenset((*spec, *names, *query.STANDARD, "tags"))


COLLECTIONS = {
    c.url: c
    for c in (
        Collection(
            store.NETWORK,
            networks.SPEC,
            _fields(
                networks.SPEC,
                "status",
                "subnets",
                "availability_zones",
                "ipv4_address_scope",
                "ipv6_address_scope",
            ),
            networks.views,
            networks.create,
            networks.update,
            networks.delete,
            networks.before_listing,
        ),
        Collection(
            store.SUBNET,
            subnets.SPEC,
            _fields(subnets.SPEC, "router:external"),
            subnets.views,
            subnets.create,
            subnets.update,
            subnets.delete,
        ),
        Collection(
            store.PORT,
            ports.SPEC,
            _fields(
                ports.SPEC, "status", "binding:vif_type", "binding:vif_details", "ip_allocation"
            ),
            ports.views,
            ports.create,
            ports.update,
            ports.delete,
        ),
        Collection(
            store.SECURITY_GROUP,
            security_groups.GROUP_SPEC,
            _fields(security_groups.GROUP_SPEC, "shared", "security_group_rules"),
            security_groups.group_views,
            security_groups.create_group,
            security_groups.update_group,
            security_groups.delete_group,
            security_groups.before_listing,
        ),
        Collection(
            store.SECURITY_GROUP_RULE,
            security_groups.RULE_SPEC,
            _fields(security_groups.RULE_SPEC, "normalized_cidr", "belongs_to_default_sg"),
            security_groups.rule_views,
            security_groups.create_rule,
            None,
            security_groups.delete_rule,
        ),
        Collection(
            store.ROUTER,
            routers.SPEC,
            _fields(routers.SPEC, "status", "availability_zones", "distributed", "ha", "flavor_id"),
            routers.views,
            routers.create,
            routers.update,
            routers.delete,
        ),
        Collection(
            store.FLOATINGIP,
            floatingips.SPEC,
            _fields(floatingips.SPEC, "status", "router_id", "port_details"),
            floatingips.views,
            floatingips.create,
            floatingips.update,
            floatingips.delete,
        ),
        Collection(
            store.SUBNETPOOL,
            subnetpools.POOL_SPEC,
            _fields(subnetpools.POOL_SPEC, "ip_version"),
            subnetpools.pool_views,
            subnetpools.create_pool,
            subnetpools.update_pool,
            subnetpools.delete_pool,
        ),
        Collection(
            store.ADDRESS_SCOPE,
            subnetpools.SCOPE_SPEC,
            _fields(subnetpools.SCOPE_SPEC),
            subnetpools.scope_views,
            subnetpools.create_scope,
            subnetpools.update_scope,
            subnetpools.delete_scope,
        ),
        Collection(
            store.ADDRESS_GROUP,
            address_groups.SPEC,
            _fields(address_groups.SPEC),
            address_groups.views,
            address_groups.create,
            address_groups.update,
            address_groups.delete,
        ),
        Collection(
            store.RBAC_POLICY,
            rbac.SPEC,
            _fields(rbac.SPEC),
            rbac.views,
            rbac.create,
            rbac.update,
            rbac.delete,
            plural_name="rbac_policies",
        ),
        Collection(
            store.FLAVOR,
            flavors.FLAVOR_SPEC,
            _fields(flavors.FLAVOR_SPEC, "service_profiles"),
            flavors.flavor_views,
            flavors.create_flavor,
            flavors.update_flavor,
            flavors.delete_flavor,
        ),
        Collection(
            store.SERVICE_PROFILE,
            flavors.PROFILE_SPEC,
            _fields(flavors.PROFILE_SPEC),
            flavors.profile_views,
            flavors.create_profile,
            flavors.update_profile,
            flavors.delete_profile,
            path="service_profiles",
        ),
        Collection(
            store.DEFAULT_SECURITY_GROUP_RULE,
            default_rules.SPEC,
            _fields(default_rules.SPEC),
            default_rules.views,
            default_rules.create,
            default_rules.update,
            default_rules.delete,
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
        items = await coll.views(who, await visible(who, coll.kind))
    page, links = query.apply(request, base_url(request, f"/v2.0/{coll.url}"), items, wanted)
    body: dict[str, Any] = {coll.plural: page}
    if links:
        body[f"{coll.plural}_links"] = links
    return reply(body)


async def _create_one(who: Caller, coll: Collection, body: Any) -> NetResource:
    """One object of a create; a port's body may carry its `tags` (Neutron's tag plugin
    lets a port be made with them, no other resource)."""
    item = body.get(coll.kind) if isinstance(body, dict) else None
    if coll.kind != store.PORT or not isinstance(item, dict) or "tags" not in item:
        return await coll.create(who, body)
    raw = item["tags"]
    if not isinstance(raw, list):
        raise BadRequest(f"Invalid input for tags. Reason: '{raw}' is not a list.")
    tags = sorted({_valid_tag(t) for t in raw})
    row = await coll.create(
        who, {**body, coll.kind: {k: v for k, v in item.items() if k != "tags"}}
    )
    if tags:
        row.tags = tags
        await who.db.commit()
    return row


async def create(request: Request) -> Response:
    coll = _collection(request)
    body = await json_body(request)
    async with caller(request) as who:
        if isinstance(body, dict) and isinstance(body.get(coll.plural), list):
            return reply({coll.plural: await _bulk(who, coll, body[coll.plural])}, 201)
        return reply({coll.kind: await coll.view(who, await _create_one(who, coll, body))}, 201)


async def _bulk(who: Caller, coll: Collection, items: list[Any]) -> list[dict[str, Any]]:
    made: list[dict[str, Any]] = []
    try:
        for item in items:
            made.append(await coll.view(who, await _create_one(who, coll, {coll.kind: item})))
    except NeutronError:
        await who.db.rollback()
        for done in reversed(made):  # all or none, as Neutron's bulk create
            await coll.delete(who, await find(who, coll.kind, done["id"]))
        raise
    return made


async def _current(request: Request, who: Caller, coll: Collection, action: str) -> NetResource:
    """The object to change: 404 if the caller cannot see it, 412 when `If-Match:
    revision_number=N` names another revision, 403 unless `<action>_<kind>` allows it
    (by default its project's members and admins)."""
    row = await find(who, coll.kind, request.path_params["object_id"])
    header = request.headers.get("if-match")
    for part in header.split(",") if header else []:
        name, _, value = part.strip().partition("=")
        if name == "revision_number":
            if not value.isdigit():
                raise BadRequest(f"Invalid If-Match header {header}")
            if int(value) != row.revision_number:
                raise NeutronError(
                    f"Constrained to {value}, but current revision is {row.revision_number}",
                    412,
                    "RevisionNumberConstraintFailed",
                )
    await permit(who, f"{action}_{coll.kind}", row)
    return row


async def show(request: Request) -> Response:
    coll = _collection(request)
    async with caller(request) as who:
        item = await coll.view(who, await find(who, coll.kind, request.path_params["object_id"]))
    return reply({coll.kind: _one(request, item)})


async def update(request: Request) -> Response:
    coll = _collection(request)
    if coll.update is None:
        # Neutron routes the PUT and looks the object up first: one the caller cannot
        # see is its 404, not a 405 that says it exists
        async with caller(request) as who:
            await find(who, coll.kind, request.path_params["object_id"])
        raise NeutronError("Method not allowed for this resource.", 405, "HTTPMethodNotAllowed")
    body = await json_body(request)
    async with caller(request) as who:
        # the body is checked first (Neutron's 400), then the object and the rule
        given = attrs.take(coll.spec, body, coll.kind, who.allows, update=True)
        row = await _current(request, who, coll, "update")
        await coll.update(who, row, given)
        return reply({coll.kind: await coll.view(who, row)})


async def delete(request: Request) -> Response:
    coll = _collection(request)
    async with caller(request) as who:
        await coll.delete(who, await _current(request, who, coll, "delete"))
    return reply(None, 204)


# --- tags -----------------------------------------------------------------------------


async def _tagged(request: Request, who: Caller, coll: Collection) -> NetResource:
    """The object whose tags are asked for or changed. Neutron's tags API reads the object
    whoever asks, then asks its policy with it: `get_<kind>:tags` to read them (by
    default as the object itself: a shared network's and its subnets' too),
    `create_`/`update_`/`delete_<kind>:tags` to change them (its project's members);
    refused is 403, no object 404."""
    row = await store.get(who.db, coll.kind, request.path_params["object_id"])
    if row is None:
        return await find(who, coll.kind, request.path_params["object_id"])
    action = {"GET": "get", "PUT": "update", "POST": "create"}.get(request.method, "delete")
    rule = f"{action}_{coll.kind}:tags"
    parent = await parent_of(who, row)
    # Neutron's tags API gives the rule the object's fields its policy needs (a network's,
    # or a subnet's network's, `shared`; not `router:external`), and a kind with no tags
    # rule of its own is judged by Neutron's `default`, admin_or_owner
    on = {k: v for k, v in target(who, row, parent).items() if k != "router:external"}
    if not who.allows(rule if rule in TAGS else "admin_or_owner", on):
        raise NeutronError(f"rule:{rule} is disallowed by policy", 403, "PolicyNotAuthorized")
    if not sees(who, row, parent):
        return await find(who, coll.kind, request.path_params["object_id"])
    return row


def _valid_tag(tag: Any) -> str:
    if not isinstance(tag, str) or not tag or len(tag) > 255 or "," in tag or "/" in tag:
        raise BadRequest(f"Invalid input for operation: '{tag}' is not a valid tag.")
    return tag


async def tags(request: Request) -> Response:
    """GET, PUT (replace: 200 with the tags), POST (add: 201 with the tags given;
    extension tag-creation) and DELETE (all: 204) of an object's tags."""
    coll = _collection(request)
    body = await json_body(request) if request.method in ("PUT", "POST") else None
    async with caller(request) as who:
        row = await _tagged(request, who, coll)
        if request.method == "GET":
            return reply({"tags": list(row.tags)})
        if request.method == "POST":
            raw = body.get("tags") if isinstance(body, dict) else None
            if not isinstance(raw, list):
                raise BadRequest("Invalid input for operation: Invalid tags body.")
            if len(set(map(str, raw))) != len(raw):
                raise BadRequest(
                    f"Invalid input for operation: Duplicate items in the list: {raw}."
                )
            added = {_valid_tag(t) for t in raw} - set(row.tags)
            if added:  # as Neutron's `create_tags`: the tags it lacks, idempotent
                row.tags = sorted({*row.tags, *added})
                store.bump(row)
                await who.db.commit()
            return reply({"tags": raw}, 201)
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
        row = await _tagged(request, who, coll)
        has = name in row.tags
        if request.method != "PUT" and not has:
            raise NeutronError(f"Tag {name} could not be found.", 404, "TagNotFound")
        if request.method == "GET":
            return reply(None, 204)
        put = request.method == "PUT"
        if put != has:  # added or removed: a change
            row.tags = sorted({*row.tags, name}) if put else [t for t in row.tags if t != name]
            store.bump(row)
            await who.db.commit()
        return reply(None, 201 if put else 204)


async def router_interface(request: Request) -> Response:
    """PUT /routers/{id}/add_router_interface and /remove_router_interface: 200 with the
    interface (router, port, subnet and network ids); /add_extraroutes and
    /remove_extraroutes: 200 with the router."""
    body = await json_body(request)
    action = request.path_params["action"]
    async with caller(request) as who:
        router_id = request.path_params["router_id"]
        if action == "add_router_interface":
            return reply(await routers.add_interface(who, router_id, body))
        if action == "remove_router_interface":
            return reply(await routers.remove_interface(who, router_id, body))
        if action in ("add_extraroutes", "remove_extraroutes"):
            add = action == "add_extraroutes"
            row = await routers.change_routes(who, router_id, body, add)
            return reply({"router": (await routers.views(who, [row]))[0]})
    raise not_found()


async def subnetpool_action(request: Request) -> Response:
    """PUT /subnetpools/{id}/add_prefixes and /remove_prefixes: 200 with the prefixes."""
    action = request.path_params["action"]
    if action not in ("add_prefixes", "remove_prefixes"):
        raise not_found()
    body = await json_body(request)
    async with caller(request) as who:
        pool_id = request.path_params["pool_id"]
        return reply({"prefixes": await subnetpools.change_prefixes(who, pool_id, action, body)})


async def address_group_action(request: Request) -> Response:
    """PUT /address-groups/{id}/add_addresses and /remove_addresses: 200 with the group."""
    action = request.path_params["action"]
    if action not in ("add_addresses", "remove_addresses"):
        raise not_found()
    body = await json_body(request)
    async with caller(request) as who:
        group_id = request.path_params["group_id"]
        return reply(await address_groups.change_addresses(who, group_id, action, body))

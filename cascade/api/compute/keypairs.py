"""Compute /os-keypairs: the caller's keypairs, kept at the top (Cascade's database).

- GET /os-keypairs lists the caller's keypairs by name (`name`, `public_key`,
  `fingerprint`; `type` from 2.2). From 2.35 `limit` and `marker` (a name;
  unknown: 400) page it, and a full page carries a `keypairs_links` "next"
  link pointing at the top.
- POST /os-keypairs imports `public_key` (ssh, or x509 from 2.2) or, before
  2.92, generates a pair and returns its `private_key` this once. 200 up to
  2.1, 201 from 2.2. A taken name is 409, a bad key 400, more than Nova's
  per-user quota of keypairs 403.
- GET /os-keypairs/{name}: one keypair with Nova's show fields; 404 if the
  user has none of that name.
- DELETE /os-keypairs/{name}: 202 up to 2.1, 204 from 2.2; the copies made
  in pods for servers are deleted too.

From 2.10 a `user_id` (query string; the body on create) acts on another
user's keypairs: that needs `cascade:keypairs:other_users` (admins). From
2.75 unknown query parameters are refused, as in Nova.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.compute.errors import ComputeError
from cascade.api.compute.versions import negotiated
from cascade.api.handlers import authorize, json_body, reply
from cascade.api.request import session
from cascade.context import Context
from cascade.db.models import Keypair
from cascade.pods.compute import Caller
from cascade.services import keypair_copies, keypairs, quotas
from cascade.versions import Version

RULE = "os_compute_api:os-keypairs:%s"
OTHER_USERS = "cascade:keypairs:other_users"
MAX_LIMIT = 1000  # Nova's default `[api] max_limit`
V2_2, V2_10, V2_35, V2_75, V2_92 = (Version(2, m) for m in (2, 10, 35, 75, 92))
NAME_CHARS = r"^[_\- a-zA-Z0-9]+$"
NAME_CHARS_V292 = r"^[_\-\@\. a-zA-Z0-9]+$"
_NAME_RULE = "printable characters. Can not start or end with whitespace."


def _bad(message: str) -> ComputeError:
    return ComputeError(400, message)


def _field_error(path: str, value: Any, message: str) -> ComputeError:
    return _bad(f"Invalid input for field/attribute {path}. Value: {value}. {message}")


def _unexpected(names: list[str]) -> str:
    quoted = ", ".join(repr(n) for n in names)
    verb = "was" if len(names) == 1 else "were"
    return f"Additional properties are not allowed ({quoted} {verb} unexpected)"


def _check_query(request: Request, version: Version, allowed: set[str]) -> None:
    """From 2.75 Nova refuses query parameters it does not know."""
    extra = sorted(set(request.query_params) - allowed)
    if version >= V2_75 and extra:
        raise _bad(_unexpected(extra))


def _target(request: Request, action: str, user_id: str | None) -> Context:
    """The caller, allowed to do `action` to the keypairs of `user_id` (None: their own)."""
    rule = RULE % action
    ctx = authorize(request, rule)
    if user_id and user_id != ctx.user_id and not request.app.state.policy.allows(OTHER_USERS, ctx):
        raise ComputeError(403, f"Policy doesn't allow {rule} to be performed.")
    return ctx


def _query_user(request: Request, version: Version) -> str | None:
    if version < V2_10:
        return None
    values = request.query_params.getlist("user_id")
    return values[0] if values else None


async def _one(request: Request, action: str) -> tuple[Version, Context, str]:
    """For /os-keypairs/{name}: the version, the caller allowed to `action` it, and the
    owner of the keypairs meant (`?user_id=` from 2.10, else the caller)."""
    version = await negotiated(request)
    _check_query(request, version, {"user_id"})
    user_id = _query_user(request, version)
    ctx = _target(request, action, user_id)
    return version, ctx, user_id or ctx.user_id


def _caller(request: Request, ctx: Context, version: Version) -> Caller:
    return Caller(ctx.token, str(version), str(request.scope["state"].get("request_id", "")))


def _check_name(version: Version, name: Any) -> None:
    if not isinstance(name, str):
        raise _field_error("name", name, f"{name!r} is not of type 'string'")
    if not name or name != name.strip() or not name.isprintable():
        raise _bad(f"An invalid 'name' value was provided. The name must be: {_NAME_RULE}")
    if len(name) > 255:
        raise _field_error("name", name, f"{name!r} is too long")
    pattern = NAME_CHARS_V292 if version >= V2_92 else NAME_CHARS
    if not re.match(pattern, name):
        raise _field_error("name", name, f"{name!r} does not match {pattern!r}")


def _create_fields(version: Version, body: Any) -> dict[str, Any]:
    """The `keypair` object of a create, checked as Nova's schema for `version`."""
    if not isinstance(body, dict):
        raise _bad(f"{body!r} is not of type 'object'")
    if "keypair" not in body:
        raise _bad("'keypair' is a required property")
    if len(body) > 1:
        raise _bad(_unexpected(sorted(set(body) - {"keypair"})))
    fields = body["keypair"]
    if not isinstance(fields, dict):
        raise _field_error("keypair", fields, f"{fields!r} is not of type 'object'")
    allowed = {"name", "public_key"}
    allowed |= {"type"} if version >= V2_2 else set()
    allowed |= {"user_id"} if version >= V2_10 else set()
    extra = [k for k in fields if k not in allowed]
    if extra:
        raise _field_error("keypair", fields, _unexpected(extra))
    for required in ("name", "public_key") if version >= V2_92 else ("name",):
        if required not in fields:
            raise _field_error("keypair", fields, f"{required!r} is a required property")
    _check_name(version, fields["name"])
    for key in ("public_key", "user_id", "type"):
        value = fields.get(key, "")
        if not isinstance(value, str):
            raise _field_error(key, value, f"{value!r} is not of type 'string'")
    if fields.get("type", "ssh") not in keypairs.TYPES:
        kind = fields["type"]
        raise _field_error("type", kind, f"{kind!r} is not one of ['ssh', 'x509']")
    return fields


def _view(keypair: Keypair, version: Version, names: tuple[str, ...]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": keypair.name,
        "public_key": keypair.public_key,
        "fingerprint": keypair.fingerprint,
        "user_id": keypair.user_id,
        "type": keypair.type,
        # Nova's show has an integer id; ours is a uuid: its first 53 bits, stable
        # and safe for JSON readers with IEEE doubles
        "id": int(keypair.id.replace("-", "")[:14], 16) >> 3,
        "created_at": keypair.created_at.isoformat(),
        "updated_at": None,  # a keypair never changes (as Nova's schema says)
        "deleted": False,
        "deleted_at": None,
    }
    shown = names + (("type",) if version >= V2_2 else ())
    return {name: values[name] for name in shown}


def _limit(request: Request) -> int | None:
    values = request.query_params.getlist("limit")
    for value in values:
        if not value:
            raise _bad(
                f"Invalid input for query parameters limit. Value: {value}. '' is too short",
            )
        if not value.isdigit():
            raise _bad(
                f"Invalid input for query parameters limit. Value: {value}. "
                f"{value!r} does not match '^[0-9]*$'",
            )
    return min(int(values[-1]), MAX_LIMIT) if values else None


def _next_links(request: Request, found: list[Keypair], limit: int | None) -> list[dict[str, str]]:
    page_size = MAX_LIMIT if limit is None else limit
    if not page_size or len(found) != page_size:
        return []
    params = dict(sorted(request.query_params.multi_items()))
    params["marker"] = found[-1].name
    base = str(request.base_url).rstrip("/")
    return [{"rel": "next", "href": f"{base}/compute/v2.1/os-keypairs?{urlencode(params)}"}]


async def index(request: Request) -> Response:
    """GET /os-keypairs: the user's keypairs by name; paged from 2.35."""
    version = await negotiated(request)
    paged = version >= V2_35
    _check_query(request, version, {"user_id", "limit", "marker"})
    limit = _limit(request) if paged else None
    user_id = _query_user(request, version)
    ctx = _target(request, "index", user_id)
    markers = request.query_params.getlist("marker") if paged else []
    async with session(request) as db:
        try:
            found = await keypairs.page(
                db, user_id or ctx.user_id, limit, markers[-1] if markers else None
            )
        except keypairs.MarkerNotFound as exc:
            raise _bad(str(exc)) from None
    names = ("name", "public_key", "fingerprint")
    body: dict[str, Any] = {"keypairs": [{"keypair": _view(k, version, names)} for k in found]}
    links = _next_links(request, found, limit) if paged else []
    if links:
        body["keypairs_links"] = links
    return reply(body)


async def create(request: Request) -> Response:
    """POST /os-keypairs: import or generate; 200 up to 2.1, 201 from 2.2."""
    version = await negotiated(request)
    fields = _create_fields(version, await json_body(request))
    user_id = fields.get("user_id") if version >= V2_10 else None
    ctx = _target(request, "create", user_id)
    async with session(request) as db:
        # the owner's key_pairs quota: the user's own, else the project's, else defaults
        conf = request.app.state.conf.quota
        owner = user_id or ctx.user_id
        limit = (await quotas.user_limits(db, conf, ctx.project_id or "", owner))["key_pairs"]
        try:
            made = await keypairs.create(
                db,
                user_id or ctx.user_id,
                fields["name"].strip(),
                fields.get("type", "ssh"),
                fields.get("public_key"),
                limit,
            )
        except keypairs.KeypairLimitExceeded as exc:
            raise ComputeError(403, str(exc)) from None
        except keypairs.InvalidKeypair as exc:
            raise _bad(str(exc)) from None
        except keypairs.KeypairExists as exc:
            raise ComputeError(409, str(exc)) from None
    view = _view(made.keypair, version, ("name", "public_key", "fingerprint", "user_id"))
    if made.private_key is not None:
        view["private_key"] = made.private_key
    return reply({"keypair": view}, 201 if version >= V2_2 else 200)


async def show(request: Request) -> Response:
    """GET /os-keypairs/{name}: one keypair, 404 itemNotFound if the user has none so named."""
    version, _, owner = await _one(request, "show")
    async with session(request) as db:
        try:
            found = await keypairs.get(db, owner, request.path_params["name"])
        except keypairs.KeypairNotFound as exc:
            raise ComputeError(404, str(exc)) from None
    names = (
        "name",
        "public_key",
        "fingerprint",
        "user_id",
        "created_at",
        "deleted",
        "deleted_at",
        "id",
        "updated_at",
    )
    return reply({"keypair": _view(found, version, names)})


async def delete(request: Request) -> Response:
    """DELETE /os-keypairs/{name}: 202 up to 2.1, 204 from 2.2; pod copies go too."""
    version, ctx, owner = await _one(request, "delete")
    async with session(request) as db:
        try:
            await keypair_copies.delete_with_copies(
                db,
                request.app.state.registry,
                owner,
                request.path_params["name"],
                _caller(request, ctx, version),
            )
        except keypairs.KeypairNotFound as exc:
            raise ComputeError(404, str(exc)) from None
    return reply(None, 204 if version >= V2_2 else 202)

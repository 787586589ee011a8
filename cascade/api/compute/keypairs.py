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

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.compute import schemas
from cascade.api.compute.errors import ComputeError
from cascade.api.compute.forward import caller_for
from cascade.api.compute.versions import negotiated
from cascade.api.handlers import authorize, reply
from cascade.api.request import session
from cascade.context import Context
from cascade.db.models import Keypair
from cascade.services.compute import keypair_copies, keypairs, quotas
from cascade.versions import Version

RULE = "os_compute_api:os-keypairs:%s"
MAX_LIMIT = 1000  # Nova's default `[api] max_limit`
STATUS: dict[type[Exception], int] = {
    keypairs.KeypairNotFound: 404,
    keypairs.KeypairExists: 409,
    keypairs.InvalidKeypair: 400,
    keypairs.KeypairLimitExceeded: 403,
    keypairs.MarkerNotFound: 400,
}


@contextmanager
def translated() -> Iterator[None]:
    """The service's refusals as Nova's errors."""
    try:
        yield
    except tuple(STATUS) as exc:
        raise ComputeError(STATUS[type(exc)], str(exc)) from None


def _target(request: Request, action: str, user_id: str | None) -> Context:
    """The caller, allowed to do `action` to the keypairs of `user_id` (None: their own)."""
    return authorize(request, RULE % action, {"user_id": user_id} if user_id else None)


async def _one(request: Request, action: str) -> tuple[Version, Context, str]:
    """For /os-keypairs/{name}: the version, the caller allowed to `action` it, and the
    owner of the keypairs meant (`?user_id=` from 2.10, else the caller)."""
    version = await negotiated(request)
    user_id = schemas.query(request, schemas.keypair_query(version)).get("user_id", [None])[0]
    ctx = _target(request, action, user_id)
    return version, ctx, user_id or ctx.user_id


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
    shown = names + (("type",) if version >= schemas.V2_2 else ())
    return {name: values[name] for name in shown}


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
    params = schemas.query(request, schemas.keypair_query(version, paged=True))
    limit = min(int(params["limit"][-1]), MAX_LIMIT) if "limit" in params else None
    user_id = params.get("user_id", [None])[0]
    ctx = _target(request, "index", user_id)
    async with session(request) as db:
        with translated():
            marker = params.get("marker", [None])[-1]
            found = await keypairs.page(db, user_id or ctx.user_id, limit, marker)
    names = ("name", "public_key", "fingerprint")
    body: dict[str, Any] = {"keypairs": [{"keypair": _view(k, version, names)} for k in found]}
    links = _next_links(request, found, limit) if version >= schemas.V2_35 else []
    if links:
        body["keypairs_links"] = links
    return reply(body)


async def create(request: Request) -> Response:
    """POST /os-keypairs: import or generate; 200 up to 2.1, 201 from 2.2."""
    version = await negotiated(request)
    fields = (await schemas.body(request, schemas.keypair_create(version)))["keypair"]
    user_id = fields.get("user_id")
    ctx = _target(request, "create", user_id)
    async with session(request) as db:
        # the owner's key_pairs quota: the user's own, else the project's, else defaults
        conf = request.app.state.conf.quota
        owner = user_id or ctx.user_id
        limit = (await quotas.user_limits(db, conf, ctx.project_id or "", owner))["key_pairs"]
        with translated():
            made = await keypairs.create(
                db,
                owner,
                fields["name"].strip(),
                fields.get("type", "ssh"),
                fields.get("public_key"),
                limit,
            )
    view = _view(made.keypair, version, ("name", "public_key", "fingerprint", "user_id"))
    if made.private_key is not None:
        view["private_key"] = made.private_key
    return reply({"keypair": view}, 201 if version >= schemas.V2_2 else 200)


async def show(request: Request) -> Response:
    """GET /os-keypairs/{name}: one keypair, 404 itemNotFound if the user has none so named."""
    version, _, owner = await _one(request, "show")
    async with session(request) as db:
        with translated():
            found = await keypairs.get(db, owner, request.path_params["name"])
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
    version, _, owner = await _one(request, "delete")
    async with session(request) as db:
        with translated():
            await keypair_copies.delete_with_copies(
                db,
                request.app.state.registry,
                owner,
                request.path_params["name"],
                caller_for(request, version),
            )
    return reply(None, 204 if version >= schemas.V2_2 else 202)

"""Compute flavors, owned by the top: /compute/v2.1/flavors.

- GET /flavors (id, name, links) and GET /flavors/detail (every field), any
  user. From 2.55 both show `description`; from 2.61 the detail shows
  `extra_specs` when policy lets the caller list them; from 2.75 `swap` is 0
  rather than ""; from 2.102 `rxtx_factor` and `OS-FLV-DISABLED:disabled`
  are gone. Nova's filters: `is_public` (admins only: true by default, false,
  none), `minRam`, `minDisk`, `name` (2.102, a regular expression),
  `sort_key` (default flavorid), `sort_dir` (default asc), `limit` and
  `marker` (unknown: 400). A full page carries a `flavors_links` next link.
  Unknown query parameters are dropped before 2.75 and a 400 from it.
  Non-admins see public flavors and the private ones their project may use.
- GET /flavors/{id}: one flavor; 404 if unknown or not visible.
- POST /flavors (admin): 200 with the flavor (Nova's code); 409 when the id
  or the name is taken.
- PUT /flavors/{id} (admin, 2.55+): changes the description; 404 before 2.55.
- DELETE /flavors/{id} (admin): 202. Copies in pods stay (servers keep their
  embedded flavor, as in Nova).

Bad input is Nova's 400 badRequest with Nova's message, and nothing is
written. A change reaches the pods holding a copy once the top has it.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from cascade.api.compute import schemas
from cascade.api.compute.errors import ComputeError
from cascade.api.compute.versions import negotiated
from cascade.api.handlers import authorize, reply
from cascade.api.request import context, session
from cascade.context import Context
from cascade.db.models import Flavor
from cascade.services.compute import flavor_copies
from cascade.services.compute import flavors as service
from cascade.versions import Version

T = TypeVar("T")
V2_61 = Version(2, 61)  # extra_specs in the flavor
SPECS_INDEX = "os_compute_api:os-flavor-extra-specs:index"
STATUS: tuple[tuple[type[service.FlavorError], int], ...] = (
    (service.FlavorNotFound, 404),
    (service.ExtraSpecNotFound, 404),
    (service.AccessNotFound, 404),
    (service.FlavorConflict, 409),
    (service.AccessConflict, 409),
    (service.MarkerNotFound, 400),
    (service.BadFilter, 400),
)
_TRUE = ("1", "t", "true", "on", "y", "yes")  # oslo.utils' strict bool_from_string
_FALSE = ("0", "f", "false", "off", "n", "no")
RXTX_MAX = 3.40282e38


@contextmanager
def translated() -> Iterator[None]:
    """Service refusals become Nova's errors, with the microversion echoed."""
    try:
        yield
    except service.FlavorError as exc:
        status = next((code for kind, code in STATUS if isinstance(exc, kind)), 400)
        raise ComputeError(status, str(exc)) from exc


def bad(message: str) -> ComputeError:
    return ComputeError(400, message)


def request_id(request: Request) -> str:
    """The id the pods get: the client's global request id, else ours."""
    state = request.scope.get("state", {})
    return str(state.get("global_request_id") or state.get("request_id", ""))


async def change(request: Request, make: Callable[[AsyncSession, str], Awaitable[T]]) -> T:
    """`make` a change to the path's flavor; once committed, bring the pods' copies in line
    (which never fails the request)."""
    flavor_id = request.path_params["flavor_id"]
    async with session(request) as db:
        with translated():
            done = await make(db, flavor_id)
        registry = request.app.state.registry
        await flavor_copies.sync_to_pods(db, registry, flavor_id, request_id(request))
    return done


# -- views --------------------------------------------------------------------------------


def links(request: Request, flavor_id: str) -> list[dict[str, str]]:
    base = str(request.base_url).rstrip("/")
    ident = quote(flavor_id, safe="")
    return [
        {"rel": "self", "href": f"{base}/compute/v2.1/flavors/{ident}"},
        {"rel": "bookmark", "href": f"{base}/compute/flavors/{ident}"},
    ]


def shows_specs(request: Request, ctx: Context, version: Version) -> bool:
    return version >= V2_61 and bool(request.app.state.policy.allows(SPECS_INDEX, ctx))


def full(request: Request, flavor: Flavor, version: Version, specs: bool) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": flavor.id,
        "name": flavor.name,
        "ram": flavor.ram,
        "disk": flavor.disk,
        "swap": (flavor.swap or 0) if version >= schemas.V2_75 else (flavor.swap or ""),
        "OS-FLV-EXT-DATA:ephemeral": flavor.ephemeral,
        "OS-FLV-DISABLED:disabled": flavor.disabled,
        "vcpus": flavor.vcpus,
        "os-flavor-access:is_public": flavor.is_public,
        "rxtx_factor": flavor.rxtx_factor or "",
        "links": links(request, flavor.id),
    }
    if version >= schemas.V2_55:
        view["description"] = flavor.description
    if specs:
        view["extra_specs"] = dict(flavor.extra_specs or {})
    if version >= schemas.V2_102:
        del view["OS-FLV-DISABLED:disabled"], view["rxtx_factor"]
    return view


def brief(request: Request, flavor: Flavor, version: Version) -> dict[str, Any]:
    view = full(request, flavor, version, specs=False)
    return {k: view[k] for k in ("id", "name", "links", "description") if k in view}


# -- listing ------------------------------------------------------------------------------


def _strict_bool(text: str) -> bool | None:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return None


def _is_public(raw: str | None) -> bool | None:
    if raw is None:
        return True
    if raw.lower() == "none":
        return None
    parsed = _strict_bool(raw)
    if parsed is None:
        raise bad(f"Invalid is_public filter [{raw}]")
    return parsed


def _at_least(params: dict[str, str], name: str) -> int | None:
    if name not in params:
        return None
    try:
        return int(params[name])
    except ValueError:
        raise bad(f"Invalid {name} filter [{params[name]}]") from None


def _limit(params: dict[str, str]) -> int:
    return min(service.MAX_LIMIT, int(params.get("limit", service.MAX_LIMIT)))


async def _listing(request: Request, version: Version, detail: bool) -> Response:
    ctx = context(request)
    known = schemas.query(request, schemas.flavor_index_query(version))
    params = {k: v[-1] for k, v in known.items()}  # the last of repeated values wins
    query = service.ListQuery(
        is_public=_is_public(params.get("is_public")) if ctx.is_admin else True,
        min_ram=_at_least(params, "minRam"),
        min_disk=_at_least(params, "minDisk"),
        name=params.get("name"),
        sort_key=params.get("sort_key") or "flavorid",
        sort_dir=params.get("sort_dir") or "asc",
        limit=_limit(params),
        marker=params.get("marker"),
    )
    async with session(request) as db:
        with translated():
            found = await service.list_flavors(db, ctx, query)
    collection = "flavors/detail" if detail else "flavors"
    if detail:
        specs = shows_specs(request, ctx, version)
        items = [full(request, f, version, specs) for f in found]
    else:
        items = [brief(request, f, version) for f in found]
    body: dict[str, Any] = {"flavors": items}
    if query.limit and len(found) == query.limit:
        after = dict(sorted(params.items()))
        after["marker"] = found[-1].id
        base = str(request.base_url).rstrip("/")
        href = f"{base}/compute/v2.1/{collection}?{urlencode(after)}"
        body["flavors_links"] = [{"rel": "next", "href": href}]
    return reply(body)


async def index(request: Request) -> Response:
    return await _listing(request, await negotiated(request), detail=False)


async def detail(request: Request) -> Response:
    return await _listing(request, await negotiated(request), detail=True)


async def show(request: Request) -> Response:
    version = await negotiated(request)
    schemas.query(request, schemas.show_query(version))
    ctx = context(request)
    async with session(request) as db:
        with translated():
            flavor = await service.get(db, request.path_params["flavor_id"], ctx)
    return reply({"flavor": full(request, flavor, version, shows_specs(request, ctx, version))})


# -- changes ------------------------------------------------------------------------------


def _integer(vals: dict[str, Any], key: str, name: str) -> int:
    try:
        return int(str(vals.get(key, 0)))  # Nova's reading: 2.0 is not an integer
    except ValueError:
        raise bad(f"Invalid input received: {name} must be an integer") from None


def _new_flavor(vals: dict[str, Any], version: Version) -> Flavor:
    """The validated body as the service takes it, read the way Nova reads it."""
    rxtx = float(vals.get("rxtx_factor", 1.0))
    if not 0 < rxtx <= RXTX_MAX:
        raise bad(
            f"Invalid input received: 'rxtx_factor' argument must be a float between 0 and "
            f"{RXTX_MAX:g}",
        )
    public = vals.get("os-flavor-access:is_public", True)
    raw_id = vals.get("id")
    return Flavor(
        id=str(raw_id) if raw_id else str(uuid.uuid4()),  # Nova's for a missing, null or 0 id
        name=str(vals["name"]).strip(),
        ram=_integer(vals, "ram", "ram"),
        vcpus=_integer(vals, "vcpus", "vcpus"),
        disk=_integer(vals, "disk", "disk"),
        ephemeral=_integer(vals, "OS-FLV-EXT-DATA:ephemeral", "ephemeral"),
        swap=_integer(vals, "swap", "swap"),
        rxtx_factor=rxtx,
        is_public=public if isinstance(public, bool) else bool(_strict_bool(str(public))),
        description=vals.get("description") if version >= schemas.V2_55 else None,
    )


async def create(request: Request) -> Response:
    version = await negotiated(request)
    body = await schemas.body(request, schemas.flavor_create(version))
    ctx = authorize(request, "os_compute_api:os-flavor-manage:create")
    new = _new_flavor(body["flavor"], version)
    async with session(request) as db:
        with translated():
            flavor = await service.create(db, new)
    return reply({"flavor": full(request, flavor, version, shows_specs(request, ctx, version))})


async def update(request: Request) -> Response:
    version = await negotiated(request)
    if version < schemas.V2_55:  # Nova has no such method before: a plain 404
        raise ComputeError(404, "The resource could not be found.")
    body = await schemas.body(request, schemas.FLAVOR_UPDATE)
    ctx = authorize(request, "os_compute_api:os-flavor-manage:update")
    description = body["flavor"]["description"]
    flavor = await change(request, lambda db, fid: service.update_description(db, fid, description))
    return reply({"flavor": full(request, flavor, version, shows_specs(request, ctx, version))})


async def delete(request: Request) -> Response:
    await negotiated(request)
    authorize(request, "os_compute_api:os-flavor-manage:delete")
    async with session(request) as db:
        with translated():
            await service.delete(db, request.path_params["flavor_id"])
    return reply(None, 202)

"""Flavor extra specs: /compute/v2.1/flavors/{flavor_id}/os-extra_specs[/{key}].

- GET: `{"extra_specs": {...}}` (values are strings), for anyone who may see
  the flavor (policy os-flavor-extra-specs:index).
- POST (admin): `{"extra_specs": {...}}` adds or replaces those keys; 200
  echoing the body, as Nova does.
- GET /{key}: `{key: value}`; 404 when the flavor has no such key.
- PUT /{key} (admin): a body of exactly that one key; 200 echoing it; 400
  "Request body and URI mismatch" when the body names another key.
- DELETE /{key} (admin): 200 with no body; 404 when there is no such key.

Keys are 1-255 of Nova's characters; values strings or numbers of up to 255
characters (numbers are kept as text). Nova's checks of known keys and
values from 2.86 are not made here. A change reaches the pods holding a
copy once the top has it. An unknown or invisible flavor is 404.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.compute import schemas
from cascade.api.compute.errors import ComputeError
from cascade.api.compute.flavors import bad, change, translated
from cascade.api.compute.versions import negotiated
from cascade.api.handlers import authorize, reply
from cascade.api.request import session
from cascade.services.compute import flavors as service

RULE = "os_compute_api:os-flavor-extra-specs:%s"


def _as_text(specs: dict[str, Any]) -> dict[str, str]:
    """Values as stored: numbers become text, which must fit in 255 characters."""
    stored: dict[str, str] = {}
    for key, value in specs.items():
        text = value if isinstance(value, str) else str(value)
        if not isinstance(value, str) and len(text) > 255:
            raise bad(f"extra_specs value has {len(text)} characters, more than 255.")
        stored[key] = text
    return stored


async def _read(request: Request, action: str) -> dict[str, str]:
    """The path's flavor's extra specs, for a caller allowed to `action` them."""
    version = await negotiated(request)
    schemas.query(request, schemas.show_query(version))
    ctx = authorize(request, RULE % action)
    async with session(request) as db:
        with translated():
            return await service.extra_specs(db, request.path_params["flavor_id"], ctx)


async def index(request: Request) -> Response:
    return reply({"extra_specs": await _read(request, "index")})


async def create(request: Request) -> Response:
    await negotiated(request)
    body = await schemas.body(request, schemas.SPECS_CREATE)
    authorize(request, RULE % "create")
    specs = _as_text(body["extra_specs"])
    await change(request, lambda db, fid: service.set_extra_specs(db, fid, specs))
    return reply(body)


async def show(request: Request) -> Response:
    specs, key = await _read(request, "show"), request.path_params["key"]
    if key not in specs:
        missing = service.ExtraSpecNotFound(request.path_params["flavor_id"], key)
        raise ComputeError(404, str(missing))
    return reply({key: specs[key]})


async def update(request: Request) -> Response:
    await negotiated(request)
    body = await schemas.body(request, schemas.SPEC_UPDATE)
    authorize(request, RULE % "update")
    specs = _as_text(body)
    if request.path_params["key"] not in specs:
        raise bad("Request body and URI mismatch")
    await change(request, lambda db, fid: service.set_extra_specs(db, fid, specs))
    return reply(body)


async def delete(request: Request) -> Response:
    await negotiated(request)
    authorize(request, RULE % "delete")
    key = request.path_params["key"]
    await change(request, lambda db, fid: service.delete_extra_spec(db, fid, key))
    return reply(None)

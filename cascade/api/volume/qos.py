"""QoS specs, owned by the top (admin; Cinder's `/qos-specs`).

- GET /qos-specs, GET /qos-specs/{id} (with `links`), POST (200; 409 for a name in
  use), PUT /qos-specs/{id} (set keys, 200), PUT /qos-specs/{id}/delete_keys (202),
  DELETE /qos-specs/{id}[?force=true] (202; associated and not forced: 400).
- GET /qos-specs/{id}/associations, /associate?vol_type_id=,
  /disassociate?vol_type_id=, /disassociate_all (202).
The pods hold copies of the specs their types' copies are associated with; they
follow by the `qos_specs.sync` and `volume_type.sync` jobs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from cascade.api.request import session
from cascade.api.volume.common import authorize, json_body, negotiated, original_url, reply
from cascade.api.volume.errors import VolumeError
from cascade.api.volume.spec_types import synced, translated
from cascade.db.models import QosSpecs
from cascade.services.volume import qos as volume_qos
from cascade.services.volume import types as volume_types
from cascade.services.volume.jobs import QOS_SYNC, SYNC

RULE = "volume_extension:qos_specs_manage"
R = TypeVar("R")
Change = Callable[[AsyncSession, QosSpecs, Any], Awaitable[R]]


async def _allowed(request: Request, action: str) -> None:
    await negotiated(request)
    authorize(request, f"{RULE}:{action}")


def _links(request: Request, qos: QosSpecs) -> list[dict[str, str]]:
    base = original_url(request).split("/qos-specs")[0]
    return [
        {"rel": "self", "href": f"{base}/qos-specs/{qos.id}"},
        {"rel": "bookmark", "href": f"{base.replace('/v3', '', 1)}/qos-specs/{qos.id}"},
    ]


@translated
async def index(request: Request) -> Response:
    await _allowed(request, "get_all")
    async with session(request) as db:
        found = await volume_qos.listing(db)
    return reply({"qos_specs": [volume_qos.view(q) for q in found]})


@translated
async def show(request: Request) -> Response:
    await _allowed(request, "get")
    async with session(request) as db:
        found = await volume_qos.get(db, request.path_params["qos_id"])
    body = {"qos_specs": volume_qos.view(found), "links": _links(request, found)}
    return reply(body)


@translated
async def create(request: Request) -> Response:
    await _allowed(request, "create")
    body = await json_body(request)
    async with session(request) as db:
        made = await volume_qos.create(db, body)
    return reply({"qos_specs": volume_qos.view(made), "links": _links(request, made)})


async def _keys(request: Request, action: str, change: Change[R]) -> R:
    """The URL's specs changed by the body (`change`); the pods' copies follow."""
    await _allowed(request, action)
    body = await json_body(request)
    async with session(request) as db:
        found = await volume_qos.get(db, request.path_params["qos_id"])
        answer = await change(db, found, body)
    await synced(request, QOS_SYNC, found.id)
    return answer


@translated
async def update(request: Request) -> Response:
    return reply({"qos_specs": await _keys(request, "update", volume_qos.set_keys)})


@translated
async def delete_keys(request: Request) -> Response:
    await _keys(request, "delete_keys", volume_qos.delete_keys)
    return reply(None, 202)


@translated
async def delete(request: Request) -> Response:
    await _allowed(request, "delete")
    force = request.query_params.get("force", "false").lower() in ("true", "1", "yes", "on")
    async with session(request) as db:
        found = await volume_qos.get(db, request.path_params["qos_id"])
        qos_id = found.id
        left = await volume_qos.delete(db, found, force)
    for vtype in left:
        await synced(request, SYNC, vtype.id)  # the copies follow: disassociated
    await synced(request, QOS_SYNC, qos_id)
    return reply(None, 202)


@translated
async def associations(request: Request) -> Response:
    await _allowed(request, "get_all")
    async with session(request) as db:
        found = await volume_qos.get(db, request.path_params["qos_id"])
        types = await volume_qos.types_of(db, found.id)
    body = {
        "qos_associations": [
            {"association_type": "volume_type", "name": t.name, "id": t.id} for t in types
        ]
    }
    return reply(body)


@translated
async def associate(request: Request) -> Response:
    """GET .../associate, .../disassociate (`vol_type_id`) and .../disassociate_all: 202."""
    await _allowed(request, "update")
    action = request.url.path.rsplit("/", 1)[-1]
    type_id = None if action == "disassociate_all" else request.query_params.get("vol_type_id")
    if not type_id and action != "disassociate_all":
        raise VolumeError(400, "Volume Type id must not be None.")
    change = volume_qos.associate if action == "associate" else volume_qos.disassociate
    async with session(request) as db:
        found = await volume_qos.get(db, request.path_params["qos_id"])
        if type_id:
            types = [await volume_types.get(db, type_id, None)]
        else:
            types = await volume_qos.types_of(db, found.id)
        for vtype in types:
            await change(db, found, vtype)
    for vtype in types:
        await synced(request, SYNC, vtype.id)
    return reply(None, 202)

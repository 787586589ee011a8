"""Group types, owned by the top (Cinder's `/group_types`, 3.11+; below: Cinder's 404).

- GET /group_types (`is_public` filter for admins: true by default, false or None
  for all; others see the public ones; `sort`), GET /group_types/{id} (a private
  one: admins only), GET /group_types/default: Cinder's 404 (Cascade has no
  default group type).
- POST (202; 409 for a name in use), PUT /group_types/{id} (200; name,
  description, is_public), DELETE (202; 400 while a pod's groups use its copy):
  admin, Cinder's rule names.
- /group_types/{id}/group_specs: GET (all), POST (set, 202 with what was given),
  GET/PUT/DELETE /{key} (PUT: 400 when the body's key is not the URL's).
Group specs show to admins only. The pods hold copies of the types their groups
use; they follow each change by the `group_type.sync` job.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.request import context, session
from cascade.api.volume import type_copy
from cascade.api.volume.common import authorize, json_body, negotiated, reply
from cascade.api.volume.errors import VolumeError
from cascade.api.volume.lists import sort_of
from cascade.api.volume.types import parse_bool, translated
from cascade.jobs import queue
from cascade.services import group_types
from cascade.services.volume_jobs import GROUP_TYPE_SYNC
from cascade.versions import Version

SINCE = Version(3, 11)
RULE = "group:group_types"
SPECS = "group:group_types_specs"


async def _negotiated(request: Request) -> None:
    if await negotiated(request) < SINCE:
        raise VolumeError(404, "The resource could not be found.")


def _admin(request: Request) -> bool:
    return context(request).is_admin


async def _changed(request: Request, type_id: str) -> None:
    async with session(request) as db:
        await queue.enqueue(db, GROUP_TYPE_SYNC, type_id, None, {})
        await db.commit()


def _entity(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("group_type"), dict):
        raise VolumeError(400, "'group_type' is a required property")
    entity: dict[str, Any] = body["group_type"]
    return entity


@translated
async def index(request: Request) -> Response:
    await _negotiated(request)
    raw = request.query_params.get("is_public")
    public = True if raw is None else parse_bool(raw, "is_public")
    spec = sort_of(request)
    async with session(request) as db:
        found = await group_types.listing(
            db, public if _admin(request) else True, list(spec.keys), list(spec.dirs)
        )
    return reply({"group_types": [group_types.view(t, _admin(request)) for t in found]})


@translated
async def show(request: Request) -> Response:
    await _negotiated(request)
    type_id = request.path_params["type_id"]
    if type_id == "default":
        raise VolumeError(404, "Default group type can not be found.")
    async with session(request) as db:
        found = await group_types.get(db, type_id, _admin(request))
    return reply({"group_type": group_types.view(found, _admin(request))})


@translated
async def create(request: Request) -> Response:
    await _negotiated(request)
    authorize(request, f"{RULE}:create")
    entity = _entity(await json_body(request))
    public = parse_bool(entity.get("is_public", True), "is_public")
    async with session(request) as db:
        made = await group_types.create(
            db,
            entity.get("name"),
            entity.get("description"),
            entity.get("group_specs"),
            True if public is None else public,
        )
    return reply({"group_type": group_types.view(made, True)}, 202)


@translated
async def update(request: Request) -> Response:
    await _negotiated(request)
    authorize(request, f"{RULE}:update")
    entity = _entity(await json_body(request))
    public = parse_bool(entity.get("is_public"), "is_public")
    async with session(request) as db:
        found = await group_types.get(db, request.path_params["type_id"], True)
        await group_types.update(db, found, entity.get("name"), entity.get("description"), public)
        view = group_types.view(found, True)
    await _changed(request, found.id)
    return reply({"group_type": view})


@translated
async def delete(request: Request) -> Response:
    await _negotiated(request)
    authorize(request, f"{RULE}:delete")
    type_id = request.path_params["type_id"]
    async with session(request) as db:
        found = await group_types.get(db, type_id, True)
        await type_copy.copies_deleted(request, db, group_types.delete_copies, type_id, "group")
        await db.delete(found)
        await db.commit()
    return reply(None, 202)


# --- group specs ------------------------------------------------------------------------


@translated
async def specs_index(request: Request) -> Response:
    await _negotiated(request)
    authorize(request, f"{SPECS}:get_all")
    async with session(request) as db:
        found = await group_types.get(db, request.path_params["type_id"], True)
    return reply({"group_specs": dict(found.group_specs or {})})


@translated
async def specs_create(request: Request) -> Response:
    await _negotiated(request)
    authorize(request, f"{SPECS}:create")
    body = await json_body(request)
    if not isinstance(body, dict) or "group_specs" not in body:
        raise VolumeError(400, "'group_specs' is a required property")
    async with session(request) as db:
        found = await group_types.get(db, request.path_params["type_id"], True)
        given = await group_types.set_specs(db, found, body["group_specs"])
    await _changed(request, found.id)
    return reply({"group_specs": given}, 202)


@translated
async def spec_show(request: Request) -> Response:
    await _negotiated(request)
    authorize(request, f"{SPECS}:get")
    key = request.path_params["key"]
    async with session(request) as db:
        found = await group_types.get(db, request.path_params["type_id"], True)
    if key not in (found.group_specs or {}):
        raise VolumeError(404, f"Group Type {found.id} has no extra spec with key {key}.")
    return reply({key: found.group_specs[key]})


@translated
async def spec_update(request: Request) -> Response:
    await _negotiated(request)
    authorize(request, f"{SPECS}:update")
    key = request.path_params["key"]
    body = await json_body(request)
    if not isinstance(body, dict) or key not in body:
        raise VolumeError(400, "Request body and URI mismatch")
    async with session(request) as db:
        found = await group_types.get(db, request.path_params["type_id"], True)
        given = await group_types.set_specs(db, found, body)
    await _changed(request, found.id)
    return reply(given)


@translated
async def spec_delete(request: Request) -> Response:
    await _negotiated(request)
    authorize(request, f"{SPECS}:delete")
    async with session(request) as db:
        found = await group_types.get(db, request.path_params["type_id"], True)
        await group_types.unset_spec(db, found, request.path_params["key"])
    await _changed(request, found.id)
    return reply(None, 202)

"""Volume types, owned by the top (Cinder's `types`, extra specs and type access).

- GET /types: public types and the private ones the caller's project may use;
  admins: `is_public` true (default), false, or `None` for all. GET
  /types/{id} (by id only; 404 otherwise), GET /types/default.
- POST /types (admin): 200 with the new type; 409 for a name in use.
  PUT /types/{id} (admin): name, description, is_public. DELETE (admin): 202;
  the pods' copies go first, and a pod where the type is in use refuses it:
  400 `Target volume type is still in use.`; the default type is a 400.
- /types/{id}/extra_specs[/{key}] (admin): GET, POST (merge), PUT (one key),
  DELETE; /types/{id}/os-volume-type-access (admin) and the actions
  `addProjectAccess` / `removeProjectAccess` (202).
Changes reach the pods that hold a copy through a `volume_type.sync` job.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.request import context, session
from cascade.api.volume import type_copy
from cascade.api.volume.common import authorize, json_body, negotiated, reply
from cascade.api.volume.errors import VolumeError
from cascade.db.models import VolumeType
from cascade.jobs import queue
from cascade.pods.client import PodUnavailable
from cascade.services import volume_type_copies, volume_types
from cascade.services.volume_jobs import SYNC

Handler = Callable[[Request], Awaitable[Response]]


def translated(handler: Handler) -> Handler:
    """Service refusals in Cinder's body."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except volume_types.TypeError_ as exc:
            await negotiated(request)
            raise VolumeError(exc.status, exc.message) from exc

    return wrapped


def _scope(request: Request) -> str | None:
    ctx = context(request)
    return None if ctx.is_admin else ctx.project_id


def parse_bool(raw: Any, name: str) -> bool | None:
    if raw is None or str(raw).lower() == "none":
        return None
    text = str(raw).lower()
    if text in ("true", "1", "yes", "on", "t", "y"):
        return True
    if text in ("false", "0", "no", "off", "f", "n"):
        return False
    raise VolumeError(400, f"Invalid {name} filter [{raw}]")


async def new_specs(
    request: Request,
    vtype: VolumeType,
    specs: dict[str, str] | None,
    encryption: Any = volume_type_copies.TOP,
) -> None:
    """The pods' copies take the new extra specs (or encryption) first (Cinder's 400
    `Volume Type is currently in use.` from a pod whose volumes use the type stops the
    change)."""
    async with session(request) as db:
        try:
            await volume_type_copies.push(db, request.app.state.registry, vtype, specs, encryption)
        except volume_type_copies.TypeCopyFailed as exc:
            await queue.enqueue(db, SYNC, vtype.id, None, {})  # copies changed go back
            await db.commit()
            raise volume_types.TypeError_(
                exc.status if exc.status < 500 else 502, f"{exc.message} (pod {exc.pod})"
            ) from exc
        except PodUnavailable as exc:
            raise volume_types.TypeError_(503, str(exc)) from exc


async def changed(request: Request, vtype: VolumeType) -> None:
    """The pods' copies follow (a job: the latest request wins)."""
    async with session(request) as db:
        await queue.enqueue(db, SYNC, vtype.id, None, {})
        await db.commit()


@translated
async def index(request: Request) -> Response:
    await negotiated(request)
    ctx = context(request)
    raw = request.query_params.get("is_public")
    is_public = True if raw is None else parse_bool(raw, "is_public")
    async with session(request) as db:
        found = await volume_types.listing(db, _scope(request), is_public)
    body = {"volume_types": [volume_types.view(t, ctx.is_admin) for t in found]}
    return reply(body)


@translated
async def show(request: Request) -> Response:
    await negotiated(request)
    async with session(request) as db:
        found = await volume_types.get(db, request.path_params["type_id"], _scope(request))
    return reply({"volume_type": volume_types.view(found, context(request).is_admin)})


@translated
async def show_default(request: Request) -> Response:
    await negotiated(request)
    default_name = request.app.state.conf.volume.default_volume_type
    async with session(request) as db:
        found = await volume_types.default(db, default_name, context(request).project_id or "")
    view = volume_types.view(found, context(request).is_admin)
    view.pop("os-volume-type-access:is_public")
    return reply({"volume_type": view})


def _entity(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("volume_type"), dict):
        raise VolumeError(400, "'volume_type' is a required property")
    entity: dict[str, Any] = body["volume_type"]
    return entity


@translated
async def create(request: Request) -> Response:
    await negotiated(request)
    authorize(request, "volume_extension:type_create")
    entity = _entity(await json_body(request))
    public = parse_bool(entity.get("os-volume-type-access:is_public", True), "is_public")
    async with session(request) as db:
        made = await volume_types.create(
            db,
            entity.get("name"),
            entity.get("description"),
            entity.get("extra_specs"),
            True if public is None else public,
        )
    view = volume_types.view(made, True)
    view.pop("qos_specs_id")  # Cinder's create answer has none
    return reply({"volume_type": view})


@translated
async def update(request: Request) -> Response:
    await negotiated(request)
    authorize(request, "volume_extension:type_update")
    entity = _entity(await json_body(request))
    public = parse_bool(entity.get("is_public"), "is_public")
    async with session(request) as db:
        found = await volume_types.get(db, request.path_params["type_id"], None)
        await volume_types.update(db, found, entity.get("name"), entity.get("description"), public)
        view = volume_types.view(found, True)
    for key in ("qos_specs_id", "os-volume-type-access:is_public"):
        view.pop(key)  # Cinder's update answer has neither
    await changed(request, found)
    return reply({"volume_type": view})


@translated
async def delete(request: Request) -> Response:
    await negotiated(request)
    authorize(request, "volume_extension:type_delete")
    type_id = request.path_params["type_id"]
    async with session(request) as db:
        found = await volume_types.get(db, type_id, None)
        defaults = (volume_types.DEFAULT, request.app.state.conf.volume.default_volume_type)
        in_use = [d for d in await volume_types.project_defaults(db) if d.volume_type_id == type_id]
        if found.name in defaults or in_use:
            raise volume_types.TypeError_(
                400, f"The volume type {type_id} is a default volume type and cannot be deleted."
            )
        await type_copy.copies_deleted(
            request, db, volume_type_copies.delete_copies, type_id, "volume"
        )
        await db.delete(found)
        await db.commit()
    return reply(None, 202)


# --- extra specs -----------------------------------------------------------------------


@translated
async def specs_index(request: Request) -> Response:
    await negotiated(request)
    authorize(request, "volume_extension:types_extra_specs:index")
    async with session(request) as db:
        found = await volume_types.get(db, request.path_params["type_id"], None)
    return reply({"extra_specs": dict(found.extra_specs or {})})


@translated
async def specs_create(request: Request) -> Response:
    await negotiated(request)
    authorize(request, "volume_extension:types_extra_specs:create")
    body = await json_body(request)
    if not isinstance(body, dict) or "extra_specs" not in body:
        raise VolumeError(400, "'extra_specs' is a required property")
    specs = volume_types.check_specs(body["extra_specs"])
    async with session(request) as db:
        found = await volume_types.get(db, request.path_params["type_id"], None)
        await new_specs(request, found, {**(found.extra_specs or {}), **specs})
        await volume_types.set_specs(db, found, specs)
    await changed(request, found)
    return reply({"extra_specs": specs})


@translated
async def spec_show(request: Request) -> Response:
    await negotiated(request)
    authorize(request, "volume_extension:types_extra_specs:show")
    key = request.path_params["key"]
    async with session(request) as db:
        found = await volume_types.get(db, request.path_params["type_id"], None)
    if key not in (found.extra_specs or {}):
        raise volume_types.TypeError_(
            404, f"Volume Type {found.id} has no extra specs with key {key}."
        )
    return reply({key: found.extra_specs[key]})


@translated
async def spec_update(request: Request) -> Response:
    await negotiated(request)
    authorize(request, "volume_extension:types_extra_specs:update")
    key = request.path_params["key"]
    body = await json_body(request)
    if not isinstance(body, dict) or len(body) != 1 or key not in body:
        raise VolumeError(400, "Request body and URI mismatch")
    specs = volume_types.check_specs(body)
    async with session(request) as db:
        found = await volume_types.get(db, request.path_params["type_id"], None)
        await new_specs(request, found, {**(found.extra_specs or {}), **specs})
        await volume_types.set_specs(db, found, specs)
    await changed(request, found)
    return reply(specs)


@translated
async def spec_delete(request: Request) -> Response:
    await negotiated(request)
    authorize(request, "volume_extension:types_extra_specs:delete")
    key = request.path_params["key"]
    async with session(request) as db:
        found = await volume_types.get(db, request.path_params["type_id"], None)
        if key in (found.extra_specs or {}):
            rest = {k: v for k, v in found.extra_specs.items() if k != key}
            await new_specs(request, found, rest)
        await volume_types.unset_spec(db, found, key)
    await changed(request, found)
    return reply(None, 202)


# --- access -----------------------------------------------------------------------------


@translated
async def access_index(request: Request) -> Response:
    await negotiated(request)
    authorize(request, "volume_extension:volume_type_access")
    async with session(request) as db:
        found = await volume_types.get(db, request.path_params["type_id"], None)
        if found.is_public:
            raise volume_types.TypeError_(404, "Access list not available for public volume types.")
        projects = await volume_types.projects_of(db, found.id)
    body = {"volume_type_access": [{"volume_type_id": found.id, "project_id": p} for p in projects]}
    return reply(body)


@translated
async def action(request: Request) -> Response:
    await negotiated(request)
    body = await json_body(request)
    if not isinstance(body, dict) or len(body) != 1:
        raise VolumeError(400, "Malformed request body")
    name, args = next(iter(body.items()))
    if name not in ("addProjectAccess", "removeProjectAccess"):
        raise VolumeError(
            400,
            f"There is no such action: {name}. Verify the request body and Content-Type "
            "header and try again.",
        )
    authorize(request, f"volume_extension:volume_type_access:{name}")
    if not isinstance(args, dict) or not args.get("project"):
        raise VolumeError(400, "'project' is a required property")
    async with session(request) as db:
        found = await volume_types.get(db, request.path_params["type_id"], None)
        change = (
            volume_types.add_access if name == "addProjectAccess" else volume_types.remove_access
        )
        await change(db, found, str(args["project"]))
    await changed(request, found)
    return reply(None, 202)

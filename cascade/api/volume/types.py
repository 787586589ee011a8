"""Volume types, owned by the top (Cinder's `types`, extra specs and type access).

- GET /types: public types and the private ones the caller's project may use;
  admins: `is_public` true (default), false, or `None` for all. GET
  /types/default: the project's default type, else the configured one.
- GET, POST, PUT, DELETE /types[/{id}] and /types/{id}/extra_specs[/{key}]: made
  from the description (`spec_types.Handlers`, `volume_types.TYPE`); a delete of a
  default type is a 400, and extra specs reach the pods' copies first (Cinder's 400
  `Volume Type is currently in use.` from a pod whose volumes use the type stops it).
- /types/{id}/os-volume-type-access (admin) and the actions `addProjectAccess` /
  `removeProjectAccess` (202).
Changes reach the pods that hold a copy through a `volume_type.sync` job.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from cascade.api.request import context, session
from cascade.api.volume.common import authorize, json_body, negotiated, reply
from cascade.api.volume.errors import VolumeError
from cascade.api.volume.spec_types import Handlers, parse_bool, scope, synced, translated
from cascade.db.models import VolumeType
from cascade.jobs import queue
from cascade.pods.client import PodUnavailable
from cascade.services.volume import type_copies as volume_type_copies
from cascade.services.volume import types as volume_types
from cascade.services.volume.jobs import SYNC


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


async def _deletable(request: Request, db: AsyncSession, vtype: VolumeType) -> None:
    """Not the default type (the configured one, `__DEFAULT__` or a project's)."""
    defaults = (volume_types.DEFAULT, request.app.state.conf.volume.default_volume_type)
    in_use = [d for d in await volume_types.project_defaults(db) if d.volume_type_id == vtype.id]
    if vtype.name in defaults or in_use:
        raise VolumeError(
            400, f"The volume type {vtype.id} is a default volume type and cannot be deleted."
        )


# Cinder's types_extra_specs: index and show pass its policy for members and then find
# the type (404 for another project's private type); delete finds the type first
HANDLERS = Handlers(
    volume_types.TYPE,
    volume_type_copies.delete_copies,
    _deletable,
    new_specs,
    looked_up_first=frozenset({"index", "show", "delete"}),
)


@translated
async def index(request: Request) -> Response:
    """GET /types: public types and the private ones the caller may use (admins: by
    `is_public`, true by default, `None` for all)."""
    await negotiated(request)
    raw = request.query_params.get("is_public")
    is_public = True if raw is None else parse_bool(raw, "is_public")
    async with session(request) as db:
        found = await volume_types.listing(db, scope(request), is_public)
    admin = context(request).is_admin
    return reply({"volume_types": [volume_types.view(t, admin) for t in found]})


@translated
async def show_default(request: Request) -> Response:
    """GET /types/default: the project's default type, else the configured one."""
    await negotiated(request)
    default_name = request.app.state.conf.volume.default_volume_type
    async with session(request) as db:
        found = await volume_types.default(db, default_name, context(request).project_id or "")
    view = volume_types.view(found, context(request).is_admin)
    view.pop("os-volume-type-access:is_public")
    return reply({"volume_type": view})


# --- access -----------------------------------------------------------------------------


@translated
async def access_index(request: Request) -> Response:
    """GET /types/{id}/os-volume-type-access (admin): the projects given access to a
    private type (a public one: 404)."""
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
    """POST /types/{id}/action `addProjectAccess` / `removeProjectAccess` (admin): 202."""
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
    await synced(request, SYNC, found.id)
    return reply(None, 202)

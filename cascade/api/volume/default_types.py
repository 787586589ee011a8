"""Projects' default volume types, kept at the top (Cinder's `/default-types`, 3.62+; below:
Cinder's 404). Admin, Cinder's rule names.

- PUT /default-types/{project_id} `{"default_type": {"volume_type": <name or id>}}`:
  200 with `{"default_type": {"project_id", "volume_type_id"}}`; a type the top
  does not have is a 400, a project Keystone does not know a 404.
- GET /default-types (all), GET /default-types/{project_id} (404 when it has none),
  DELETE /default-types/{project_id} (204, also when it had none).
A volume created without a type then gets the project's default (the
configured one otherwise), and GET /types/default shows it, as in Cinder.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.request import session
from cascade.api.volume.common import authorize, json_body, negotiated, reply
from cascade.api.volume.errors import VolumeError
from cascade.api.volume.spec_types import translated
from cascade.identity import KeystoneUnavailable
from cascade.services.volume import types as volume_types
from cascade.versions import Version

SINCE = Version(3, 62)


async def _allowed(request: Request, rule: str) -> None:
    await negotiated(request, SINCE)
    authorize(request, rule)


async def _project(request: Request, rule: str) -> str:
    """The URL's project, after the version and the policy; Cinder's 404 for a project
    Keystone does not know."""
    await _allowed(request, rule)
    project: str = request.path_params["project_id"]
    try:
        known = await request.app.state.registry.validator.project_exists(project)
    except KeystoneUnavailable as exc:
        raise VolumeError(503, str(exc)) from exc
    if not known:
        raise VolumeError(404, f"Project with id {project} not found.")
    return project


@translated
async def update(request: Request) -> Response:
    project = await _project(request, "volume_extension:default_set_or_update")
    body = await json_body(request)
    entity = body.get("default_type") if isinstance(body, dict) else None
    wanted = entity.get("volume_type") if isinstance(entity, dict) else None
    if not isinstance(wanted, str) or not wanted.strip() or len(wanted) > 255:
        raise VolumeError(400, "Invalid input for field/attribute volume_type.")
    async with session(request) as db:
        row = await volume_types.set_project_default(db, project, wanted)
        return reply({"default_type": volume_types.default_view(row)})


@translated
async def show(request: Request) -> Response:
    project = await _project(request, "volume_extension:default_get")
    async with session(request) as db:
        found = await volume_types.project_defaults(db, project)
    if not found:
        raise VolumeError(404, f"Default type for project {project} not found.")
    return reply({"default_type": volume_types.default_view(found[0])})


@translated
async def index(request: Request) -> Response:
    await _allowed(request, "volume_extension:default_get_all")
    async with session(request) as db:
        found = await volume_types.project_defaults(db)
    return reply({"default_types": [volume_types.default_view(d) for d in found]})


@translated
async def delete(request: Request) -> Response:
    project = await _project(request, "volume_extension:default_unset")
    async with session(request) as db:
        await volume_types.unset_project_default(db, project)
    return reply(None, 204)

"""Projects' default volume types, kept at the top (Cinder's `/default-types`, 3.62+; below:
Cinder's 404). Admin, Cinder's rule names.

- PUT /default-types/{project_id} `{"default_type": {"volume_type": <name or id>}}`:
  200 with `{"default_type": {"project_id", "volume_type_id"}}`; Cinder's order:
  the body (400), a project Keystone does not know (404), the policy (403, "You are
  not authorized to perform this operation."), a type the top does not have (400).
- GET /default-types (all), GET /default-types/{project_id} (404 when it has none),
  DELETE /default-types/{project_id} (204, also when it had none or Keystone does
  not know the project).
A volume created without a type then gets the project's default (the
configured one otherwise), and GET /types/default shows it, as in Cinder.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.request import context, session
from cascade.api.volume import schemas
from cascade.api.volume.common import json_body, negotiated, reply
from cascade.api.volume.errors import VolumeError
from cascade.api.volume.spec_types import translated
from cascade.identity import KeystoneUnavailable
from cascade.services.volume import types as volume_types
from cascade.versions import Version

SINCE = Version(3, 62)
FORBIDDEN = "You are not authorized to perform this operation."  # Cinder's words here
# cinder/api/schemas/default_types.py `create_or_update` (whose missing `required` at the
# top makes a body without `default_type` Cinder's 500: here, its 400)
BODY: schemas.Schema = {
    "type": "object",
    "properties": {
        "default_type": {
            "type": "object",
            "properties": {"volume_type": {"type": "string", "minLength": 1, "maxLength": 255}},
            "required": ["volume_type"],
            "additionalProperties": False,
        },
    },
    "required": ["default_type"],
}


def _authorize(request: Request, rule: str) -> None:
    if not request.app.state.policy.allows(rule, context(request)):
        raise VolumeError(403, FORBIDDEN)


async def _exists(request: Request, project: str) -> bool:
    try:
        known: bool = await request.app.state.registry.validator.project_exists(project)
    except KeystoneUnavailable as exc:
        raise VolumeError(503, str(exc)) from exc
    return known


async def _project(request: Request, rule: str) -> str:
    """The URL's project, as Cinder's `validate_project_and_authorize`: one Keystone does
    not know is a 404, then the policy."""
    project: str = request.path_params["project_id"]
    if not await _exists(request, project):
        raise VolumeError(404, f"Project with id {project} not found.")
    _authorize(request, rule)
    return project


@translated
async def update(request: Request) -> Response:
    await negotiated(request, SINCE)
    body = await json_body(request)
    schemas.check(BODY, body)
    project = await _project(request, "volume_extension:default_set_or_update")
    wanted = str(body["default_type"]["volume_type"])
    async with session(request) as db:
        row = await volume_types.set_project_default(db, project, wanted)
        return reply({"default_type": volume_types.default_view(row)})


@translated
async def show(request: Request) -> Response:
    await negotiated(request, SINCE)
    project = await _project(request, "volume_extension:default_get")
    async with session(request) as db:
        found = await volume_types.project_defaults(db, project)
    if not found:
        raise VolumeError(404, f"Default type for project {project} not found.")
    return reply({"default_type": volume_types.default_view(found[0])})


@translated
async def index(request: Request) -> Response:
    await negotiated(request, SINCE)
    _authorize(request, "volume_extension:default_get_all")
    async with session(request) as db:
        found = await volume_types.project_defaults(db)
    return reply({"default_types": [volume_types.default_view(d) for d in found]})


@translated
async def delete(request: Request) -> Response:
    """204 whether or not the project had one; a project Keystone does not know is not
    asked about the policy (Cinder logs its 404 and unsets)."""
    await negotiated(request, SINCE)
    project: str = request.path_params["project_id"]
    if await _exists(request, project):
        _authorize(request, "volume_extension:default_unset")
    async with session(request) as db:
        await volume_types.unset_project_default(db, project)
    return reply(None, 204)

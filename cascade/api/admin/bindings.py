"""Admin API: `/v1/bindings`, which pod of an AZ each project's new resources go to.
Admins only (policy `cascade:bindings:*`).

- POST /v1/bindings with `{"binding": {"project_id", "az", "pod_id"?}}`:
  without `pod_id` the AZ's scheduling policy chooses. 201 and the binding;
  409 if the project is already bound in that AZ, or no pod can take it;
  400 for a pod that does not exist or serves another AZ.
- GET /v1/bindings (`project_id`, `az` filters), GET /v1/bindings/{id}.
- DELETE /v1/bindings/{id}: 204; the next resource schedules anew.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cascade.api.admin.common import Refusals, acting, fields, shown
from cascade.api.errors import ApiError
from cascade.api.request import json_body
from cascade.services import bindings as service

REFUSALS: Refusals = {
    service.BadBinding: (400, "cascade.binding.pod"),
    service.BindingConflict: (409, "cascade.binding.conflict"),
    service.BindingNotFound: (404, "cascade.binding.not_found"),
}


def _fields(body: Any) -> dict[str, str]:
    values = fields(body, "binding", ("project_id", "az", "pod_id"))
    for key in ("project_id", "az"):
        if key not in values:
            raise ApiError(400, f"missing binding field: {key}", "cascade.binding.field")
    for key, value in values.items():
        if not isinstance(value, str) or not 1 <= len(value) <= 255:
            raise ApiError(
                400,
                f"binding field {key!r} must be a string of 1 to 255 characters",
                "cascade.binding.field",
            )
    return dict(values)


async def create(request: Request) -> Response:
    """POST /v1/bindings: 201 with the binding; 409 if the project is bound in the AZ
    already or no pod can take it; 400 for a pod that does not exist or serves another AZ."""
    async with acting(request, "cascade:bindings:create", REFUSALS) as (_, db):
        values = _fields(await json_body(request))
        made = await service.create(
            db,
            request.app.state.conf.scheduling,
            values["project_id"],
            values["az"],
            values.get("pod_id"),
        )
    return JSONResponse({"binding": shown(made)}, status_code=201)


async def index(request: Request) -> Response:
    """GET /v1/bindings[?project_id=][&az=]: 200 with the bindings, oldest first."""
    params = request.query_params
    async with acting(request, "cascade:bindings:list", REFUSALS) as (_, db):
        found = await service.list_all(db, params.get("project_id"), params.get("az"))
    return JSONResponse({"bindings": [shown(b) for b in found]})


async def show(request: Request) -> Response:
    """GET /v1/bindings/{id}: 200 with the binding; 404 if unknown."""
    async with acting(request, "cascade:bindings:show", REFUSALS) as (_, db):
        found = await service.get(db, request.path_params["binding_id"])
    return JSONResponse({"binding": shown(found)})


async def delete(request: Request) -> Response:
    """DELETE /v1/bindings/{id}: 204; 404 if unknown."""
    async with acting(request, "cascade:bindings:delete", REFUSALS) as (_, db):
        await service.delete(db, request.path_params["binding_id"])
    return Response(status_code=204)

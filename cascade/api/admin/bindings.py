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

from cascade.api.errors import ApiError
from cascade.api.request import authorize, json_body, session
from cascade.db.models import Binding
from cascade.services import bindings as service

FIELDS = {"project_id", "az", "pod_id"}


def view(binding: Binding) -> dict[str, Any]:
    return {
        "id": binding.id,
        "project_id": binding.project_id,
        "az": binding.az,
        "pod_id": binding.pod_id,
        "created_at": binding.created_at.isoformat(),
    }


def _fields(body: Any) -> dict[str, str]:
    if (
        not isinstance(body, dict)
        or set(body) != {"binding"}
        or not isinstance(body["binding"], dict)
    ):
        raise ApiError(400, 'the body must be {"binding": {...}}', "cascade.request.body")
    values = body["binding"]
    unknown = sorted(set(values) - FIELDS)
    if unknown:
        raise ApiError(
            400, f"unknown binding field(s): {', '.join(unknown)}", "cascade.binding.field"
        )
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
    authorize(request, "cascade:bindings:create")
    values = _fields(await json_body(request))
    async with session(request) as db:
        try:
            made = await service.create(
                db,
                request.app.state.conf.scheduling,
                values["project_id"],
                values["az"],
                values.get("pod_id"),
            )
        except service.BadBinding as exc:
            raise ApiError(400, str(exc), "cascade.binding.pod") from exc
        except service.BindingConflict as exc:
            raise ApiError(409, str(exc), "cascade.binding.conflict") from exc
    return JSONResponse({"binding": view(made)}, status_code=201)


async def index(request: Request) -> Response:
    authorize(request, "cascade:bindings:list")
    params = request.query_params
    async with session(request) as db:
        found = await service.list_all(db, params.get("project_id"), params.get("az"))
    return JSONResponse({"bindings": [view(b) for b in found]})


async def show(request: Request) -> Response:
    authorize(request, "cascade:bindings:show")
    async with session(request) as db:
        try:
            found = await service.get(db, request.path_params["binding_id"])
        except service.BindingNotFound as exc:
            raise ApiError(404, str(exc), "cascade.binding.not_found") from exc
    return JSONResponse({"binding": view(found)})


async def delete(request: Request) -> Response:
    authorize(request, "cascade:bindings:delete")
    async with session(request) as db:
        try:
            await service.delete(db, request.path_params["binding_id"])
        except service.BindingNotFound as exc:
            raise ApiError(404, str(exc), "cascade.binding.not_found") from exc
    return Response(status_code=204)

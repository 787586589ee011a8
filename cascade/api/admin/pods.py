"""Admin API: `/v1/pods`, the bottom clouds Cascade fronts. Admin only (policy `cascade:pods:*`).

- POST /v1/pods with `{"pod": {...}}` registers a pod: 201, the pod, and a
  Location header. `name`, `region_name` and `az` (the top AZ it serves)
  are required; `pod_az` (the AZ name inside the pod, default: `az`),
  `enabled` (default true), `weight` (default 1) and `tags` are optional.
  Unknown fields, wrong types: 400. Name or region already used: 409.
- GET /v1/pods lists pods (oldest first); GET /v1/pods/{id} shows one (404).
- PATCH /v1/pods/{id} with `{"pod": {...}}` changes the given fields: 200.
- DELETE /v1/pods/{id}: 204; 409 while the pod hosts resources (routings),
  unless `?force=true`, which also drops the pod's routings.
Pods carry a read-only `health`: state, last check, latency, last error.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cascade.api.errors import ApiError
from cascade.api.request import authorize, json_body, session
from cascade.db.models import Pod
from cascade.services import pods as service
from cascade.services.route_cache import RouteCache

FIELDS: dict[str, type] = {
    "name": str,
    "region_name": str,
    "az": str,
    "pod_az": str,
    "enabled": bool,
    "weight": int,
    "tags": list,
}
REQUIRED = ("name", "region_name", "az")


def _spec(body: Any, creating: bool) -> service.PodSpec:
    if not isinstance(body, dict) or set(body) != {"pod"} or not isinstance(body["pod"], dict):
        raise ApiError(400, 'the body must be {"pod": {...}}', "cascade.request.body")
    values: dict[str, Any] = body["pod"]
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise ApiError(400, f"unknown pod field(s): {', '.join(unknown)}", "cascade.pod.field")
    if creating:
        missing = [f for f in REQUIRED if f not in values]
        if missing:
            raise ApiError(400, f"missing pod field(s): {', '.join(missing)}", "cascade.pod.field")
    for key, value in values.items():
        kind = FIELDS[key]
        # bool is an int in Python: refuse `"weight": true` as Nova would refuse it
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ApiError(400, f"pod field {key!r} must be {_kind(kind)}", "cascade.pod.field")
        if isinstance(value, str) and not 1 <= len(value) <= 255:
            raise ApiError(
                400, f"pod field {key!r} must have 1 to 255 characters", "cascade.pod.field"
            )
    if "weight" in values and values["weight"] < 0:
        raise ApiError(400, "pod field 'weight' must be 0 or more", "cascade.pod.field")
    if "tags" in values and not all(isinstance(t, str) and t for t in values["tags"]):
        raise ApiError(
            400, "pod field 'tags' must be a list of non-empty strings", "cascade.pod.field"
        )
    return service.PodSpec(values)


def _kind(kind: type) -> str:
    names = {str: "a string", bool: "a boolean", int: "an integer", list: "a list"}
    return names.get(kind, kind.__name__)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def view(pod: Pod) -> dict[str, Any]:
    return {
        "id": pod.id,
        "name": pod.name,
        "region_name": pod.region_name,
        "az": pod.az,
        "pod_az": pod.pod_az,
        "enabled": pod.enabled,
        "weight": pod.weight,
        "tags": pod.tags,
        "health": {
            "state": pod.health_state,
            "last_check": _iso(pod.health_checked_at),
            "latency_ms": pod.health_latency_ms,
            "last_error": pod.health_error,
        },
        "created_at": _iso(pod.created_at),
        "updated_at": _iso(pod.updated_at),
    }


def changed(request: Request) -> None:
    """The pods changed: this process works the microversion ranges out again at once."""
    request.app.state.advertised.clear()
    request.app.state.registry.cache(RouteCache).forget_pods()


def _force(request: Request) -> bool:
    raw = request.query_params.get("force", "false").lower()
    if raw not in ("true", "false"):
        raise ApiError(400, "force must be true or false", "cascade.request.query")
    return raw == "true"


def _not_found(exc: service.PodNotFound) -> ApiError:
    return ApiError(404, str(exc), "cascade.pod.not_found")


async def create(request: Request) -> Response:
    authorize(request, "cascade:pods:create")
    spec = _spec(await json_body(request), creating=True)
    async with session(request) as db:
        try:
            pod = await service.create(db, spec)
            changed(request)
        except service.PodConflict as exc:
            raise ApiError(409, str(exc), "cascade.pod.duplicate") from exc
    location = str(request.url_for("pod", pod_id=pod.id))
    return JSONResponse({"pod": view(pod)}, status_code=201, headers={"Location": location})


async def index(request: Request) -> Response:
    authorize(request, "cascade:pods:list")
    async with session(request) as db:
        found = await service.list_all(db)
    return JSONResponse({"pods": [view(p) for p in found]})


async def show(request: Request) -> Response:
    authorize(request, "cascade:pods:show")
    async with session(request) as db:
        try:
            pod = await service.get(db, request.path_params["pod_id"])
        except service.PodNotFound as exc:
            raise _not_found(exc) from exc
    return JSONResponse({"pod": view(pod)})


async def update(request: Request) -> Response:
    authorize(request, "cascade:pods:update")
    spec = _spec(await json_body(request), creating=False)
    async with session(request) as db:
        try:
            pod = await service.update(db, request.path_params["pod_id"], spec)
            changed(request)
        except service.PodNotFound as exc:
            raise _not_found(exc) from exc
        except service.PodConflict as exc:
            raise ApiError(409, str(exc), "cascade.pod.duplicate") from exc
    return JSONResponse({"pod": view(pod)})


async def delete(request: Request) -> Response:
    authorize(request, "cascade:pods:delete")
    async with session(request) as db:
        try:
            await service.delete(db, request.path_params["pod_id"], force=_force(request))
            changed(request)
        except service.PodNotFound as exc:
            raise _not_found(exc) from exc
        except service.PodInUse as exc:
            raise ApiError(409, str(exc), "cascade.pod.in_use") from exc
    return Response(status_code=204)

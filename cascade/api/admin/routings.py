"""Admin API: `/v1/routings`, where each top resource lives.

- GET /v1/routings lists routings oldest first; filters `resource_type`,
  `pod_id`, `top_id`, `status` (`stale`: the pod no longer has the bottom
  object), `project_id` (another project's: admins only);
  `limit` (1-1000, default 1000) and `marker` (a routing id; unknown: 400).
  A full page carries a `routings_links` "next" link. Non-admins see only
  their own project's routings.
- GET /v1/routings/{id}: one routing (404 if unknown or not the caller's).
- DELETE /v1/routings/{id}: admins only; 204. The bottom object stays.
- POST /v1/routings/{id}/check: admins only; asks the pod whether the bottom
  object is still there and answers 200 with the routing, now `stale` if the
  pod says it is gone (`active` again if found); 503 when the pod cannot tell.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cascade.api.admin import paging
from cascade.api.errors import ApiError
from cascade.api.request import authorize, session
from cascade.context import Context
from cascade.db.models import Routing
from cascade.services import routings as service
from cascade.services import stale


def view(routing: Routing) -> dict[str, Any]:
    return {
        "id": routing.id,
        "resource_type": routing.resource_type,
        "top_id": routing.top_id,
        "pod_id": routing.pod_id,
        "bottom_id": routing.bottom_id,
        "project_id": routing.project_id,
        "status": routing.status,
        "created_at": routing.created_at.isoformat(),
        "updated_at": routing.updated_at.isoformat() if routing.updated_at else None,
    }


def _scope(request: Request, ctx: Context) -> service.Scope:
    if request.app.state.policy.allows("cascade:routings:list_all_projects", ctx):
        return service.Scope(None)
    return service.Scope(ctx.project_id or "")


async def index(request: Request) -> Response:
    ctx = authorize(request, "cascade:routings:list")
    scope = _scope(request, ctx)
    params = request.query_params
    paging.check_query(request, {"resource_type", "pod_id", "top_id", "project_id", "status"})
    project = params.get("project_id")
    if project and scope.project_id is not None and project != scope.project_id:
        raise ApiError(403, "only admins may list another project's routings", "cascade.forbidden")
    filters = service.Filters(
        params.get("resource_type"),
        params.get("pod_id"),
        params.get("top_id"),
        project,
        params.get("status"),
    )
    limit = paging.limit(request)
    async with session(request) as db:
        try:
            found = await service.page(db, scope, filters, limit, params.get("marker"))
        except service.MarkerNotFound as exc:
            raise ApiError(400, str(exc), "cascade.request.marker") from exc
    last = found[-1].id if found else None
    return JSONResponse(
        paging.page_body(request, "routings", [view(r) for r in found], last, limit)
    )


async def show(request: Request) -> Response:
    ctx = authorize(request, "cascade:routings:show")
    async with session(request) as db:
        try:
            found = await service.get(db, request.path_params["routing_id"], _scope(request, ctx))
        except service.RoutingNotFound as exc:
            raise ApiError(404, str(exc), "cascade.routing.not_found") from exc
    return JSONResponse({"routing": view(found)})


async def delete(request: Request) -> Response:
    authorize(request, "cascade:routings:delete")
    async with session(request) as db:
        try:
            await service.delete(db, request.path_params["routing_id"])
        except service.RoutingNotFound as exc:
            raise ApiError(404, str(exc), "cascade.routing.not_found") from exc
    return Response(status_code=204)


async def check(request: Request) -> Response:
    authorize(request, "cascade:routings:check")
    async with session(request) as db:
        try:
            found = await service.get(db, request.path_params["routing_id"], service.Scope(None))
            checked = await stale.check(
                db, request.app.state.registry, found, request.scope["state"]["request_id"]
            )
        except service.RoutingNotFound as exc:
            raise ApiError(404, str(exc), "cascade.routing.not_found") from exc
        except stale.CannotTell as exc:
            raise ApiError(503, str(exc), "cascade.routing.cannot_check") from exc
    return JSONResponse({"routing": view(checked)})

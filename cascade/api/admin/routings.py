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

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cascade.api.admin.common import Refusals, acting, filters, page, shown
from cascade.api.errors import ApiError
from cascade.api.request import authorize
from cascade.context import Context
from cascade.services import routings as service
from cascade.services import stale

REFUSALS: Refusals = {
    service.RoutingNotFound: (404, "cascade.routing.not_found"),
    service.MarkerNotFound: (400, "cascade.request.marker"),
    stale.CannotTell: (503, "cascade.routing.cannot_check"),
}


def _scope(request: Request, ctx: Context) -> service.Scope:
    if request.app.state.policy.allows("cascade:routings:list_all_projects", ctx):
        return service.Scope(None)
    return service.Scope(ctx.project_id or "")


async def index(request: Request) -> Response:
    """GET /v1/routings: 200 with a page of the routings the caller may see, oldest first
    (`sort_dir=desc`: newest first)."""
    scope = _scope(request, authorize(request, "cascade:routings:list"))
    wanted = filters(request, service.FILTERS)
    project = wanted["project_id"]
    if project and scope.project_id is not None and project != scope.project_id:
        raise ApiError(403, "only admins may list another project's routings", "cascade.forbidden")
    return await page(
        request,
        "routings",
        REFUSALS,
        lambda db, limit, marker, newest: service.page(db, scope, wanted, limit, marker, newest),
        shown,
    )


async def show(request: Request) -> Response:
    """GET /v1/routings/{id}: 200 with the routing; 404 if unknown or not the caller's."""
    async with acting(request, "cascade:routings:show", REFUSALS) as (ctx, db):
        found = await service.get(db, request.path_params["routing_id"], _scope(request, ctx))
    return JSONResponse({"routing": shown(found)})


async def delete(request: Request) -> Response:
    """DELETE /v1/routings/{id}: 204 (the bottom object stays); 404 if unknown."""
    async with acting(request, "cascade:routings:delete", REFUSALS) as (_, db):
        await service.delete(db, request.path_params["routing_id"])
    return Response(status_code=204)


async def check(request: Request) -> Response:
    """POST /v1/routings/{id}/check: 200 with the routing as its pod says it is now
    (`stale` when gone); 503 when the pod cannot tell."""
    async with acting(request, "cascade:routings:check", REFUSALS) as (_, db):
        found = await service.get(db, request.path_params["routing_id"], service.Scope(None))
        checked = await stale.check(
            db, request.app.state.registry, found, request.scope["state"]["request_id"]
        )
    return JSONResponse({"routing": shown(checked)})

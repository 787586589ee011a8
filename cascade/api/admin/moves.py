"""Admin API: `/v1/moves`, servers moved between pods (`migrate` to another pod's host,
or a drain). Admins only.

- GET /v1/moves lists moves oldest first; filters `status` (queued, snapshotting,
  booting, verify, confirming, reverting, done, reverted, failed), `top_id`,
  `project_id`, `source_pod_id`, `target_pod_id`; `limit` and `marker`.
- GET /v1/moves/{id}: one move: where it is, the server's id in each pod, the image
  it travels as, and the error of a move that failed (404 if unknown).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cascade.api.admin.common import Refusals, acting, listing, shown
from cascade.services.compute import moves as service

REFUSALS: Refusals = {
    service.MoveNotFound: (404, "cascade.move.not_found"),
    service.MarkerNotFound: (400, "cascade.request.marker"),
}
STATUSES = (*service.UNDER_WAY, *service.FINISHED)


async def index(request: Request) -> Response:
    """GET /v1/moves: 200 with a page of moves, oldest first
    (`sort_dir=desc`: newest first)."""
    choices = {"status": STATUSES}
    return await listing(
        request, "moves", "cascade:moves:list", service.FILTERS, REFUSALS, service.page, choices
    )


async def show(request: Request) -> Response:
    """GET /v1/moves/{id}: 200 with the move; 404 if unknown."""
    async with acting(request, "cascade:moves:show", REFUSALS) as (_, db):
        found = await service.get(db, request.path_params["move_id"])
    return JSONResponse({"move": shown(found)})

"""Admin API: draining a pod (see `services/drains.py`). Admins only.

- POST /v1/pods/{id}/drain, optional body `{"drain": {"azs": [...]}}` (where the pod's
  servers may go; default: the pod's own AZ): 202 with the drain; the pod is
  `draining` from then on. 404 for an unknown pod; 409 when it drains already or no
  other pod of those AZs takes new resources.
- GET /v1/drains lists drains oldest first (filters `pod_id`, `status`; `limit`,
  `marker`); GET /v1/drains/{id} shows one with its `moves` (one per server: where it
  goes, how far it is, its error) and what is `left` with the reason.
- POST /v1/drains/{id}/pause, /resume, /cancel: 202 with the drain; 409 when its
  status does not allow it (a finished drain, a resume of one not paused).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cascade.api.admin.common import Refusals, acting, fields, listing, optional_body, shown
from cascade.api.errors import ApiError
from cascade.db.models import Drain
from cascade.services import drains as service

REFUSALS: Refusals = {
    service.DrainNotFound: (404, "cascade.drain.not_found"),
    service.DrainRefused: (409, "cascade.drain.refused"),
    service.MarkerNotFound: (400, "cascade.request.marker"),
}
CHANGES = {"pause": service.PAUSED, "resume": service.RUNNING, "cancel": service.CANCELLING}
MOVE_FIELDS = ("id", "top_id", "status", "target_pod_id", "target_bottom_id", "error")


async def create(request: Request) -> Response:
    """POST /v1/pods/{id}/drain: 202 with the drain, the pod draining."""
    values = fields(await optional_body(request, "drain"), "drain", ("azs",))
    azs = values.get("azs")
    if azs is not None and (
        not isinstance(azs, list) or not azs or not all(isinstance(a, str) and a for a in azs)
    ):
        raise ApiError(400, "azs must be a list of availability zone names", "cascade.drain.field")
    async with acting(request, "cascade:drains:create", REFUSALS) as (_, db):
        drain = await service.start(db, request.path_params["pod_id"], azs)
    return JSONResponse({"drain": shown(drain)}, status_code=202)


async def index(request: Request) -> Response:
    """GET /v1/drains: 200 with a page of drains, oldest first
    (`sort_dir=desc`: newest first)."""
    choices = {"status": service.STATUSES}
    return await listing(
        request, "drains", "cascade:drains:list", service.FILTERS, REFUSALS, service.page, choices
    )


async def _view(db: Any, drain: Drain) -> dict[str, Any]:
    moves = [shown(m) for m in await service.moves_of(db, drain.id)]
    return {**shown(drain), "moves": [{k: m[k] for k in MOVE_FIELDS} for m in moves]}


async def show(request: Request) -> Response:
    """GET /v1/drains/{id}: 200 with the drain and its moves; 404 if unknown."""
    async with acting(request, "cascade:drains:show", REFUSALS) as (_, db):
        drain = await service.get(db, request.path_params["drain_id"])
        return JSONResponse({"drain": await _view(db, drain)})


async def change(request: Request) -> Response:
    """POST /v1/drains/{id}/pause|resume|cancel: 202 with the drain."""
    to = CHANGES[request.url.path.rstrip("/").rsplit("/", 1)[1]]
    async with acting(request, "cascade:drains:update", REFUSALS) as (_, db):
        drain = await service.change(db, request.path_params["drain_id"], to)
        return JSONResponse({"drain": await _view(db, drain)}, status_code=202)

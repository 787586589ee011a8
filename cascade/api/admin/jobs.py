"""Admin API: `/v1/jobs`, the durable job queue. Admins only.

- GET /v1/jobs lists jobs oldest first; filters `type`, `status` (queued,
  running, done, failed, superseded), `project_id`, `resource_id`; `limit`
  (1-1000, default 1000) and `marker` (a job id; unknown: 400). A full page
  carries a `jobs_links` "next" link.
- GET /v1/jobs/{id}: one job (404 if unknown).
- POST /v1/jobs/{id}/redo: a done, failed or queued job is queued to run now,
  its attempts reset (other queued jobs of the same resource are superseded:
  the latest request wins); 200 with the job. A running or superseded job: 409.
- DELETE /v1/jobs/{id}: only a finished job (done, failed, superseded); 204.
  A queued or running one: 409.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cascade.api.admin import paging
from cascade.api.errors import ApiError
from cascade.api.request import authorize, session
from cascade.db.models import Job
from cascade.jobs import queue
from cascade.services import jobs as service


def _stamp(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def view(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "type": job.type,
        "resource_id": job.resource_id,
        "project_id": job.project_id,
        "payload": job.payload,
        "status": job.status,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts or None,  # None: the worker's [jobs] max_attempts
        "run_after": _stamp(job.run_after),
        "lease_until": _stamp(job.lease_until),
        "leased_by": job.leased_by,
        "last_error": job.last_error,
        "created_at": _stamp(job.created_at),
        "updated_at": _stamp(job.updated_at),
    }


async def index(request: Request) -> Response:
    authorize(request, "cascade:jobs:list")
    params = request.query_params
    paging.check_query(request, {"type", "status", "project_id", "resource_id"})
    status = params.get("status")
    if status is not None and status not in queue.STATUSES:
        raise ApiError(
            400,
            f"status must be one of {', '.join(queue.STATUSES)}",
            "cascade.request.query",
        )
    filters = service.Filters(
        params.get("type"), status, params.get("project_id"), params.get("resource_id")
    )
    limit = paging.limit(request)
    async with session(request) as db:
        try:
            found = await service.page(db, filters, limit, params.get("marker"))
        except service.MarkerNotFound as exc:
            raise ApiError(400, str(exc), "cascade.request.marker") from exc
    last = found[-1].id if found else None
    return JSONResponse(paging.page_body(request, "jobs", [view(j) for j in found], last, limit))


async def show(request: Request) -> Response:
    authorize(request, "cascade:jobs:show")
    async with session(request) as db:
        try:
            found = await service.get(db, request.path_params["job_id"])
        except service.JobNotFound as exc:
            raise ApiError(404, str(exc), "cascade.job.not_found") from exc
    return JSONResponse({"job": view(found)})


async def redo(request: Request) -> Response:
    authorize(request, "cascade:jobs:redo")
    async with session(request) as db:
        try:
            found = await service.redo(db, request.path_params["job_id"])
        except service.JobNotFound as exc:
            raise ApiError(404, str(exc), "cascade.job.not_found") from exc
        except service.JobBusy as exc:
            raise ApiError(409, str(exc), "cascade.job.busy") from exc
    return JSONResponse({"job": view(found)})


async def delete(request: Request) -> Response:
    authorize(request, "cascade:jobs:delete")
    async with session(request) as db:
        try:
            await service.delete(db, request.path_params["job_id"])
        except service.JobNotFound as exc:
            raise ApiError(404, str(exc), "cascade.job.not_found") from exc
        except service.JobBusy as exc:
            raise ApiError(409, str(exc), "cascade.job.busy") from exc
    return Response(status_code=204)

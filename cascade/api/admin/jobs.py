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

from cascade.api.admin.common import Refusals, acting, listing, shown
from cascade.db.models import Job
from cascade.jobs import queue
from cascade.services import jobs as service

REFUSALS: Refusals = {
    service.JobNotFound: (404, "cascade.job.not_found"),
    service.JobBusy: (409, "cascade.job.busy"),
    service.MarkerNotFound: (400, "cascade.request.marker"),
}


def view(job: Job) -> dict[str, Any]:
    # max_attempts None: the worker's [jobs] max_attempts
    return {**shown(job), "max_attempts": job.max_attempts or None}


async def index(request: Request) -> Response:
    """GET /v1/jobs: 200 with a page of jobs, oldest first
    (`sort_dir=desc`: newest first)."""
    choices = {"status": queue.STATUSES}
    return await listing(
        request, "jobs", "cascade:jobs:list", service.FILTERS, REFUSALS, service.page, choices, view
    )


async def show(request: Request) -> Response:
    """GET /v1/jobs/{id}: 200 with the job; 404 if unknown."""
    async with acting(request, "cascade:jobs:show", REFUSALS) as (_, db):
        found = await service.get(db, request.path_params["job_id"])
    return JSONResponse({"job": view(found)})


async def redo(request: Request) -> Response:
    """POST /v1/jobs/{id}/redo: 200 with the job queued to run now; 409 if it runs or
    was superseded."""
    async with acting(request, "cascade:jobs:redo", REFUSALS) as (_, db):
        found = await service.redo(db, request.path_params["job_id"])
    return JSONResponse({"job": view(found)})


async def delete(request: Request) -> Response:
    """DELETE /v1/jobs/{id}: 204; 409 unless the job is finished."""
    async with acting(request, "cascade:jobs:delete", REFUSALS) as (_, db):
        await service.delete(db, request.path_params["job_id"])
    return Response(status_code=204)

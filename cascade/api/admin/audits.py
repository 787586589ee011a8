"""Admin API: `/v1/audits`, the pods compared with what the top records. Admins only.

- GET /v1/audits lists audit runs oldest first; filters `status` (queued, running,
  done, failed), `pod_id`, `trigger` (admin, periodic); `limit` and `marker`.
- POST /v1/audits `{"audit": {"pod_id": ...}}` (no pod: every pod): 202 with the
  audit, queued; its job audits and writes the findings. Unknown pod: 404.
- GET /v1/audits/{id}: the run, with its counts by finding code, the pods audited
  and those that could not be asked (their parts named in `error`).
- DELETE /v1/audits/{id}: a finished audit and its findings go; 204 (409 while it
  runs). Nothing in a pod changes.
- GET /v1/audits/{id}/findings: the findings in the order found; filters `pod_id`,
  `code` (orphan, missing, stale, differs, status), `resource_type`, `severity`
  (error, warning), `repair_status` (queued, done, failed), `project_id`; paged.
- GET /v1/audits/{id}/findings/{finding_id}: one finding.
- POST /v1/audits/{id}/findings/{finding_id}/repair, optional body
  `{"repair": {"action": ...}}` (one of the finding's `repairs`, else its first):
  202 with the finding, its repair queued as a job; 400 for an action it does not
  offer, 409 when its repair is queued or done already.
- POST /v1/audits/{id}/repair `{"repair": {"code": ..., "resource_type": ...,
  "pod_id": ..., "action": ...}}` (`code` required): the repair of every such
  finding not queued or done is queued; 202 with them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cascade.api.admin.common import Refusals, acting, fields, listing, optional_body, shown
from cascade.api.errors import ApiError
from cascade.db.models import AuditFinding
from cascade.services.audit import checks
from cascade.services.audit import runs as service

REFUSALS: Refusals = {
    service.AuditNotFound: (404, "cascade.audit.not_found"),
    service.FindingNotFound: (404, "cascade.audit.finding_not_found"),
    service.AuditBusy: (409, "cascade.audit.busy"),
    service.BadRepair: (400, "cascade.audit.repair"),
    service.MarkerNotFound: (400, "cascade.request.marker"),
}
CHOICES = {
    "status": service.STATUSES,
    "trigger": (service.ADMIN, service.PERIODIC),
    "code": checks.CODES,
    "severity": checks.SEVERITIES,
    "repair_status": service.STATUSES,
    "action": checks.ACTIONS,
}


def _checked(values: dict[str, Any]) -> dict[str, Any]:
    """400 for a value outside a field's choices, or one that is not a string."""
    for name, value in values.items():
        if value is None:
            continue
        if not isinstance(value, str):
            raise ApiError(400, f"{name} must be a string", "cascade.request.body")
        if name in CHOICES and value not in CHOICES[name]:
            message = f"{name} must be one of {', '.join(CHOICES[name])}"
            raise ApiError(400, message, "cascade.request.query")
    return values


async def index(request: Request) -> Response:
    """GET /v1/audits: 200 with a page of audit runs, oldest first
    (`sort_dir=desc`: newest first)."""
    return await listing(
        request, "audits", "cascade:audits:list", service.FILTERS, REFUSALS, service.page, CHOICES
    )


async def create(request: Request) -> Response:
    """POST /v1/audits: 202 with the audit, queued."""
    values = _checked(fields(await optional_body(request, "audit"), "audit", ("pod_id",)))
    async with acting(request, "cascade:audits:create", REFUSALS) as (_, db):
        made = await service.start(db, values.get("pod_id"))
    return JSONResponse({"audit": shown(made)}, status_code=202)


async def show(request: Request) -> Response:
    """GET /v1/audits/{id}: 200 with the audit; 404 if unknown."""
    async with acting(request, "cascade:audits:show", REFUSALS) as (_, db):
        found = await service.get(db, request.path_params["audit_id"])
    return JSONResponse({"audit": shown(found)})


async def delete(request: Request) -> Response:
    """DELETE /v1/audits/{id}: 204; 409 unless it is finished."""
    async with acting(request, "cascade:audits:delete", REFUSALS) as (_, db):
        await service.remove(db, request.path_params["audit_id"])
    return Response(status_code=204)


async def findings(request: Request) -> Response:
    """GET /v1/audits/{id}/findings: 200 with a page of its findings."""
    audit_id = request.path_params["audit_id"]

    async def read(
        db: AsyncSession,
        wanted: Mapping[str, str | None],
        limit: int,
        marker: str | None,
        newest_first: bool,
    ) -> list[AuditFinding]:
        return await service.findings(db, audit_id, wanted, limit, marker, newest_first)

    rule, table = "cascade:audits:findings", service.FINDING_FILTERS
    return await listing(request, "findings", rule, table, REFUSALS, read, CHOICES)


async def finding(request: Request) -> Response:
    """GET /v1/audits/{id}/findings/{finding_id}: 200 with the finding; 404 if unknown."""
    async with acting(request, "cascade:audits:findings", REFUSALS) as (_, db):
        found = await service.finding(
            db, request.path_params["audit_id"], request.path_params["finding_id"]
        )
    return JSONResponse({"finding": shown(found)})


async def _repair_fields(request: Request, known: tuple[str, ...]) -> dict[str, Any]:
    return _checked(fields(await optional_body(request, "repair"), "repair", known))


async def repair(request: Request) -> Response:
    """POST /v1/audits/{id}/findings/{finding_id}/repair: 202 with the finding."""
    values = await _repair_fields(request, ("action",))
    async with acting(request, "cascade:audits:repair", REFUSALS) as (_, db):
        found = await service.repair(
            db,
            request.path_params["audit_id"],
            request.path_params["finding_id"],
            values.get("action"),
        )
    return JSONResponse({"finding": shown(found)}, status_code=202)


async def repair_all(request: Request) -> Response:
    """POST /v1/audits/{id}/repair: 202 with the findings whose repair was queued."""
    values = await _repair_fields(request, ("code", "resource_type", "pod_id", "action"))
    if not values.get("code"):
        raise ApiError(400, "repair needs a finding code", "cascade.request.body")
    wanted = {k: v for k, v in values.items() if k != "action"}
    async with acting(request, "cascade:audits:repair", REFUSALS) as (_, db):
        queued = await service.repair_all(
            db, request.path_params["audit_id"], wanted, values.get("action")
        )
    return JSONResponse({"findings": [shown(f) for f in queued]}, status_code=202)

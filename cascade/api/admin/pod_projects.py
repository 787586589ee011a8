"""Admin API: the top projects mapped into an independent pod (`services/pod_projects.py`).
Admins only (policy `cascade:pod_projects:*`).

- GET /v1/pods/{id}/projects: 200 with `projects`, each `project_id` (the top's),
  `pod_project_id` (the pod's) and `created_at`, oldest first. 404 for an unknown pod.
- PUT /v1/pods/{id}/projects/{project_id} with `{"project": {"pod_project_id": ...}}`:
  200 with the mapping: the top project is the pod's existing project from then on
  (instead of one Cascade makes). 400 for a shared pod, a project the top's Keystone
  does not know or one the pod's does not; 409 when that pod project stands for another
  top project, or when the top project has objects in the pod already.
- DELETE /v1/pods/{id}/projects/{project_id}: 204; 404 if not mapped; 409 while the
  project has objects in the pod.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cascade.api.admin.common import Refusals, acting, fields
from cascade.api.errors import ApiError
from cascade.api.request import json_body
from cascade.db.models import PodProject
from cascade.identity import KeystoneUnavailable
from cascade.services import pod_projects as service
from cascade.services import pods

REFUSALS: Refusals = {
    pods.PodNotFound: (404, "cascade.pod.not_found"),
    service.MappingNotFound: (404, "cascade.pod_project.not_found"),
    service.MappingRefused: (400, "cascade.pod_project.refused"),
    service.MappingInUse: (409, "cascade.pod_project.in_use"),
}


def _changed(request: Request, pod_id: str) -> None:
    """This process reads the pod's mappings again at once (the others within `[pods]
    catalog_ttl`)."""
    projects = request.app.state.registry.projects
    if projects is not None:
        projects.forget(pod_id)


def view(row: PodProject) -> dict[str, Any]:
    return {
        "project_id": row.project_id,
        "pod_project_id": row.pod_project_id,
        "created_at": row.created_at.isoformat(),
    }


async def index(request: Request) -> Response:
    """GET /v1/pods/{id}/projects: 200 with the pod's mapped projects."""
    async with acting(request, "cascade:pod_projects:list", REFUSALS) as (_, db):
        pod = await pods.get(db, request.path_params["pod_id"])
        found = await service.mappings(db, pod.id)
    return JSONResponse({"projects": [view(r) for r in found]})


async def update(request: Request) -> Response:
    """PUT /v1/pods/{id}/projects/{project_id}: 200 with the mapping."""
    values = fields(await json_body(request), "project", ("pod_project_id",))
    wanted = values.get("pod_project_id")
    if not isinstance(wanted, str) or not 1 <= len(wanted) <= 64:
        message = "pod_project_id must be a project id of the pod"
        raise ApiError(400, message, "cascade.pod_project.field")
    registry = request.app.state.registry
    project_id = request.path_params["project_id"]
    async with acting(request, "cascade:pod_projects:update", REFUSALS) as (_, db):
        pod = await pods.get(db, request.path_params["pod_id"])
        await db.commit()  # no connection held while the Keystones answer
        try:
            await service.check_mapping(registry, pod, project_id, wanted)
        except KeystoneUnavailable as exc:
            message = f"pod {pod.name}: its Keystone or the top's cannot be asked: {exc}"
            raise ApiError(503, message, "cascade.pod.unavailable") from exc
        row = await service.set_mapping(db, pod, project_id, wanted)
        await db.commit()
    _changed(request, pod.id)
    return JSONResponse({"project": view(row)})


async def delete(request: Request) -> Response:
    """DELETE /v1/pods/{id}/projects/{project_id}: 204."""
    async with acting(request, "cascade:pod_projects:delete", REFUSALS) as (_, db):
        pod = await pods.get(db, request.path_params["pod_id"])
        await service.unmap(db, pod, request.path_params["project_id"])
        await db.commit()
    _changed(request, pod.id)
    return Response(status_code=204)

"""The admin API's routes, under `/v1`: one table (see `api.routing`)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from cascade.api.admin import (
    audits,
    bindings,
    drains,
    image_copies,
    jobs,
    moves,
    pod_projects,
    pods,
    routings,
    versions,
)
from cascade.api.routing import Declarations, declared

ROUTES: Declarations = {
    "/v1/pods": {"GET": pods.index, "POST": pods.create},
    "/v1/pods/{pod_id}": {"GET": pods.show, "PATCH": pods.update, "DELETE": pods.delete},
    "/v1/bindings": {"GET": bindings.index, "POST": bindings.create},
    "/v1/bindings/{binding_id}": {"GET": bindings.show, "DELETE": bindings.delete},
    "/v1/routings": {"GET": routings.index},
    "/v1/routings/{routing_id}": {"GET": routings.show, "DELETE": routings.delete},
    "/v1/routings/{routing_id}/check": {"POST": routings.check},
    "/v1/jobs": {"GET": jobs.index},
    "/v1/jobs/{job_id}": {"GET": jobs.show, "DELETE": jobs.delete},
    "/v1/jobs/{job_id}/redo": {"POST": jobs.redo},
    "/v1/pods/{pod_id}/drain": {"POST": drains.create},
    "/v1/pods/{pod_id}/projects": {"GET": pod_projects.index},
    "/v1/images/{image_id}/copies": {"GET": image_copies.index, "POST": image_copies.create},
    "/v1/pods/{pod_id}/projects/{project_id}": {
        "PUT": pod_projects.update,
        "DELETE": pod_projects.delete,
    },
    "/v1/drains": {"GET": drains.index},
    "/v1/drains/{drain_id}": {"GET": drains.show},
    "/v1/drains/{drain_id}/pause": {"POST": drains.change},
    "/v1/drains/{drain_id}/resume": {"POST": drains.change},
    "/v1/drains/{drain_id}/cancel": {"POST": drains.change},
    "/v1/moves": {"GET": moves.index},
    "/v1/moves/{move_id}": {"GET": moves.show},
    "/v1/audits": {"GET": audits.index, "POST": audits.create},
    "/v1/audits/{audit_id}": {"GET": audits.show, "DELETE": audits.delete},
    "/v1/audits/{audit_id}/repair": {"POST": audits.repair_all},
    "/v1/audits/{audit_id}/findings": {"GET": audits.findings},
    "/v1/audits/{audit_id}/findings/{finding_id}": {"GET": audits.finding},
    "/v1/audits/{audit_id}/findings/{finding_id}/repair": {"POST": audits.repair},
}


def routes() -> list[BaseRoute]:
    """The version document at `/`, then the admin resources."""
    return declared("", {"/": {"GET": versions.root}, **ROUTES}, {"/v1/pods/{pod_id}": "pod"})

"""Networking quotas at the top (`/v2.0/quotas`), enforced on the top's own objects.

- GET /quotas (admin): the projects with limits of their own.
- GET /quotas/{project}: the project's limits (its own project, or any for admins).
- GET /quotas/{project}/default: the defaults; /details: limit, used and reserved.
- PUT /quotas/{project} (admin): set limits (-1: unlimited), 200 with all of them.
- DELETE /quotas/{project} (admin): back to the defaults, 204.
- GET /quotas/tenant: the caller's project id.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.network.common import caller, json_body, reply
from cascade.services.network import quotas
from cascade.services.network.access import Caller, authorize
from cascade.services.network.errors import BadRequest, Forbidden


def _readable(who: Caller, project_id: str) -> None:
    """Another project's quotas only where `get_quota` allows it (asked on the caller's
    own project, as Neutron asks it; by default admins, and a project's managers)."""
    if project_id != who.project_id:
        authorize(who, "get_quota")


async def index(request: Request) -> Response:
    """Every project's quotas that differ from the defaults: `get_quota`, as Neutron."""
    async with caller(request) as who:
        authorize(who, "get_quota")
        out = []
        for project in await quotas.projects_with_limits(who.db):
            limits = await quotas.limits(who.db, who.conf, project)
            out.append({**limits, "project_id": project, "tenant_id": project})
    return reply({"quotas": out})


async def tenant(request: Request) -> Response:
    async with caller(request) as who:
        return reply({"tenant": {"tenant_id": who.project_id}})


async def show(request: Request) -> Response:
    project = request.path_params["project_id"]
    async with caller(request) as who:
        _readable(who, project)
        return reply({"quota": await quotas.limits(who.db, who.conf, project)})


async def defaults(request: Request) -> Response:
    project = request.path_params["project_id"]
    async with caller(request) as who:
        _readable(who, project)
        return reply({"quota": quotas.defaults(who.conf)})


async def details(request: Request) -> Response:
    project = request.path_params["project_id"]
    async with caller(request) as who:
        # Neutron's own check here (`context.is_admin`, no rule of its own)
        if not who.is_admin and project != who.project_id:
            raise Forbidden(
                "User does not have admin privileges: Only admin is authorized to access "
                "quotas for another project",
                type="AdminRequired",
            )
        limits = await quotas.limits(who.db, who.conf, project)
        used = await quotas.usage(who.db, project)
    body = {k: {"limit": v, "used": used[k], "reserved": 0} for k, v in limits.items()}
    return reply({"quota": body})


def _values(body: Any) -> dict[str, int]:
    if not isinstance(body, dict) or not isinstance(body.get("quota"), dict):
        raise BadRequest("Invalid input for operation: a body {'quota': {...}} is required.")
    out = {}
    for name, value in body["quota"].items():
        if name not in quotas.RESOURCES:
            raise BadRequest(f"Unrecognized attribute(s) '{name}'")
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise BadRequest(
                f"Invalid input for {name}. Reason: '{value}' is not an integer."
            ) from None
        if number < -1:
            raise BadRequest(
                f"Invalid input for {name}. Reason: '{value}' should be greater or equal to -1."
            )
        out[name] = number
    return out


async def update(request: Request) -> Response:
    project = request.path_params["project_id"]
    body = await json_body(request)
    async with caller(request) as who:
        authorize(who, "update_quota")
        await quotas.update(who.db, project, _values(body))
        return reply({"quota": await quotas.limits(who.db, who.conf, project)})


async def delete(request: Request) -> Response:
    project = request.path_params["project_id"]
    async with caller(request) as who:
        authorize(who, "delete_quota")
        await quotas.reset(who.db, project)
    return reply(None, 204)

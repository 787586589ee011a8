"""Compute quota sets (os-quota-sets), kept at the top, as Nova answers them.

- GET /os-quota-sets/{project_id}: 200, the project's limits (its own over
  the defaults: the quota class `default` over `[quota]`) with its `id`.
  With `?user_id=` the user's limits: their own over the project's.
- GET /os-quota-sets/{project_id}/detail: 200, each resource as
  `{"in_use", "limit", "reserved": 0}`; `in_use` is summed over every pod
  (the caller's own keypairs, kept at the top, for `key_pairs` of their own
  project). With `?user_id=` the user's limits and what the user uses: each
  pod's own per-user count, asked with Cascade's service token, and the
  user's keypairs (to the user themself and to those who may see other
  users' keypairs; 0 to others, as Nova always shows).
- GET /os-quota-sets/{project_id}/defaults: 200, the defaults.
- PUT /os-quota-sets/{project_id}[?user_id=] (admins): sets the project's
  (or the user's) limits, integers or integer strings from -1 (unlimited);
  an unknown key or a bad value is Nova's 400. Unless `"force": true`, a
  limit Nova would not allow is 400: a project's below what the pods count
  in use or below the sum of its users' limits, a user's below what the user
  uses or above what the project has left for them. 200 with the new limits
  (no `id`, as Nova).
- DELETE /os-quota-sets/{project_id} (admins): the project's limits and its
  users' go, back to the defaults; with `?user_id=` only the user's. 202
  without a body.

Members read only their own project's quotas; another's is Nova's 403.
Fields per microversion, as Nova: `fixed_ips`, `floating_ips`,
`security_groups` and `security_group_rules` (-1) only before 2.36,
`injected_file*` before 2.57. From 2.75 an unknown query parameter is 400.
Answers that needed the pods' usage name those that did not answer in
`X-Cascade-Unavailable-Pods`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from cascade.api.compute import schemas
from cascade.api.compute.errors import ComputeError
from cascade.api.compute.forward import caller_for
from cascade.api.compute.limits import check_query, hidden
from cascade.api.compute.versions import negotiated
from cascade.api.handlers import authorize, reply
from cascade.api.request import context, session
from cascade.pods.fanout import unavailable_header
from cascade.services import quota_core
from cascade.services.compute import quotas
from cascade.versions import Version

KEYPAIRS = "os_compute_api:os-keypairs:index"  # who may count another user's keypairs
TRUE_STRINGS = ("1", "t", "true", "on", "y", "yes")  # oslo strutils.bool_from_string


def bad(message: str) -> ComputeError:
    return ComputeError(400, message)


def settable(version: Version) -> list[str]:
    """The resources a quota set has at `version`, in Nova's schema order."""
    return [r for r in quotas.RESOURCES if r not in hidden(version)]


def shown(version: Version) -> list[str]:
    """The resources a quota set has at `version`, in Nova's (sorted) order."""
    return sorted(settable(version))


def quota_set(
    values: dict[str, Any], names: list[str], given_id: str | None, key: str = "quota_set"
) -> dict[str, Any]:
    """`{key: {"id": given_id, name: value, ...}}` of `names` (no id when None)."""
    found: dict[str, Any] = {"id": given_id} if given_id is not None else {}
    return {key: found | {r: values[r] for r in names}}


def authorize_project(request: Request, rule: str, project_id: str) -> None:
    """`rule`; another project than the caller's needs `cascade:quotas:other_projects`
    too (check strings cannot compare projects); refused, it is the 403 Nova gives for
    `rule`."""
    authorize(request, rule, {"project_id": project_id})


async def parse_update(request: Request, version: Version) -> tuple[dict[str, int], bool]:
    """The limits a PUT body sets and its `force`; Nova's 400 when it breaks the schema."""
    schema = schemas.quota_update("quota_set", settable(version), force=True)
    given: dict[str, Any] = (await schemas.body(request, schema))["quota_set"]
    force = str(given.pop("force", "False")).lower() in TRUE_STRINGS
    return {k: int(v) for k, v in given.items()}, force


async def _asked(request: Request) -> tuple[Version, str, str | None]:
    """The request's microversion, project and user: the first `?user_id=`, none when
    empty, as Nova (the project's then). From 2.75 another query parameter is 400."""
    version = await negotiated(request)
    check_query(request, ("user_id",), version)
    users = request.query_params.getlist("user_id")
    return version, request.path_params["project_id"], users[0] if users and users[0] else None


async def _usage(
    request: Request, db: AsyncSession, version: Version, project_id: str, user_id: str | None
) -> quota_core.Usage:
    """What the project uses over every pod, asked with the caller's token (`key_pairs`:
    the caller's own, in their own project); with `user_id` what the user uses in it,
    asked with the service token (`key_pairs` only to the user and those who may see
    other users' keypairs)."""
    ctx = context(request)
    caller = caller_for(request, version)
    registry = request.app.state.registry
    own = project_id == ctx.project_id
    if user_id is None:
        mine = ctx.user_id if own else None
        return await quotas.usage(db, registry, caller, project_id, own_project=own, user_id=mine)
    return await quotas.user_usage(
        db,
        registry,
        project_id,
        user_id,
        request_id=caller.request_id,
        keypairs=request.app.state.policy.allows(KEYPAIRS, ctx, {"user_id": user_id}),
    )


async def show(request: Request) -> Response:
    """GET /os-quota-sets/{project_id}[?user_id=]: 200 with the project's (or the user's)
    limits and the project's id."""
    return await _read(request, "show")


async def detail(request: Request) -> Response:
    """GET /os-quota-sets/{project_id}/detail[?user_id=]: 200 with limit, in_use and
    reserved, of the project or of the user in it."""
    return await _read(request, "detail")


async def _read(request: Request, what: str) -> Response:
    version, project_id, user_id = await _asked(request)
    authorize_project(request, f"os_compute_api:os-quota-sets:{what}", project_id)
    unavailable: list[str] = []
    async with session(request) as db:
        values: dict[str, Any] = await quotas.user_limits(
            db, request.app.state.conf.quota, project_id, user_id
        )
        if what == "detail":
            found = await _usage(request, db, version, project_id, user_id)
            values = quota_core.detail(values, found.counts)
            unavailable = found.unavailable
    return reply(
        quota_set(values, shown(version), project_id), headers=unavailable_header(unavailable)
    )


async def defaults(request: Request) -> Response:
    """GET /os-quota-sets/{project_id}/defaults: 200 with the defaults (the quota class
    `default` over `[quota]`)."""
    version = await negotiated(request)
    project_id = request.path_params["project_id"]
    authorize(request, "os_compute_api:os-quota-sets:defaults")
    async with session(request) as db:
        values = await quotas.default_limits(db, request.app.state.conf.quota)
    return reply(quota_set(values, shown(version), project_id))


async def update(request: Request) -> Response:
    """PUT /os-quota-sets/{project_id}[?user_id=]: 200 with the project's (or the user's)
    new limits (admins).

    As in Nova the body is checked before the policy; a limit Nova would not
    allow (under what is in use, past the project's room for a user, under
    the users' sum for a project) is 400 unless forced."""
    version, project_id, user_id = await _asked(request)
    values, force = await parse_update(request, version)
    authorize(request, "os_compute_api:os-quota-sets:update")
    unavailable: list[str] = []
    async with session(request) as db:
        in_use = None
        if not force and quotas.needs_usage(values):
            found = await _usage(request, db, version, project_id, user_id)
            in_use, unavailable = found.counts, found.unavailable
        try:
            conf = request.app.state.conf.quota
            limits = await quotas.update(
                db, conf, project_id, values, in_use, user_id=user_id, force=force
            )
        except quotas.InvalidQuota as exc:
            raise bad(exc.message) from exc
    return reply(quota_set(limits, shown(version), None), headers=unavailable_header(unavailable))


async def delete(request: Request) -> Response:
    """DELETE /os-quota-sets/{project_id}[?user_id=]: 202 (admins); the project and its
    users are back on the defaults, or the user on the project's limits."""
    _, project_id, user_id = await _asked(request)
    authorize(request, "os_compute_api:os-quota-sets:delete")
    async with session(request) as db:
        await quotas.delete(db, project_id, user_id=user_id)
    return reply(None, status=202)

"""Block Storage quotas and limits, answered at the top (see `services.volume_quotas`).

- GET /os-quota-sets/{project}: the project's limits (a member: its own
  project only, else Cinder's 403); `?usage=True` shows each as `limit`,
  `in_use` (summed over the pods) and `reserved`. GET .../defaults: the
  defaults.
- PUT /os-quota-sets/{project} (admin): 200 with the new limits; an unknown
  key, a value out of range, or a limit below what is in use is Cinder's 400.
  DELETE (admin): 200, the project is back on the defaults.
- GET /limits: Cinder's absolute limits with the usage summed over the pods.
- `over_quota`: a create the top refuses before any pod is called, Cinder's 413.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.request import context, session
from cascade.api.volume.common import authorize, json_body, negotiated, reply
from cascade.api.volume.errors import VolumeError
from cascade.services import quota_core
from cascade.services.volume import quotas as volume_quotas

ABSOLUTE = {
    "maxTotalVolumes": "volumes",
    "maxTotalSnapshots": "snapshots",
    "maxTotalVolumeGigabytes": "gigabytes",
    "maxTotalBackups": "backups",
    "maxTotalBackupGigabytes": "backup_gigabytes",
}
TOTALS = {
    "totalVolumesUsed": "volumes",
    "totalGigabytesUsed": "gigabytes",
    "totalSnapshotsUsed": "snapshots",
    "totalBackupsUsed": "backups",
    "totalBackupGigabytesUsed": "backup_gigabytes",
}


class OverLimit(VolumeError):
    """Cinder's 413 for a quota: `retryAfter` in the body and `Retry-After: 0`."""

    def body(self) -> dict[str, Any]:
        return {"overLimit": {"code": 413, "message": self.message, "retryAfter": "0"}}


def over_quota(exc: volume_quotas.OverQuota) -> OverLimit:
    return OverLimit(413, exc.message, {"Retry-After": "0"})


async def read(request: Request, project: str) -> tuple[dict[str, int], quota_core.Usage]:
    """The project's limits and what it uses over the pods."""
    request_id = str(request.scope.get("state", {}).get("request_id", ""))
    async with session(request) as db:
        limit = await volume_quotas.limits(db, request.app.state.conf.volume, project)
        usage = await volume_quotas.usage(db, request.app.state.registry, project, request_id)
    return limit, usage


async def check_extend(request: Request, new_size: int, grow: int) -> None:
    """An `os-extend` has room in the caller's project, else Cinder's 413."""
    limit, usage = await read(request, context(request).project_id or "")
    try:
        volume_quotas.check_extend(limit, usage.counts, new_size, grow)
    except volume_quotas.OverQuota as exc:
        raise over_quota(exc) from exc


def _project(request: Request, rule: str) -> str:
    ctx = context(request)
    project = str(request.path_params["project_id"])
    if project != ctx.project_id:
        authorize(request, rule)
    return project


async def show(request: Request) -> Response:
    await negotiated(request)
    project = _project(request, "volume_extension:quotas:show")
    if request.query_params.get("usage", "").lower() in ("true", "1", "yes", "on"):
        limit, usage = await read(request, project)
        values: dict[str, Any] = quota_core.detail(limit, usage.counts)
    else:
        async with session(request) as db:
            values = await volume_quotas.limits(db, request.app.state.conf.volume, project)
    return reply({"quota_set": {**values, "id": project}})


async def defaults(request: Request) -> Response:
    await negotiated(request)
    project = str(request.path_params["project_id"])
    async with session(request) as db:
        found = await volume_quotas.defaults(db, request.app.state.conf.volume)
    return reply({"quota_set": {**found, "id": project}})


async def update(request: Request) -> Response:
    await negotiated(request)
    authorize(request, "volume_extension:quotas:update")
    project = str(request.path_params["project_id"])
    body = await json_body(request)
    async with session(request) as db:
        try:
            values = volume_quotas.checked_values(await volume_quotas.keys(db), body)
        except ValueError as exc:
            raise VolumeError(400, str(exc)) from exc
    _, usage = await read(request, project)
    for key, value in values.items():
        in_use = usage.counts.get(key, 0)
        if value != volume_quotas.UNLIMITED and value < in_use:
            raise VolumeError(
                400,
                f"Quota {key} limit must be equal or greater than existing resources. Current "
                f"usage is {in_use} and the requested limit is {value}.",
            )
    async with session(request) as db:
        await quota_core.update(db, volume_quotas.PREFIX, project, values)
        found = await volume_quotas.limits(db, request.app.state.conf.volume, project)
    return reply({"quota_set": found})


async def delete(request: Request) -> Response:
    await negotiated(request)
    authorize(request, "volume_extension:quotas:delete")
    async with session(request) as db:
        await quota_core.reset(db, volume_quotas.PREFIX, request.path_params["project_id"])
    return reply(None, 200)


async def limits(request: Request) -> Response:
    await negotiated(request)
    limit, usage = await read(request, context(request).project_id or "")
    absolute = {key: limit[name] for key, name in ABSOLUTE.items()}
    absolute.update({key: usage.counts.get(name, 0) for key, name in TOTALS.items()})
    return reply({"limits": {"rate": [], "absolute": absolute}})

"""Block Storage quotas and limits, answered at the top (see `services.volume_quotas`).

- GET /os-quota-sets/{project}: the project's limits (a member: its own
  project only, else Cinder's 403); `?usage=True` shows each as `limit`,
  `in_use` (summed over the pods) and `reserved`. GET .../defaults: the
  defaults.
- PUT /os-quota-sets/{project} (admin): 200 with the new limits; an unknown
  key, a value out of range, or a limit below what is in use is Cinder's 400.
  DELETE (admin): 200, the project is back on the defaults.
- GET /os-quota-class-sets/{class}, PUT (admins): a quota class's limits, as
  Cinder keeps them; the class `default`'s are every project's defaults.
- GET /limits: Cinder's absolute limits with the usage summed over the pods.
- `over_quota`: a create the top refuses before any pod is called, Cinder's 413.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.request import context, session
from cascade.api.volume import schemas
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


# cinder/api/schemas/quota_classes.py (its `quota_class_set` format's key check aside)
CLASS_SET: schemas.Schema = {
    "type": "object",
    "properties": {
        "quota_class_set": {
            "type": "object",
            "patternProperties": {
                "^[a-zA-Z0-9-_:. ]{1,300}$": {
                    "type": ["integer", "string"],
                    "pattern": "^[0-9]*$",
                    "minimum": -1,
                    "minLength": 1,
                    "maximum": schemas.DB_MAX_INT,
                }
            },
            "additionalProperties": False,
        }
    },
    "required": ["quota_class_set"],
    "additionalProperties": False,
}
MAX_CLASS_NAME = 255


async def show_class(request: Request) -> Response:
    """GET /os-quota-class-sets/{class} (admins): 200 with the class's limits (its own,
    else the defaults) and its name as `id`."""
    await negotiated(request)
    authorize(request, "volume_extension:quota_classes:get")
    name = str(request.path_params["class_name"])
    async with session(request) as db:
        found = await volume_quotas.class_limits(db, request.app.state.conf.volume, name)
    return reply({"quota_class_set": {**found, "id": name}})


async def update_class(request: Request) -> Response:
    """PUT /os-quota-class-sets/{class} (admins) `{"quota_class_set": {name: limit}}`: 200
    with the class's limits (no `id`). Cinder's order: the body (an unknown name, a
    value that is not an integer from -1), then the policy, then the class name
    (1 to 255 characters). The class `default` is every project's default."""
    await negotiated(request)
    body = await json_body(request)
    entity = body.get("quota_class_set") if isinstance(body, dict) else None
    if isinstance(entity, dict):
        async with session(request) as db:
            known = set(await volume_quotas.keys(db))
        bad = [key for key in entity if key not in known]
        if bad:
            raise VolumeError(
                400, f"Invalid input received: Bad key(s) in quota class set: {', '.join(bad)}"
            )
    schemas.check(CLASS_SET, body)
    authorize(request, "volume_extension:quota_classes:update")
    name = str(request.path_params["class_name"])
    if len(name) > MAX_CLASS_NAME:
        raise VolumeError(
            400,
            f"Invalid input received: quota_class_name has {len(name)} characters, more "
            f"than {MAX_CLASS_NAME}.",
        )
    values = {str(k): int(v) for k, v in body["quota_class_set"].items()}
    async with session(request) as db:
        found = await volume_quotas.update_class(db, request.app.state.conf.volume, name, values)
    return reply({"quota_class_set": found})


async def limits(request: Request) -> Response:
    await negotiated(request)
    limit, usage = await read(request, context(request).project_id or "")
    absolute = {key: limit[name] for key, name in ABSOLUTE.items()}
    absolute.update({key: usage.counts.get(name, 0) for key, name in TOTALS.items()})
    return reply({"limits": {"rate": [], "absolute": absolute}})

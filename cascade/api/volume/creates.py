"""Creates that place a new object in a pod: volumes, groups, and what is made in its
parent's pod (snapshots, backups, group snapshots, attachments). Where each goes and
how its routing is written is the `services.volume_create` workflow's; the pod's
answer (202) comes back as the top's, a refusal with the pod named."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.request import session
from cascade.api.volume import asking, schemas
from cascade.api.volume.common import (
    POD_HEADER,
    answered,
    json_body,
    negotiated,
    pod_path,
    project_of,
    relay,
    reply,
    send,
)
from cascade.api.volume.errors import VolumeError
from cascade.api.volume.routed import locate, size_of
from cascade.db.models import Pod
from cascade.services import resources, routings
from cascade.services import routed as routed_service
from cascade.services.compute.servers import SERVER
from cascade.services.volume import create as volume_create
from cascade.services.volume import volumes as volume_service
from cascade.versions import Version

GROUPS = Version(3, 13)


def _bad(message: str) -> VolumeError:
    return VolumeError(400, message)


def entity_of(body: Any, key: str) -> dict[str, Any]:
    if not isinstance(body, dict) or key not in body:
        raise _bad(f"'{key}' is a required property")
    if not isinstance(body[key], dict):
        raise _bad(f"{body[key]!r} is not of type 'object'")
    entity: dict[str, Any] = body[key]
    return entity


async def asked(
    request: Request, key: str, since: Version | None = None, required: str | None = None
) -> tuple[Version, Any, dict[str, Any]]:
    """A create's microversion (below `since`: Cinder's 404), body and its object at `key`
    (Cinder's 400 without one, or without its `required` field, or where Cinder's schema
    for it refuses a field: `schemas.CREATES`)."""
    version = await negotiated(request, since)
    body = await json_body(request)
    entity = entity_of(body, key)
    if key in schemas.CREATES:
        schemas.check(schemas.CREATES[key], body)
    if required and not entity.get(required):
        raise _bad(f"'{required}' is a required property")
    return version, body, entity


async def create_in(
    request: Request,
    kind: str,
    pod: Pod,
    body: dict[str, Any],
    version: Version,
    path: str | None = None,
    quota: volume_create.Quota | None = None,
) -> Response:
    """The create sent to `pod` (at `path`, else the kind's) with its routing intent
    written first, `quota` checked again and reserved with it (`volume_create.create_in`)."""
    async with asking.flow(request, version) as (env, db, ask):
        resp = await volume_create.create_in(env, db, ask, kind, pod, body, path, quota)
    return await relay(request, pod, resp)


async def volume(request: Request) -> Response:
    """POST /volumes: 202 with the new volume (`volume_create.create_volume`)."""
    version, body, _ = await asked(request, "volume")
    async with asking.flow(request, version) as (env, db, ask):
        made = await volume_create.create_volume(env, db, ask, body)
    return await relay(request, made.pod, made.resp)


async def group(request: Request) -> Response:
    """POST /groups (3.13+): 202 with the new group (`volume_create.create_group`)."""
    version, body, entity = await asked(request, "group", GROUPS, "group_type")
    wanted = entity.get("volume_types")
    if not isinstance(wanted, list) or not wanted:
        raise _bad("'volume_types' is a required property")
    async with asking.flow(request, version) as (env, db, ask):
        made = await volume_create.create_group(env, db, ask, body)
    return await relay(request, made.pod, made.resp)


async def group_from_source(request: Request) -> Response:
    """POST /groups/action `create-from-src` (3.14+): in the pod of the source group or
    group snapshot; the new group's routing is recorded from the pod's answer."""
    version, body, entity = await asked(request, "create-from-src", Version(3, 14))
    named = [key for key, _ in volume_create.GROUP_SOURCES if entity.get(key)]
    if len(named) != 1:
        raise _bad("Either 'group_snapshot_id' or 'source_group_id' must be provided.")
    async with asking.flow(request, version) as (env, db, ask):
        pod = await volume_create.pod_for(env, db, ask, entity, sources=volume_create.GROUP_SOURCES)
    return await create_in(request, volume_service.GROUP, pod, body, version, path="/groups/action")


def in_parent(resource: resources.Resource) -> Callable[[Request], Awaitable[Response]]:
    """POST /<collection> of a kind made in its parent's pod (snapshots and backups in their
    volume's, group snapshots in their group's): the parent located first (its 404 if
    the caller cannot see it), the top's quota checked, then made there."""
    parent = resource.parent
    assert parent is not None, f"{resource.kind} has no parent"

    async def create(request: Request) -> Response:
        version, body, entity = await asked(request, resource.key, resource.since)
        if parent.field not in entity:
            raise _bad(f"'{parent.field}' is a required property")
        located = await locate(request, parent.kind, str(entity[parent.field]), version)
        quota = None
        if resource.kind in (volume_service.SNAPSHOT, volume_service.BACKUP):
            size = await size_of(request, located.pod, str(entity[parent.field]), version)
            async with asking.flow(request, version) as (env, db, ask):
                quota = await volume_create.check_quota(env, db, ask, resource.kind, size, None)
        return await create_in(request, resource.kind, located.pod, body, version, quota=quota)

    return create


# cinder/api/schemas/backups.py `import_record` (the base64 format left to the pod)
IMPORT_RECORD: schemas.Schema = {
    "type": "object",
    "properties": {
        "backup-record": {
            "type": "object",
            "properties": {
                "backup_service": {"type": "string", "minLength": 0, "maxLength": 255},
                "backup_url": {"type": "string", "minLength": 1},
            },
            "required": ["backup_service", "backup_url"],
            "additionalProperties": False,
        },
    },
    "required": ["backup-record"],
    "additionalProperties": False,
}


async def import_backup(request: Request) -> Response:
    """POST /backups/import_record: Cinder's body check, then made in the pod the caller's
    default AZ chooses (as a volume without an AZ) and routed there; the pod's answer
    comes back (201; a pod without a backup service: Cinder's 503; a member: the pod's
    403)."""
    version = await negotiated(request)
    body = await json_body(request)
    schemas.check(IMPORT_RECORD, body)
    async with asking.flow(request, version) as (env, db, ask):
        pod = await volume_create.pod_for(env, db, ask, {}, sources=())
    return await create_in(request, volume_service.BACKUP, pod, body, version, pod_path(request))


async def restore(request: Request) -> Response:
    """POST /backups/{id}/restore: in the backup's pod; into a volume of another pod it
    is refused (400) until restores across pods exist."""
    version, body, entity = await asked(request, "restore")
    backup_id = request.path_params["backup_id"]
    located = await locate(request, volume_service.BACKUP, backup_id, version)
    if entity.get("volume_id"):
        target = await locate(request, volume_service.VOLUME, str(entity["volume_id"]), version)
        if target.pod.id != located.pod.id:
            raise _bad(
                f"Backup {backup_id} is in pod {located.pod.name} and volume "
                f"{entity['volume_id']} in pod {target.pod.name}: restoring a backup into a "
                "volume of another pod is not supported yet.",
            )
    resp = await send(request, located.pod, version, "POST", pod_path(request), json=body)
    found = await answered(request, located.pod, resp)
    restored = found.get("restore", {}) if isinstance(found, dict) else {}
    new_volume = restored.get("volume_id") if isinstance(restored, dict) else None
    if new_volume and not entity.get("volume_id"):
        async with session(request) as db:
            await routed_service.record(
                db, str(new_volume), located.pod.id, project_of(request), kind=volume_service.VOLUME
            )
    return reply(found, resp.status_code, {POD_HEADER: located.pod.name})


async def attachment(request: Request) -> Response:
    """POST /attachments (3.27+): made in the volume's pod; for a server of another pod
    it is a 409 naming both pods (nothing is sent to either)."""
    version, body, entity = await asked(request, "attachment", required="volume_uuid")
    located = await locate(request, volume_service.VOLUME, str(entity["volume_uuid"]), version)
    server_id = entity.get("instance_uuid")
    if server_id:
        async with session(request) as db:
            server = await routings.find_top(db, SERVER, str(server_id))
            server_pod = await db.get(Pod, server.pod_id) if server is not None else None
        if server is not None and server.pod_id != located.pod.id:
            other = server_pod.name if server_pod is not None else server.pod_id
            raise VolumeError(
                409,
                f"Volume {entity['volume_uuid']} is in pod {located.pod.name} and server "
                f"{server_id} in pod {other}: attaching a volume to a server of another "
                "pod is not supported yet.",
            )
    return await create_in(request, volume_service.ATTACHMENT, located.pod, body, version)

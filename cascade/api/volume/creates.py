"""Creates that place a new object in a pod: volumes, snapshots, backups.

POST /volumes: a volume made from a snapshot, a volume or a backup goes to
that object's pod (an `availability_zone` naming another AZ is a 400); else
the AZ given, or the project's binding's, or the configured default, chooses
the pod as for servers (an AZ without a pod is Cinder's 400 `Availability zone
'<az>' is invalid.`). The body goes on whole, with the AZ rewritten to the
pod's own name. POST /snapshots and POST /backups go to their volume's pod.
Each create writes its routing intent first; the pod's answer (202) completes
it with the new id, a refusal removes it and is passed back with the pod named.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.request import context, session
from cascade.api.volume import quotas, type_copy, views
from cascade.api.volume.common import (
    POD_HEADER,
    json_body,
    negotiated,
    pod_body,
    pod_error,
    project_of,
    reply,
    send,
)
from cascade.api.volume.errors import VolumeError
from cascade.api.volume.routed import locate
from cascade.db.models import Pod, VolumeType
from cascade.services import group_types, routings, scheduling, volume_types
from cascade.services import volumes as volume_service
from cascade.services.servers import SERVER
from cascade.versions import Version

# a new volume's source, in the order Cinder looks at them (a group's volume goes to the
# group's pod too)
SOURCES = (
    ("snapshot_id", volume_service.SNAPSHOT),
    ("source_volid", volume_service.VOLUME),
    ("backup_id", volume_service.BACKUP),
    ("group_id", volume_service.GROUP),
)
# a group made from another group or its snapshot goes to that one's pod
GROUP_SOURCES = (
    ("group_snapshot_id", volume_service.GROUP_SNAPSHOT),
    ("source_group_id", volume_service.GROUP),
)
GROUPS = Version(3, 13)


def _size(raw: Any) -> int | None:
    """A create's size in GB when the top can tell (else the pod checks it)."""
    if isinstance(raw, bool):
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        return None


def _bad(message: str) -> VolumeError:
    return VolumeError(400, message)


def entity_of(body: Any, key: str) -> dict[str, Any]:
    if not isinstance(body, dict) or key not in body:
        raise _bad(f"'{key}' is a required property")
    if not isinstance(body[key], dict):
        raise _bad(f"{body[key]!r} is not of type 'object'")
    entity: dict[str, Any] = body[key]
    return entity


async def _volume_type(request: Request, volume: dict[str, Any]) -> VolumeType | None:
    """The top type a new volume gets: the one named (by name or id; a private one only
    for projects with access), else the default, or (made from a source) the source's."""
    wanted = volume.get("volume_type")
    if wanted:
        return await type_copy.named(request, str(wanted))
    if any(volume.get(key) for key, _ in SOURCES[:3]):
        return None  # Cinder gives it the source's type
    async with session(request) as db:
        try:
            conf = request.app.state.conf.volume
            return await volume_types.default(db, conf.default_volume_type, project_of(request))
        except volume_types.TypeError_ as exc:
            raise VolumeError(exc.status, exc.message) from exc


async def _volume_pod(
    request: Request,
    volume: dict[str, Any],
    tag: str | None,
    version: Version,
    sources: tuple[tuple[str, str], ...] = SOURCES,
) -> Pod:
    """The pod of a new volume or group: its source's, else by AZ as for servers."""
    az = volume.get("availability_zone")
    if az is not None and not isinstance(az, str):
        raise _bad(f"Invalid input for field/attribute availability_zone. Value: {az}.")
    for key, kind in sources:
        if volume.get(key):
            located = await locate(request, kind, str(volume[key]), version)
            if az and az != located.pod.az:
                raise _bad(
                    f"The {kind} {volume[key]} is in availability zone {located.pod.az} (pod "
                    f"{located.pod.name}); a volume made from it cannot go to availability "
                    f"zone {az}.",
                )
            if tag and tag not in (located.pod.tags or []):
                raise _bad(
                    f"The {kind} {volume[key]} is in pod {located.pod.name}, which has no tag "
                    f"{tag!r} that the volume type asks for.",
                )
            return located.pod
    conf = request.app.state.conf.scheduling
    project = project_of(request)
    async with session(request) as db:
        try:
            if not az:
                az = await scheduling.default_az(db, conf, project, tag)
            elif not await scheduling.az_exists(db, az):
                raise _bad(f"Availability zone '{az}' is invalid.")
            return await scheduling.pod_for(db, conf, project, az, tag=tag)
        except scheduling.NoPodForAz as exc:
            status = 409 if tag else 503
            raise VolumeError(status, f"No pod can take the volume: {exc}.") from exc


async def create_in(
    request: Request,
    kind: str,
    pod: Pod,
    body: dict[str, Any],
    version: Version,
    path: str | None = None,
) -> Response:
    """The create sent to `pod` (at `path`, else the kind's) with its routing intent
    written first."""
    state = request.scope.get("state", {})
    project = project_of(request)
    async with session(request) as db:
        intent = await volume_service.intent(db, kind, str(state.get("request_id")), pod, project)
    resource = volume_service.BY_KIND[kind]
    default_path, key = resource.path, resource.key
    resp = await send(request, pod, version, "POST", path or default_path, json=body)
    if resp.status_code >= 400:
        async with session(request) as db:
            await volume_service.forget_intent(db, await db.merge(intent))
        raise pod_error(resp, pod)
    found = views.body(await pod_body(request, pod, resp), pod)
    made = found.get(key) if isinstance(found, dict) else None
    async with session(request) as db:
        found = await views.top_types(db, pod, found)
        if isinstance(made, dict) and made.get("id"):
            await volume_service.record(
                db, kind, str(made["id"]), pod, project, await db.merge(intent)
            )
        else:  # nothing the top can route: the pod's answer is passed on as it is
            await volume_service.forget_intent(db, await db.merge(intent))
    return reply(found, resp.status_code, {POD_HEADER: pod.name})


async def volume(request: Request) -> Response:
    """POST /volumes: 202 with the new volume, made in the pod chosen above."""
    version = await negotiated(request)
    body = await json_body(request)
    entity = entity_of(body, "volume")
    vtype = await _volume_type(request, entity)
    size = _size(entity.get("size"))
    await quotas.check_create(request, "volume", size, vtype.name if vtype else None)
    tag = (vtype.extra_specs or {}).get(volume_types.POD_TAG) if vtype else None
    pod = await _volume_pod(request, entity, tag, version)
    entity["availability_zone"] = pod.pod_az
    if vtype is not None:
        entity["volume_type"] = await type_copy.in_pod(request, pod, vtype)
    return await create_in(request, volume_service.VOLUME, pod, body, version)


async def group(request: Request) -> Response:
    """POST /groups (3.13+): 202 with the new group, made in the pod its AZ chooses (as a
    volume's), with the pod's copies of its top group type and volume types (each by
    name or id; an unknown one is Cinder's 404)."""
    version = await negotiated(request)
    if version < GROUPS:
        raise VolumeError(404, "The resource could not be found.")
    body = await json_body(request)
    entity = entity_of(body, "group")
    wanted = entity.get("volume_types")
    if not entity.get("group_type"):
        raise _bad("'group_type' is a required property")
    if not isinstance(wanted, list) or not wanted:
        raise _bad("'volume_types' is a required property")
    admin = context(request).is_admin
    async with session(request) as db:
        try:
            gtype = await group_types.by_name_or_id(db, str(entity["group_type"]), admin)
        except volume_types.TypeError_ as exc:
            raise VolumeError(exc.status, exc.message) from exc
    vtypes = [await type_copy.named(request, str(t)) for t in wanted]
    pod = await _volume_pod(request, entity, None, version, ())
    entity["availability_zone"] = pod.pod_az
    entity["group_type"] = await type_copy.in_pod(request, pod, gtype)
    entity["volume_types"] = [await type_copy.in_pod(request, pod, t) for t in vtypes]
    return await create_in(request, volume_service.GROUP, pod, body, version)


async def group_from_source(request: Request) -> Response:
    """POST /groups/action `create-from-src` (3.14+): in the pod of the source group or
    group snapshot; the new group's routing is recorded from the pod's answer."""
    version = await negotiated(request)
    if version < Version(3, 14):
        raise VolumeError(404, "The resource could not be found.")
    body = await json_body(request)
    entity = entity_of(body, "create-from-src")
    named = [key for key, _ in GROUP_SOURCES if entity.get(key)]
    if len(named) != 1:
        raise _bad("Either 'group_snapshot_id' or 'source_group_id' must be provided.")
    pod = await _volume_pod(request, entity, None, version, GROUP_SOURCES)
    return await create_in(request, volume_service.GROUP, pod, body, version, path="/groups/action")


def in_parent(resource: volume_service.Resource) -> Callable[[Request], Awaitable[Response]]:
    """POST /<collection> of a kind made in its parent's pod (snapshots and backups in their
    volume's, group snapshots in their group's): the parent located first (its 404 if
    the caller cannot see it), the top's quota checked, then made there."""
    parent = resource.parent
    assert parent is not None, f"{resource.kind} has no parent"

    async def create(request: Request) -> Response:
        version = await negotiated(request)
        if version < resource.since:
            raise VolumeError(404, "The resource could not be found.")
        body = await json_body(request)
        entity = entity_of(body, resource.key)
        if parent.field not in entity:
            raise _bad(f"'{parent.field}' is a required property")
        located = await locate(request, parent.kind, str(entity[parent.field]), version)
        if resource.kind in (volume_service.SNAPSHOT, volume_service.BACKUP):
            size = await _size_of(request, located, str(entity[parent.field]), version)
            await quotas.check_create(request, resource.kind, size)
        return await create_in(request, resource.kind, located.pod, body, version)

    return create


async def _size_of(
    request: Request, located: volume_service.Located, volume_id: str, version: Version
) -> int | None:
    """The volume's size in GB, from its pod (None: the pod did not say)."""
    resp = await send(request, located.pod, version, "GET", f"/volumes/{volume_id}")
    if resp.status_code != 200:
        return None
    return _size(resp.json().get("volume", {}).get("size"))


async def restore(request: Request) -> Response:
    """POST /backups/{id}/restore: in the backup's pod; into a volume of another pod it
    is refused (400) until restores across pods exist."""
    version = await negotiated(request)
    backup_id = request.path_params["backup_id"]
    body = await json_body(request)
    entity = entity_of(body, "restore")
    located = await locate(request, volume_service.BACKUP, backup_id, version)
    if entity.get("volume_id"):
        target = await locate(request, volume_service.VOLUME, str(entity["volume_id"]), version)
        if target.pod.id != located.pod.id:
            raise _bad(
                f"Backup {backup_id} is in pod {located.pod.name} and volume "
                f"{entity['volume_id']} in pod {target.pod.name}: restoring a backup into a "
                "volume of another pod is not supported yet.",
            )
    resp = await send(
        request, located.pod, version, "POST", f"/backups/{backup_id}/restore", json=body
    )
    if resp.status_code >= 400:
        raise pod_error(resp, located.pod)
    found = await pod_body(request, located.pod, resp)
    restored = found.get("restore", {}) if isinstance(found, dict) else {}
    new_volume = restored.get("volume_id") if isinstance(restored, dict) else None
    if new_volume and not entity.get("volume_id"):
        async with session(request) as db:
            await volume_service.record_found(
                db, volume_service.VOLUME, str(new_volume), located.pod, project_of(request)
            )
    return reply(found, resp.status_code, {POD_HEADER: located.pod.name})


async def attachment(request: Request) -> Response:
    """POST /attachments (3.27+): made in the volume's pod; for a server of another pod
    it is a 409 naming both pods (nothing is sent to either)."""
    version = await negotiated(request)
    body = await json_body(request)
    entity = entity_of(body, "attachment")
    if not entity.get("volume_uuid"):
        raise _bad("'volume_uuid' is a required property")
    located = await locate(request, volume_service.VOLUME, str(entity["volume_uuid"]), version)
    server_id = entity.get("instance_uuid")
    if server_id:
        async with session(request) as db:
            server = await routings.find_top(db, SERVER, str(server_id))
        if server is not None and server.pod_id != located.pod.id:
            server_pod = await _pod_name(request, server.pod_id)
            raise VolumeError(
                409,
                f"Volume {entity['volume_uuid']} is in pod {located.pod.name} and server "
                f"{server_id} in pod {server_pod}: attaching a volume to a server of another "
                "pod is not supported yet.",
            )
    return await create_in(request, volume_service.ATTACHMENT, located.pod, body, version)


async def _pod_name(request: Request, pod_id: str) -> str:
    async with session(request) as db:
        pod = await db.get(Pod, pod_id)
    return pod.name if pod is not None else pod_id

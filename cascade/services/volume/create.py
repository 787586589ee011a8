"""The volume-create workflow and the creates of other routed Cinder objects, callable by a
handler, a job or a test (no HTTP types here).

A new volume (or group) goes to the pod of the object it is made from (a
snapshot, volume, backup or group; an `availability_zone` naming another AZ,
or a pod without the type's pod tag, is refused), else to the pod its AZ (the
one named, the project's binding's, or the default) and its type's pod tag
choose. Its type is the one named (by name or id), else the project's default,
or (made from a source) the source's; the top quota is checked before any pod
is called (`volume_quotas.OverQuota`, Cinder's 413); the pod gets its copy of
the type, and the body names the pod's AZ and copy.

`create_in` is how every routed object is made in a pod: its routing intent is
written first (keyed by the caller's local request id), the pod's acceptance
completes it with the new id, a refusal removes it (the pod's answer comes back
as it is). Refusals the top decides are `workflow.Refused`; `PodUnavailable`
is passed on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.models import GroupType, Pod, VolumeType
from cascade.pods import volume as pod_volume
from cascade.services import resources, routed, scheduling
from cascade.services.volume import group_types
from cascade.services.volume import quotas as volume_quotas
from cascade.services.volume import type_copies as volume_type_copies
from cascade.services.volume import types as volume_types
from cascade.services.volume import volumes as volume_service
from cascade.services.workflow import Asker, Created, Env, Refused, bad

# a new volume's source, in the order Cinder looks at them (a group's volume goes to the
# group's pod too: the first three give it their type, a group does not)
SOURCES = (
    ("snapshot_id", volume_service.SNAPSHOT),
    ("source_volid", volume_service.VOLUME),
    ("backup_id", volume_service.BACKUP),
    ("group_id", volume_service.GROUP),
)
TYPED_SOURCES = SOURCES[:3]
# a group made from another group or its snapshot goes to that one's pod
GROUP_SOURCES = (
    ("group_snapshot_id", volume_service.GROUP_SNAPSHOT),
    ("source_group_id", volume_service.GROUP),
)


@dataclass(frozen=True)
class Ask(Asker):
    """Who asks: their context, their calls to the pods (token, microversion, global
    request id) and the local request id (keys the routing intents)."""

    caller: pod_volume.Caller
    request_id: str


async def locate(
    env: Env, db: AsyncSession, ask: Ask, kind: str, object_id: str
) -> volume_service.Located:
    """The pod of the caller's object, else Cinder's 404 for its kind."""
    try:
        return await volume_service.locate(db, env.registry, ask.caller, object_id, ask.scope, kind)
    except volume_service.NotFound:
        missing = resources.BY_KIND[kind].missing.format(id=object_id)
        raise Refused(404, missing) from None


async def volume_type(
    env: Env, db: AsyncSession, ask: Ask, volume: dict[str, Any]
) -> VolumeType | None:
    """The top type a new volume gets (None: its source's, which Cinder gives it)."""
    wanted = volume.get("volume_type")
    if wanted:
        return await volume_types.by_name_or_id(db, str(wanted), ask.scope)
    if any(volume.get(key) for key, _ in TYPED_SOURCES):
        return None
    return await volume_types.default(db, env.conf.volume.default_volume_type, ask.project)


async def pod_for(
    env: Env,
    db: AsyncSession,
    ask: Ask,
    volume: dict[str, Any],
    tag: str | None = None,
    sources: tuple[tuple[str, str], ...] = SOURCES,
) -> Pod:
    """The pod of a new volume or group: its source's, else by AZ as for servers."""
    az = volume.get("availability_zone")
    if az is not None and not isinstance(az, str):
        raise bad(f"Invalid input for field/attribute availability_zone. Value: {az}.")
    for key, kind in sources:
        if volume.get(key):
            pod = (await locate(env, db, ask, kind, str(volume[key]))).pod
            if az and az != pod.az:
                raise bad(
                    f"The {kind} {volume[key]} is in availability zone {pod.az} (pod "
                    f"{pod.name}); a volume made from it cannot go to availability zone {az}.",
                )
            if tag and tag not in (pod.tags or []):
                raise bad(
                    f"The {kind} {volume[key]} is in pod {pod.name}, which has no tag "
                    f"{tag!r} that the volume type asks for.",
                )
            return pod
    conf = env.conf.scheduling
    try:
        if not az:
            az = await scheduling.default_az(db, conf, ask.project, tag)
        elif not await scheduling.az_exists(db, az):
            raise bad(f"Availability zone '{az}' is invalid.")
        return await scheduling.pod_for(db, conf, ask.project, az, tag=tag)
    except scheduling.NoPodForAz as exc:
        raise Refused(409 if tag else 503, f"No pod can take the volume: {exc}.") from exc


async def type_in_pod(
    env: Env, db: AsyncSession, ask: Ask, pod: Pod, top: VolumeType | GroupType
) -> str:
    """The pod's copy of a top volume or group type, made now if needed: its id there
    (a pod's refusal keeps its status, named)."""
    try:
        return await volume_type_copies.ensure_in_pod(db, env.registry, pod, top, ask.request_id)
    except volume_type_copies.TypeCopyFailed as exc:
        raise Refused(exc.status if exc.status < 500 else 502, str(exc)) from exc


async def check_quota(
    env: Env, db: AsyncSession, ask: Ask, kind: str, size: int | None, type_name: str | None
) -> None:
    """Room in the caller's project for one more `kind` of `size` GB (of the top type
    `type_name`, for a volume), else `volume_quotas.OverQuota`."""
    limit = await volume_quotas.limits(db, env.conf.volume, ask.project)
    usage = await volume_quotas.usage(db, env.registry, ask.project, ask.request_id)
    volume_quotas.check(limit, usage.counts, kind, size)
    if type_name is not None:
        volume_quotas.check_type(limit, usage.counts, type_name, size)


def size_of(raw: Any) -> int | None:
    """A create's size in GB when the top can tell (else the pod checks it)."""
    if isinstance(raw, bool):
        return None
    try:
        return int(raw)
    except (TypeError, ValueError, OverflowError):
        return None


async def create_in(
    env: Env,
    db: AsyncSession,
    ask: Ask,
    kind: str,
    pod: Pod,
    body: dict[str, Any],
    path: str | None = None,
) -> httpx.Response:
    """The create of a `kind` sent to `pod` (at `path`, else the kind's), its routing
    intent written first and completed (or removed) by the pod's answer."""
    resource = resources.BY_KIND[kind]
    intent = await routed.intent(db, kind, ask.request_id, pod, ask.project)
    resp = await pod_volume.call(
        env.registry, pod, ask.caller, "POST", path or resource.path, json=body
    )
    made: Any = None
    if resp.status_code < 400:
        try:
            made = resp.json().get(resource.key)
        except (ValueError, AttributeError):
            made = None
    intent = await db.merge(intent)
    if isinstance(made, dict) and made.get("id"):
        await routed.record(db, str(made["id"]), pod.id, ask.project, intent, kind)
    else:  # refused, or nothing the top can route: the pod's answer is passed on as it is
        await routed.forget_intent(db, intent)
    return resp


async def create_volume(env: Env, db: AsyncSession, ask: Ask, body: Any) -> Created:
    """POST /volumes's body (changed in place to the pod's names), made where it goes."""
    if not isinstance(body, dict) or not isinstance(body.get("volume"), dict):
        raise bad("'volume' is a required property")
    entity: dict[str, Any] = body["volume"]
    vtype = await volume_type(env, db, ask, entity)
    size = size_of(entity.get("size"))
    await check_quota(env, db, ask, volume_service.VOLUME, size, vtype.name if vtype else None)
    tag = (vtype.extra_specs or {}).get(volume_types.POD_TAG) if vtype else None
    pod = await pod_for(env, db, ask, entity, tag)
    entity["availability_zone"] = pod.pod_az
    if vtype is not None:
        entity["volume_type"] = await type_in_pod(env, db, ask, pod, vtype)
    return Created(pod, await create_in(env, db, ask, volume_service.VOLUME, pod, body))


async def create_group(env: Env, db: AsyncSession, ask: Ask, body: dict[str, Any]) -> Created:
    """POST /groups's checked body (changed in place to the pod's names), made in the pod
    its AZ chooses (as a volume's), with the pod's copies of its top group type and
    volume types (each by name or id; an unknown one is Cinder's 404)."""
    entity: dict[str, Any] = body["group"]
    scope = None if ask.ctx.is_admin else ""  # a private group type is an admin's only
    gtype = await group_types.GROUP_TYPE.by_name_or_id(db, str(entity["group_type"]), scope)
    vtypes = [
        await volume_types.by_name_or_id(db, str(t), ask.scope) for t in entity["volume_types"]
    ]
    pod = await pod_for(env, db, ask, entity, sources=())
    entity["availability_zone"] = pod.pod_az
    entity["group_type"] = await type_in_pod(env, db, ask, pod, gtype)
    entity["volume_types"] = [await type_in_pod(env, db, ask, pod, t) for t in vtypes]
    return Created(pod, await create_in(env, db, ask, volume_service.GROUP, pod, body))

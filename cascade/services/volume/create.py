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

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.engine import idle, kept, now
from cascade.db.models import GroupType, Pod, Routing, VolumeType
from cascade.pods import volume as pod_volume
from cascade.services import quota_core, resources, routed, scheduling
from cascade.services.compute import moves
from cascade.services.images import copies as image_copies
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
# Cinder's answer to a volume made from an image that is not active (InvalidInput)
NOT_ACTIVE = "Invalid input received: Image {} is not active."
# the kinds whose creates in flight hold quota (their intents' `reserved`)
RESERVING = (volume_service.VOLUME, volume_service.SNAPSHOT, volume_service.BACKUP)
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


@dataclass(frozen=True)
class Quota:
    """A create's quota as the pods counted it (`check_quota`): the project's limits and
    usage, when the pods were asked, and what the create asks for."""

    kind: str
    size: int | None
    type_name: str | None
    limit: dict[str, int]
    used: dict[str, int]
    since: datetime

    @property
    def reserved(self) -> dict[str, int]:
        """What the create holds of the quota while in flight, by quota name."""
        counted = volume_quotas.COUNTED.get(self.kind)
        if counted is None:
            return {}
        count, gigabytes = counted
        held = {count: 1, gigabytes: self.size or 0}
        if self.type_name is not None:
            held |= {f"volumes_{self.type_name}": 1, f"gigabytes_{self.type_name}": self.size or 0}
        return held

    def check(self, held: Mapping[str, int]) -> None:
        """`volume_quotas.OverQuota` unless the create fits what the pods counted plus what
        the creates in flight hold (`held`)."""
        used = quota_core.plus(self.used, held)
        volume_quotas.check(self.limit, used, self.kind, self.size)
        if self.type_name is not None:
            volume_quotas.check_type(self.limit, used, self.type_name, self.size)


async def check_quota(
    env: Env, db: AsyncSession, ask: Ask, kind: str, size: int | None, type_name: str | None
) -> Quota:
    """Room in the caller's project for one more `kind` of `size` GB (of the top type
    `type_name`, for a volume), the creates in flight counted, else
    `volume_quotas.OverQuota`; the quota as counted, for `create_in` to check again
    with the intent."""
    since = now()
    limit = await volume_quotas.limits(db, env.conf.volume, ask.project)
    usage = await volume_quotas.usage(db, env.registry, ask.project, ask.request_id)
    quota = Quota(kind, size, type_name, limit, usage.counts, since)
    quota.check(await quota_core.in_flight(db, ask.project, RESERVING, since))
    return quota


def size_of(raw: Any) -> int | None:
    """A create's size in GB when the top can tell (else the pod checks it)."""
    if isinstance(raw, bool):
        return None
    try:
        return int(raw)
    except (TypeError, ValueError, OverflowError):
        return None


async def _intent(
    db: AsyncSession, ask: Ask, kind: str, pod: Pod, body: dict[str, Any], quota: Quota | None
) -> Routing:
    """The routing intent, in the project that will own the object (the caller's, or its
    parent's: `routed.owners`), written with the last check of `quota` (if any) in one
    transaction of the caller's project: it holds what the create asks for until
    completed."""
    (owner,) = await routed.owners(db, kind, [body.get(resources.BY_KIND[kind].key)])
    owner = owner or ask.project
    if quota is None:
        return await routed.intent(db, kind, ask.request_id, pod, owner)
    async with quota_core.reserving(db, ask.project, RESERVING, quota.since) as held:
        quota.check(held)
        return await routed.intent(db, kind, ask.request_id, pod, owner, quota.reserved)


async def create_in(
    env: Env,
    db: AsyncSession,
    ask: Ask,
    kind: str,
    pod: Pod,
    body: dict[str, Any],
    path: str | None = None,
    quota: Quota | None = None,
) -> httpx.Response:
    """The create of a `kind` sent to `pod` (at `path`, else the kind's), its routing
    intent written first (with `quota` checked again and reserved) and completed (or
    removed) by the pod's answer. The body is encoded before anything is written (one
    that cannot be is Cinder's 400); no database connection is held while the pod is
    asked; a pod that does not answer leaves the intent for `stale.sweep`."""
    resource = resources.BY_KIND[kind]
    try:
        content = json.dumps(body, allow_nan=False).encode()
    except (ValueError, TypeError, UnicodeEncodeError):
        raise bad("Invalid input received: the body cannot be encoded as JSON.") from None
    # a volume moved into the pod is named by the pod's id there (a snapshot's volume_id);
    # read before the intent, in a transaction of its own: the intent's is the quota's
    # (its reads must not see a snapshot older than its lock), and its commit lets the
    # connection go before the pod is asked
    moved = (await moves.of_pods(env.sessions, db, env.registry, [pod.id]))[pod.id]
    await idle(db)
    sent, options = moves.request_to_pod(moved, path or resource.path, {"content": content})
    intent = await _intent(db, ask, kind, pod, body, quota)
    headers = {"Content-Type": "application/json"}
    resp = await routed.sending(
        db,
        intent,
        pod_volume.call(
            env.registry, pod, ask.caller, "POST", sent, content=options["content"], headers=headers
        ),
    )
    resp = moves.answer_from_pod(moved, resp)
    made: Any = None
    if resp.status_code < 400:
        try:
            made = resp.json().get(resource.key)
        except (ValueError, AttributeError):
            made = None
    if isinstance(made, dict) and made.get("id"):
        intent = await db.merge(intent)
        await routed.record(db, str(made["id"]), pod.id, intent.project_id, intent, kind)
    else:  # refused, or nothing the top can route: the pod's answer is passed on as it is
        await routed.forget_intent(db, intent)
    return resp


async def create_volume(env: Env, db: AsyncSession, ask: Ask, body: Any) -> Created:
    """POST /volumes's body (changed in place to the pod's names), made where it goes."""
    if not isinstance(body, dict) or not isinstance(body.get("volume"), dict):
        raise bad("'volume' is a required property")
    entity: dict[str, Any] = body["volume"]
    vtype = await volume_type(env, db, ask, entity)
    if vtype is not None:
        vtype = kept(db, vtype)
    size = size_of(entity.get("size"))
    type_name = vtype.name if vtype else None
    quota = await check_quota(env, db, ask, volume_service.VOLUME, size, type_name)
    tag = (vtype.extra_specs or {}).get(volume_types.POD_TAG) if vtype else None
    pod = kept(db, await pod_for(env, db, ask, entity, tag))
    entity["availability_zone"] = pod.pod_az
    if vtype is not None:
        entity["volume_type"] = await type_in_pod(env, db, ask, pod, vtype)
    await idle(db)
    image = entity.get("imageRef")
    if isinstance(image, str):  # a volume made from a top image: the pod needs it
        await image_copies.ensure_in_pod(env, pod, image, ask.ctx.token, NOT_ACTIVE)
    resp = await create_in(env, db, ask, volume_service.VOLUME, pod, body, quota=quota)
    return Created(pod, resp)


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

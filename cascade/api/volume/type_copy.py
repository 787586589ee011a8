"""A top volume or group type where a request needs it in a pod: its copy's id there (made
now if the pod has none), for a create (`volume_type`, a group's `group_type` and
`volume_types`) or a retype (`os-retype` `new_type`)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from cascade.api.volume import asking
from cascade.api.volume.common import unavailable
from cascade.api.volume.errors import VolumeError
from cascade.db.models import GroupType, Pod, VolumeType
from cascade.pods.client import PodUnavailable
from cascade.pods.registry import PodRegistry
from cascade.services import volume_create, volume_type_copies
from cascade.versions import Version

VERSION = Version(3, 0)


async def in_pod(request: Request, pod: Pod, top: VolumeType | GroupType) -> str:
    """The pod's copy of the type, made now if needed: its id there (a pod's refusal keeps
    its status, named; a pod that cannot be reached is a 503)."""
    # the copies are made with the service token
    async with asking.flow(request, VERSION) as (env, db, ask):
        return await volume_create.type_in_pod(env, db, ask, pod, top)


async def named(request: Request, wanted: str) -> VolumeType:
    """The top type a request names (by name or id; a private one only for projects
    with access), else Cinder's error for it (404)."""
    async with asking.flow(request, VERSION) as (_, db, ask):
        return await volume_create.named_type(db, ask, wanted)


async def copies_deleted(
    request: Request,
    db: AsyncSession,
    delete_copies: Callable[[AsyncSession, PodRegistry, str], Awaitable[None]],
    type_id: str,
    what: str,
) -> None:
    """The pods' copies of a volume or group type that goes: a pod whose volumes or groups
    use its copy refuses (400), and that stops the delete with Cinder's `Target <what>
    type is still in use.`; any other refusal keeps its status, with the pod named."""
    try:
        await delete_copies(db, request.app.state.registry, type_id)
    except volume_type_copies.TypeCopyFailed as exc:
        if exc.status == 400:
            raise VolumeError(400, f"Target {what} type is still in use.") from exc
        raise VolumeError(exc.status if exc.status < 500 else 502, str(exc)) from exc
    except PodUnavailable as exc:
        raise unavailable(exc) from exc


async def retyped(request: Request, pod: Pod, content: bytes) -> bytes:
    """An `os-retype` action body with `new_type` (a top type, by name or id) made the
    pod's copy; any other body as it is (the pod answers what it cannot read)."""
    try:
        body = json.loads(content)
        wanted = body["os-retype"]["new_type"]
    except (ValueError, KeyError, TypeError):
        return content
    if not isinstance(wanted, str) or not wanted:
        return content
    body["os-retype"]["new_type"] = await in_pod(request, pod, await named(request, wanted))
    return json.dumps(body).encode()

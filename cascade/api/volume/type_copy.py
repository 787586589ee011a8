"""A top volume or group type where a request needs it in a pod: its copy's id there (made
now if the pod has none), for a create (`volume_type`, a group's `group_type` and
`volume_types`) or a retype (`os-retype` `new_type`)."""

from __future__ import annotations

import json

from starlette.requests import Request

from cascade.api.volume import asking
from cascade.db.models import GroupType, Pod, VolumeType
from cascade.services.volume import create as volume_create
from cascade.services.volume import types as volume_types
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
        return await volume_types.by_name_or_id(db, wanted, ask.scope)


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

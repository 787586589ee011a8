"""Encryption types of top volume types (admin; Cinder's `/types/{id}/encryption`).

- GET /types/{id}/encryption: `{}` or the specification; GET .../{key}: one field.
- POST (create; 400 if the type has one), PUT .../{encryption_id} (the fields
  given), DELETE .../{encryption_id} (202). The pods' copies take the change
  first: a pod whose volumes use the type refuses it, and so does the top.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.request import session
from cascade.api.volume.common import json_body, reply
from cascade.api.volume.spec_types import synced, translated
from cascade.api.volume.types import HANDLERS, new_specs
from cascade.db.models import VolumeType
from cascade.services.volume import encryption as volume_encryption
from cascade.services.volume import types as volume_types
from cascade.services.volume.jobs import SYNC

RULE = "volume_extension:volume_type_encryption"
R = TypeVar("R")


@translated
async def show(request: Request) -> Response:
    """GET .../encryption: `{}` or the type's encryption; GET .../encryption/{key}: one
    field of it (404 when there is none)."""
    await HANDLERS.allowed(request, RULE)
    async with session(request) as db:
        found = await HANDLERS.found(db, request)
    view, key = volume_encryption.view(found), request.path_params.get("key")
    if key is None:
        return reply(view)
    if key not in view:
        raise volume_types.TypeError_(
            404, f"Volume type encryption for type {found.id} does not exist."
        )
    return reply({key: view[key]})


async def _changed(request: Request, change: Callable[[VolumeType, Any, str], R]) -> R:
    """`change(type, body, encryption_id)` made to the URL's type and taken to the pods'
    copies before it is committed (a pod whose volumes use the type refuses it, and so
    does the top); what `change` answers."""
    await HANDLERS.allowed(request, RULE)
    body = None if request.method == "DELETE" else await json_body(request)
    async with session(request) as db:
        found = await HANDLERS.found(db, request)
        answer = change(found, body, request.path_params.get("encryption_id", ""))
        await new_specs(request, found, None, volume_encryption.spec(found))
        await db.commit()  # not before the pods' copies took it
    await synced(request, SYNC, found.id)
    return answer


@translated
async def create(request: Request) -> Response:
    """POST: the type's encryption (400 if it has one); Cinder's fields of it."""
    return reply({"encryption": await _changed(request, volume_encryption.create)})


@translated
async def update(request: Request) -> Response:
    """PUT .../{encryption_id}: the fields given changed; answers them."""
    return reply({"encryption": await _changed(request, volume_encryption.update)})


@translated
async def delete(request: Request) -> Response:
    """DELETE .../{encryption_id}: 202."""
    await _changed(request, volume_encryption.delete)
    return reply(None, 202)

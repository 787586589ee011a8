"""Encryption types of top volume types (admin; Cinder's `/types/{id}/encryption`).

- GET /types/{id}/encryption: `{}` or the specification; GET .../{key}: one field.
- POST (create; 400 if the type has one), PUT .../{encryption_id} (the fields
  given), DELETE .../{encryption_id} (202). The pods' copies take the change
  first: a pod whose volumes use the type refuses it, and so does the top.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.request import session
from cascade.api.volume.common import json_body, reply
from cascade.api.volume.spec_types import synced, translated
from cascade.api.volume.types import HANDLERS, new_specs
from cascade.services import volume_encryption, volume_types
from cascade.services.volume_jobs import SYNC

RULE = "volume_extension:volume_type_encryption"
# what Cinder's create answers with
ANSWER = ("volume_type_id", "encryption_id", "provider", "control_location", "cipher", "key_size")


@translated
async def show(request: Request) -> Response:
    await HANDLERS.allowed(request, RULE)
    async with session(request) as db:
        found = await HANDLERS.found(db, request)
    return reply(volume_encryption.view(found))


@translated
async def show_item(request: Request) -> Response:
    await HANDLERS.allowed(request, RULE)
    key = request.path_params["key"]
    async with session(request) as db:
        found = await HANDLERS.found(db, request)
    view = volume_encryption.view(found)
    if key not in view:
        raise volume_types.TypeError_(
            404, f"Volume type encryption for type {found.id} does not exist."
        )
    return reply({key: view[key]})


@translated
async def create(request: Request) -> Response:
    await HANDLERS.allowed(request, RULE)
    body = await json_body(request)
    async with session(request) as db:
        found = await HANDLERS.found(db, request)
        volume_encryption.create(found, volume_encryption.checked(body, create=True))
        await new_specs(request, found, None, volume_encryption.spec(found))
        await db.commit()  # not before the pods' copies took it
        view = {k: v for k, v in volume_encryption.view(found).items() if k in ANSWER}
    await synced(request, SYNC, found.id)
    return reply({"encryption": view})


@translated
async def update(request: Request) -> Response:
    await HANDLERS.allowed(request, RULE)
    body = await json_body(request)
    async with session(request) as db:
        found = await HANDLERS.found(db, request)
        fields = volume_encryption.checked(body, create=False)
        updated = volume_encryption.update(found, request.path_params["encryption_id"], fields)
        await new_specs(request, found, None, volume_encryption.spec(found))
        await db.commit()
    await synced(request, SYNC, found.id)
    return reply({"encryption": updated})


@translated
async def delete(request: Request) -> Response:
    await HANDLERS.allowed(request, RULE)
    async with session(request) as db:
        found = await HANDLERS.found(db, request)
        volume_encryption.delete(found, request.path_params["encryption_id"])
        await new_specs(request, found, None, None)
        await db.commit()
    await synced(request, SYNC, found.id)
    return reply(None, 202)

"""Servers and volumes meet only in one pod (until volumes move between pods).

- Boot from volume: a server whose `block_device_mapping_v2` takes a volume or a
  snapshot (`source_type` volume/snapshot with a `uuid`) goes to that object's
  pod; an `availability_zone` naming another AZ, or sources in different pods,
  are a 400 that says where they are.
- Attaching (`POST /servers/{id}/os-volume_attachments`, and the swap of
  `PUT .../os-volume_attachments/{id}`) a volume of another pod is a 409 naming
  both pods; nothing is sent to either pod.
- A mapping that asks Nova to make a volume of a `volume_type` (2.67+) names a
  top type: the pod gets a copy of it first and Nova is given the copy's id.
A volume or snapshot the top cannot find is left to the pod, which answers
Nova's own 400/404.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from cascade.api.compute.errors import ComputeError
from cascade.api.request import context
from cascade.db.models import Pod
from cascade.pods import volume as pod_volume
from cascade.services import volume_type_copies, volume_types
from cascade.services import volumes as volume_service

ACROSS = "attaching a volume to a server of another pod is not supported yet"


async def pod_of(request: Request, db: AsyncSession, kind: str, object_id: str) -> Pod | None:
    """The pod of the caller's volume or snapshot `object_id` (None: nobody knows it)."""
    ctx = context(request)
    state = request.scope.get("state", {})
    caller = pod_volume.Caller(ctx.token, "3.0", str(state.get("request_id", "")))
    try:
        located = await volume_service.locate(
            db,
            request.app.state.registry,
            caller,
            object_id,
            None if ctx.is_admin else ctx.project_id,
            kind,
        )
    except volume_service.NotFound:
        return None
    return located.pod


async def boot_pod(
    request: Request, db: AsyncSession, server: dict[str, Any], az: str | None
) -> Pod | None:
    """The pod a server booting from volumes or snapshots must go to (None: no such source)."""
    found: list[tuple[str, Pod]] = []
    for mapping in server.get("block_device_mapping_v2") or []:
        if not isinstance(mapping, dict) or not mapping.get("uuid"):
            continue
        kind = {"volume": volume_service.VOLUME, "snapshot": volume_service.SNAPSHOT}.get(
            str(mapping.get("source_type"))
        )
        if kind is None:
            continue
        pod = await pod_of(request, db, kind, str(mapping["uuid"]))
        if pod is not None:
            found.append((f"{kind} {mapping['uuid']}", pod))
    if not found:
        return None
    what, pod = found[0]
    for other, other_pod in found[1:]:
        if other_pod.id != pod.id:
            raise ComputeError(
                400,
                f"The {what} is in pod {pod.name} and the {other} in pod {other_pod.name}: a "
                "server can only use volumes of one pod.",
            )
    if az is not None and az != pod.az:
        raise ComputeError(
            400,
            f"The {what} is in availability zone {pod.az} (pod {pod.name}); a server booting "
            f"from it cannot go to availability zone {az}.",
        )
    return pod


async def check_attach(
    request: Request,
    db: AsyncSession,
    server_id: str,
    server_pod: Pod,
    content: bytes,
) -> None:
    """409 when the volume of an attach (or swap) request lives in another pod."""
    try:
        body = json.loads(content)
        volume_id = body["volumeAttachment"]["volumeId"]
    except (ValueError, KeyError, TypeError):
        return  # the pod answers Nova's 400
    pod = await pod_of(request, db, volume_service.VOLUME, str(volume_id))
    if pod is not None and pod.id != server_pod.id:
        raise ComputeError(
            409,
            f"Volume {volume_id} is in pod {pod.name} (availability zone {pod.az}) and server "
            f"{server_id} in pod {server_pod.name} (availability zone {server_pod.az}): "
            f"{ACROSS}.",
        )


async def bdm_types(request: Request, db: AsyncSession, server: dict[str, Any], pod: Pod) -> None:
    """Every `volume_type` of the server's block device mappings made the pod's copy of
    the top type it names (an unknown one: Nova's 400)."""
    ctx = context(request)
    for mapping in server.get("block_device_mapping_v2") or []:
        if not isinstance(mapping, dict) or not isinstance(mapping.get("volume_type"), str):
            continue
        try:
            vtype = await volume_types.by_name_or_id(
                db, mapping["volume_type"], None if ctx.is_admin else ctx.project_id
            )
            state = request.scope.get("state", {})
            mapping["volume_type"] = await volume_type_copies.ensure_in_pod(
                db, request.app.state.registry, pod, vtype, str(state.get("request_id", ""))
            )
        except volume_types.TypeError_ as exc:
            raise ComputeError(400, exc.message) from exc
        except volume_type_copies.TypeCopyFailed as exc:
            raise ComputeError(exc.status if exc.status < 500 else 502, str(exc)) from exc

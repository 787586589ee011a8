"""Servers and volumes meet only in one pod (until volumes move between pods).

Attaching (`POST /servers/{id}/os-volume_attachments`, and the swap of
`PUT .../os-volume_attachments/{id}`) a volume of another pod is a 409 naming
both pods; nothing is sent to either pod. A volume moving to another pod is a 409
too (the source would be attached while the move copies it). (A server booting from volumes goes
to their pod, and its mappings' volume types become the pod's copies: see
`services.server_create`.) A volume the top cannot find is left to the pod,
which answers Nova's own 400/404.
"""

from __future__ import annotations

import json

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from cascade.api.compute import forward
from cascade.api.compute.errors import ComputeError
from cascade.api.compute.versions import negotiated
from cascade.api.request import context
from cascade.db.models import Pod
from cascade.services.compute import moves, server_create
from cascade.services.volume import volumes as volume_service

ACROSS = "attaching a volume to a server of another pod is not supported yet"


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
    ask = forward.asker(request, context(request), await negotiated(request))
    pod = await server_create.volume_pod(
        db, request.app.state.registry, ask, volume_service.VOLUME, str(volume_id)
    )
    if pod is not None and await moves.under_way(db, str(volume_id), volume_service.VOLUME):
        raise ComputeError(
            409, f"Volume {volume_id} is moving to another pod: attach it when it has moved."
        )
    if pod is not None and pod.id != server_pod.id:
        raise ComputeError(
            409,
            f"Volume {volume_id} is in pod {pod.name} (availability zone {pod.az}) and server "
            f"{server_id} in pod {server_pod.name} (availability zone {server_pod.az}): "
            f"{ACROSS}.",
        )

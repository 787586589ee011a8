"""Volume transfers (`/os-volume-transfer`, and `/volume-transfers` from 3.55: below,
Cinder's 404).

- POST: made in the volume's pod (202 with the `auth_key`); its routing names
  the volume's project (`routed.owners`: an admin's transfer of a user's volume
  is the user's, as in Cinder).
- GET (list, `/detail`): every pod's, put together; GET/DELETE one: routed.
- POST /{id}/accept by another project: sent to the transfer's pod with the
  accepting user's token (the routing table finds the transfer: the acceptor
  cannot see it). When the pod accepts, the volume's routing moves to the
  accepting project, so it sees and reaches its new volume through the top.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.request import context, session
from cascade.api.volume import fanout
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
from cascade.api.volume.creates import asked, create_in
from cascade.api.volume.errors import VolumeError
from cascade.api.volume.routed import locate
from cascade.db.models import Pod, Routing
from cascade.services import routings
from cascade.services.route_cache import RouteCache
from cascade.services.volume import volumes as volume_service
from cascade.versions import Version

NEW_API = Version(3, 55)  # `/volume-transfers`; below, Cinder's 404


def _since(request: Request) -> Version | None:
    """The first microversion of the request's spelling of the API."""
    return NEW_API if pod_path(request).startswith("/volume-transfers") else None


def _missing(transfer_id: str) -> VolumeError:
    return VolumeError(404, f"Transfer {transfer_id} could not be found.")


async def create(request: Request) -> Response:
    version, body, entity = await asked(request, "transfer", _since(request), "volume_id")
    located = await locate(request, volume_service.VOLUME, str(entity["volume_id"]), version)
    return await create_in(
        request, volume_service.TRANSFER, located.pod, body, version, pod_path(request)
    )


_merged = fanout.merged("transfers", newest_first=True)


async def index(request: Request) -> Response:
    """GET (and /detail): every pod's transfers, newest first."""
    await negotiated(request, _since(request))
    return await _merged(request)


async def _routed(request: Request, transfer_id: str) -> tuple[Routing, Pod]:
    """The transfer's routing and pod, whoever asks (an acceptor is another project)."""
    async with session(request) as db:
        routing = await routings.find_top(db, volume_service.TRANSFER, transfer_id)
        pod = await db.get(Pod, routing.pod_id) if routing is not None else None
    if routing is None or pod is None:
        raise _missing(transfer_id)
    return routing, pod


async def member(request: Request) -> Response:
    """GET or DELETE one transfer: in its pod, for its own project (or an admin)."""
    version = await negotiated(request, _since(request))
    transfer_id = request.path_params["transfer_id"]
    routing, pod = await _routed(request, transfer_id)
    ctx = context(request)
    if not ctx.is_admin and routing.project_id != ctx.project_id:
        raise _missing(transfer_id)
    resp = await send(request, pod, version, request.method, pod_path(request))
    if request.method == "DELETE" and resp.status_code < 400:
        async with session(request) as db:
            await db.delete(await db.merge(routing))
            await db.commit()
    return await relay(request, pod, resp)


async def accept(request: Request) -> Response:
    version = await negotiated(request, _since(request))
    transfer_id = request.path_params["transfer_id"]
    routing, pod = await _routed(request, transfer_id)
    body = await json_body(request)
    resp = await send(request, pod, version, "POST", pod_path(request), json=body)
    found = await answered(request, pod, resp)
    volume_id = ((found or {}).get("transfer") or {}).get("volume_id")
    async with session(request) as db:
        if volume_id:
            volume = await routings.find_top(db, volume_service.VOLUME, str(volume_id))
            if volume is not None:
                volume.project_id = project_of(request)
        await db.delete(await db.merge(routing))
        await db.commit()
    if volume_id:
        request.app.state.registry.cache(RouteCache).drop(volume_service.VOLUME, str(volume_id))
    return reply(found, resp.status_code, {POD_HEADER: pod.name})

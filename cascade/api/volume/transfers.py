"""Volume transfers (`/os-volume-transfer`, and `/volume-transfers`, which Cinder's
api-ref dates from 3.55 but Cinder serves at every microversion).

- POST: made in the volume's pod (202 with the `auth_key`); its routing names
  the volume's project (`routed.owners`: an admin's transfer of a user's volume
  is the user's, as in Cinder).
- GET (list, `/detail`): every pod's, put together; GET/DELETE one: routed.
- POST /{id}/accept by another project: sent to the transfer's pod with the
  accepting user's token (the routing table finds the transfer: the acceptor
  cannot see it). When the pod accepts, the volume's routing moves to the
  accepting project, so it sees and reaches its new volume through the top; so do
  the routings of the volume's snapshots the pod moved with it.
"""

from __future__ import annotations

from sqlalchemy import update
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


def _missing(transfer_id: str) -> VolumeError:
    return VolumeError(404, f"Transfer {transfer_id} could not be found.")


async def create(request: Request) -> Response:
    version, body, entity = await asked(request, "transfer", required="volume_id")
    located = await locate(request, volume_service.VOLUME, str(entity["volume_id"]), version)
    return await create_in(
        request, volume_service.TRANSFER, located.pod, body, version, pod_path(request)
    )


index = fanout.merged("transfers", newest_first=True)


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
    version = await negotiated(request)
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
    """POST /{id}/accept: in the transfer's pod, with the acceptor's token; then the
    volume's routing, and those of the snapshots that went with it, move to the
    accepting project (Cinder moves the volume's snapshots too unless the transfer was
    made with `no_snapshots`)."""
    version = await negotiated(request)
    transfer_id = request.path_params["transfer_id"]
    routing, pod = await _routed(request, transfer_id)
    body = await json_body(request)
    resp = await send(request, pod, version, "POST", pod_path(request), json=body)
    found = await answered(request, pod, resp)
    volume_id = ((found or {}).get("transfer") or {}).get("volume_id")
    moved = await _snapshots_of(request, pod, version, str(volume_id)) if volume_id else []
    project = project_of(request)
    async with session(request) as db:
        if volume_id:
            volume = await routings.find_top(db, volume_service.VOLUME, str(volume_id))
            if volume is not None:
                volume.project_id = project
        if moved:
            await db.execute(
                update(Routing)
                .where(Routing.resource_type == volume_service.SNAPSHOT, Routing.top_id.in_(moved))
                .values(project_id=project)
            )
        await db.delete(await db.merge(routing))
        await db.commit()
    routes = request.app.state.registry.cache(RouteCache)
    if volume_id:
        routes.drop(volume_service.VOLUME, str(volume_id))
    for snapshot_id in moved:
        routes.drop(volume_service.SNAPSHOT, snapshot_id)
    return reply(found, resp.status_code, {POD_HEADER: pod.name})


async def _snapshots_of(request: Request, pod: Pod, version: Version, volume_id: str) -> list[str]:
    """The ids of the volume's snapshots the acceptor now owns, as its pod lists them to
    the acceptor (none when the pod does not answer: those routings stay as they were,
    and an operator sees them)."""
    params = [("volume_id", volume_id)]
    try:
        resp = await send(request, pod, version, "GET", "/snapshots/detail", params=params)
        listed = resp.json().get("snapshots") if resp.status_code == 200 else None
    except (VolumeError, ValueError, AttributeError):
        return []
    return [
        str(s["id"])
        for s in listed or []
        if isinstance(s, dict) and s.get("id") and s.get("volume_id") == volume_id
    ]

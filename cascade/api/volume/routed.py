"""Requests on one volume, snapshot or backup, routed by id to its pod and forwarded.

The pod is found through the routing table (another project's object, or one
nobody knows, is Cinder's 404 `<Kind> <id> could not be found.`); the request
goes on with every parameter, the body unchanged and the caller's token and
microversion; the answer comes back with links at the top, the top's AZ, the
microversion echoed and `X-Cascade-Pod` naming the pod. A pod's error keeps its
status and message, with the pod named. A delete the pod accepted marks the
routing `deleting`; a later 404 from the pod then removes it.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.request import session
from cascade.api.routing import Handler
from cascade.api.volume import asking, quotas, type_copy, volume_moves
from cascade.api.volume.common import (
    negotiated,
    raw_body,
    relay,
    send,
)
from cascade.api.volume.errors import VolumeError
from cascade.db.models import Pod
from cascade.services import resources
from cascade.services import routed as routed_service
from cascade.services.route_cache import RouteCache
from cascade.services.volume import create as volume_create
from cascade.services.volume import volumes as volume_service
from cascade.versions import Version


async def locate(
    request: Request, kind: str, object_id: str, version: Version
) -> volume_service.Located:
    """The pod of the caller's object, else Cinder's 404 for its kind."""
    async with asking.flow(request, version) as (env, db, ask):
        return await volume_create.locate(env, db, ask, kind, object_id)


# What Cinder serves below one object (cinder/api/v3/router.py and its contrib
# extensions): `action`, `metadata[/{key}]`, `encryption[/{key}]`, a backup's
# `export_record`; only these are ever forwarded to its pod.
SUB_RESOURCES = frozenset({"action", "metadata", "encryption", "export_record"})


def _declared(rest: str) -> bool:
    segments = rest.removeprefix("/").split("/")
    return segments[0] in SUB_RESOURCES and len(segments) <= 2 and all(segments)


def handler(resource: resources.Resource) -> Handler:
    """Any request on `/<collection>/<id>[/<rest>]` of `resource` (below its first
    microversion, Cinder's 404): the pod's answer, as the top's."""

    async def forward(request: Request) -> Response:
        version = await negotiated(request, resource.since)
        kind, object_id = resource.kind, request.path_params["object_id"]
        rest = f"/{request.path_params['rest']}" if request.path_params.get("rest") else ""
        if rest and not _declared(rest):
            raise VolumeError(404, "The resource could not be found.")
        located = await locate(request, kind, object_id, version)
        pod = located.pod
        content = await raw_body(request) if request.method in ("POST", "PUT") else None
        if kind == volume_service.VOLUME and request.method != "GET":
            await volume_moves.not_moving(request, object_id)
        if kind == volume_service.VOLUME and rest == "/action" and content:
            moved = await volume_moves.action(request, located, content, version)
            if moved is not None:
                return moved
            await _extend_quota(request, pod, object_id, content, version)
            content = await type_copy.retyped(request, pod, content)
        resp = await send(
            request,
            pod,
            version,
            request.method,
            f"{resource.path}/{object_id}{rest}",
            content=content,
            params=list(request.query_params.multi_items()),
            headers={"Content-Type": "application/json"} if content else None,
        )
        if resp.status_code == 404 and not rest and request.method in ("GET", "DELETE"):
            async with session(request) as db:
                await routed_service.gone(
                    db, located.routing, pod, request.app.state.registry.cache(RouteCache)
                )
            raise VolumeError(404, resource.missing.format(id=object_id))
        if request.method == "DELETE" and not rest and resp.status_code < 400:
            async with session(request) as db:
                routing = await db.merge(located.routing)
                await routed_service.mark(
                    db, routing, "deleting", request.app.state.registry.cache(RouteCache)
                )
        return await relay(request, pod, resp)

    return forward


async def size_of(request: Request, pod: Pod, volume_id: str, version: Version) -> int | None:
    """The volume's size in GB, from its pod (None: the pod did not say)."""
    resp = await send(request, pod, version, "GET", f"/volumes/{volume_id}")
    if resp.status_code != 200:
        return None
    return volume_create.size_of(resp.json().get("volume", {}).get("size"))


async def _extend_quota(
    request: Request, pod: Pod, volume_id: str, content: bytes, version: Version
) -> None:
    """An `os-extend` is checked against the top's quota first (the volume's size from
    its pod); anything the top cannot read is left to the pod."""
    try:
        new_size = int(json.loads(content)["os-extend"]["new_size"])
    except (ValueError, KeyError, TypeError):
        return
    size = await size_of(request, pod, volume_id, version)
    if size is not None:
        await quotas.check_extend(request, new_size, new_size - size)

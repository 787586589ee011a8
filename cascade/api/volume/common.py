"""What every Block Storage handler needs: the negotiated microversion, policy with
Cinder's 403, the JSON body with Cinder's 400, the caller for the pods, replies
that echo the microversion, and a pod's answer passed back as the top's."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import Response

from cascade.api import handlers, microversions
from cascade.api.microversions import Microversions
from cascade.api.request import caller_of, context, session
from cascade.api.volume import views
from cascade.api.volume.errors import VolumeError
from cascade.api.volume.microversion import echo_headers, negotiate, requested
from cascade.db.models import Pod
from cascade.pods import volume as pod_volume
from cascade.pods.client import PodUnavailable
from cascade.pods.compute import pod_message
from cascade.services.compute import moves
from cascade.services.versions import volume_range
from cascade.versions import Version

POD_HEADER = "X-Cascade-Pod"
V3 = "/volume/v3"  # what the routes are under

VOLUME = Microversions("volume", volume_range, requested, negotiate, echo_headers)


async def advertised(request: Request) -> tuple[Version, Version]:
    """The range every request negotiates against: what Cascade implements and every
    enabled pod's Cinder supports (see `microversions.advertised`)."""
    return await microversions.advertised(request, VOLUME)


async def negotiated(request: Request, since: Version | None = None) -> Version:
    """The request's microversion (400/406 as Cinder; below `since`, a resource's first:
    Cinder's 404), and the project id of the URL checked against the token's (Cinder's
    400 `Malformed request url`)."""
    version = await microversions.negotiated(request, VOLUME)
    if since is not None and version < since:
        raise VolumeError(404, "The resource could not be found.")
    in_url = request.scope.get("state", {}).get("volume_project")
    if in_url is not None and in_url != context(request).project_id:
        raise VolumeError(400, "Malformed request url")
    return version


def project_of(request: Request) -> str:
    """The caller's project (a volume always belongs to one)."""
    return context(request).project_id or ""


# Cinder's 403, 400 and 413 read as Nova's: one implementation serves both APIs
authorize = handlers.authorize
raw_body = handlers.raw_body
json_body = handlers.json_body
reply = handlers.reply


def caller_for(request: Request, version: Version) -> pod_volume.Caller:
    return caller_of(pod_volume.Caller, request, version)


def unavailable(exc: PodUnavailable) -> VolumeError:
    return VolumeError(
        503, f"The block storage service of pod {exc.pod} is unavailable: {exc.reason}"
    )


async def send(
    request: Request, pod: Pod, version: Version, method: str, path: str, **kwargs: Any
) -> httpx.Response:
    """The pod's answer; 503 (naming the pod) when it cannot be had."""
    try:
        return await pod_call(request, pod, caller_for(request, version), method, path, **kwargs)
    except PodUnavailable as exc:
        raise unavailable(exc) from exc


async def pod_call(
    request: Request, pod: Pod, caller: pod_volume.Caller, method: str, path: str, **kwargs: Any
) -> httpx.Response:
    """The pod's answer (`PodUnavailable` when it cannot be had), volumes moved into the
    pod from another named by their top ids both ways (`moves.PodMoves`)."""
    state = request.app.state
    kept = (await moves.of_pods(state.sessions, None, state.registry, [pod.id]))[pod.id]
    path, kwargs = moves.request_to_pod(kept, path, kwargs)
    resp = await pod_volume.call(state.registry, pod, caller, method, path, **kwargs)
    return moves.answer_from_pod(kept, resp)


def pod_error(resp: httpx.Response, pod: Pod, headers: dict[str, str] | None = None) -> VolumeError:
    """A pod's error as the top's: its status and message, with the pod named (and
    `headers`, such as the pods a fan-out left out)."""
    status = resp.status_code if resp.status_code < 600 else 502
    headers = dict(headers or {})
    if "retry-after" in resp.headers:
        headers["Retry-After"] = resp.headers["retry-after"]
    return VolumeError(status, f"{pod_message(resp)} (pod {pod.name})", headers)


async def pod_body(request: Request, pod: Pod, resp: httpx.Response) -> Any:
    """A pod's JSON answer with its links moved to the top (None: no body). The pod was
    called without a project id; the links get the one the request had, as Cinder's."""
    if not resp.content:
        return None
    root = await pod_volume.root(request.app.state.registry, pod)
    project = request.scope.get("state", {}).get("volume_project")
    top = str(request.base_url).rstrip("/") + "/volume/"  # the pods' <root> at the top
    moved = {root + "v3/": f"{top}v3/{project}/" if project else f"{top}v3/"}
    moved[root] = f"{top}{project}/" if project else top
    pattern = re.compile(r'(?<!\\)"(' + "|".join(re.escape(k) for k in moved) + ")")
    try:
        return json.loads(pattern.sub(lambda m: '"' + moved[m.group(1)], resp.text))
    except ValueError:
        return None


async def relay(
    request: Request, pod: Pod, resp: httpx.Response, headers: dict[str, str] | None = None
) -> Response:
    """One pod's answer as the top's (`answered`), `X-Cascade-Pod` naming the pod, and
    `headers`."""
    found = await answered(request, pod, resp, headers)
    return reply(found, resp.status_code, {POD_HEADER: pod.name, **(headers or {})})


async def answered(
    request: Request, pod: Pod, resp: httpx.Response, headers: dict[str, str] | None = None
) -> Any:
    """A pod's JSON answer as the top shows it (links, AZs and types at the top: `views`);
    a refusal raised with the pod named (and `headers`)."""
    if resp.status_code >= 400:
        raise pod_error(resp, pod, headers)
    found = await pod_body(request, pod, resp)
    async with session(request) as db:
        found = await views.shown(db, pod, found)
    if isinstance(found, dict):  # a volume on its way to another pod shows it
        state = request.app.state
        kept = (await moves.of_pods(state.sessions, None, state.registry, [pod.id]))[pod.id]
        for volume in [found.get("volume"), *(found.get("volumes") or [])]:
            if isinstance(volume, dict):
                kept.overlay_volume(volume)
    return found


def pod_path(request: Request) -> str:
    """The request's path as a pod is asked it (after `/v3`, the project id taken out)."""
    return request.url.path[len(V3) :]


def original_url(request: Request) -> str:
    """The URL the client asked for (with the project id the routing took out)."""
    path = request.scope.get("state", {}).get("volume_path") or request.url.path
    return str(request.base_url).rstrip("/") + path

"""Block Storage answers made of every pod's: asked in parallel with the caller's token
and put together at the top. A pod that is down is left out and named in
`X-Cascade-Unavailable-Pods` (so is one that has not answered within `[pods]
list_deadline`); a pod's refusal (4xx) is the answer, with the pod named.

- GET /scheduler-stats/get_pools (admin, Cinder's policy in the pods): every
  pod's pools, one list (pool names are the pods' own hosts, so they differ);
- GET /volumes/summary (3.12+): counts and sizes summed, metadata merged (3.36+);
- GET /messages (3.3+): every pod's messages, newest first; GET/DELETE
  /messages/{id}: the pod that has it (404 from every pod: Cinder's 404);
- GET /resource_filters (3.33+): the filters every pod accepts.
- GET /extensions[/{alias}]: the extensions every pod lists (Cinder's contrib
  extensions; the pods' release decides them).
"""

from __future__ import annotations

from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import Response

from cascade.api.request import session
from cascade.api.routing import Handler
from cascade.api.volume import views
from cascade.api.volume.common import (
    caller_for,
    negotiated,
    pod_body,
    pod_call,
    pod_error,
    pod_path,
    reply,
)
from cascade.api.volume.errors import VolumeError
from cascade.db.models import Pod
from cascade.pods import fanout
from cascade.pods import volume as pod_volume
from cascade.pods.client import PodUnavailable
from cascade.services import pods as pod_service
from cascade.versions import Version

JSON = {"Content-Type": "application/json"}


async def answers(
    request: Request,
    version: Version,
    path: str,
    params: list[tuple[str, str]] | None = None,
    *,
    method: str = "GET",
    content: bytes | None = None,
    refusals: bool = False,
) -> tuple[list[tuple[Pod, httpx.Response]], dict[str, str]]:
    """Every pod's answer to `method` `path` (with `params`, else the request's query),
    and the header naming the pods left out (down, late or answering 5xx). A pod's
    refusal (4xx) is raised, with the pod named, unless `refusals` keeps it an answer."""
    async with session(request) as db:
        pods = await pod_service.list_all(db)
    caller = caller_for(request, version)
    query = list(request.query_params.multi_items()) if params is None else params

    async def one(pod: Pod) -> httpx.Response:
        return await ask(request, pod, caller, path, query, method, content, refusals)

    found = await fanout.gather(request.app.state.registry, pod_volume.SERVICE, pods, one)
    return found.answers, found.headers()


async def ask(
    request: Request,
    pod: Pod,
    caller: pod_volume.Caller,
    path: str,
    params: list[tuple[str, str]],
    method: str = "GET",
    content: bytes | None = None,
    refusals: bool = False,
) -> httpx.Response:
    """One pod's answer in a fan-out: a 5xx leaves the pod out (`PodUnavailable`), a
    refusal (4xx) is raised with the pod named unless `refusals` keeps it."""
    resp = await pod_call(
        request,
        pod,
        caller,
        method,
        path,
        params=params,
        content=content,
        headers=JSON if content else None,
    )
    if resp.status_code >= 500:
        raise PodUnavailable(pod.name, pod_volume.SERVICE, f"answered {resp.status_code}")
    if resp.status_code >= 400 and not refusals:
        raise pod_error(resp, pod)
    return resp


async def every_pod(
    request: Request,
    version: Version,
    path: str,
    params: list[tuple[str, str]] | None = None,
) -> tuple[list[tuple[Pod, Any]], dict[str, str]]:
    """Every pod's decoded answer to GET `path` (links at the top; see `answers`)."""
    found, headers = await answers(request, version, path, params)
    return [(pod, await pod_body(request, pod, resp)) for pod, resp in found], headers


def entries(
    found: list[tuple[Pod, Any]], key: str, zone: str | None = None
) -> list[dict[str, Any]]:
    """The `key` lists of the pods' answers as one (with `zone`: each entry's AZ there at
    the top's name)."""
    return [
        views.item(entry, pod, zone) if zone else entry
        for pod, body in found
        for entry in (body or {}).get(key) or []
        if isinstance(entry, dict)
    ]


def merged(
    key: str, path: str | None = None, newest_first: bool = False, zone: str | None = None
) -> Handler:
    """GET of every pod's list (`path`, else the request's own; the query passed on): the
    `key` lists as one, newest first if asked (by `created_at`, then `id`), with `zone`
    at the top AZ's name."""

    async def handler(request: Request) -> Response:
        version = await negotiated(request)
        found, headers = await every_pod(request, version, path or pod_path(request))
        items = entries(found, key, zone)
        if newest_first:
            items.sort(
                key=lambda i: (str(i.get("created_at", "")), str(i.get("id", ""))), reverse=True
            )
        return reply({key: items}, headers=headers)

    return handler


pools = merged("pools", "/scheduler-stats/get_pools")
messages = merged("messages", "/messages", newest_first=True)


async def summary(request: Request) -> Response:
    version = await negotiated(request, Version(3, 12))
    found, headers = await every_pod(request, version, "/volumes/summary")
    total = {"total_count": 0, "total_size": 0}
    metadata: dict[str, list[str]] = {}
    for _, body in found:
        part = (body or {}).get("volume-summary", {})
        total["total_count"] += int(part.get("total_count") or 0)
        total["total_size"] += int(part.get("total_size") or 0)
        for key, values in (part.get("metadata") or {}).items():
            metadata[key] = sorted({*metadata.get(key, []), *values})
    out: dict[str, Any] = dict(total)
    if version >= Version(3, 36):
        out["metadata"] = metadata
    return reply({"volume-summary": out}, headers=headers)


async def message(request: Request) -> Response:
    """GET or DELETE /messages/{id}: asked of every pod, answered by the one that has it."""
    version = await negotiated(request)
    message_id = request.path_params["message_id"]
    async with session(request) as db:
        pods = await pod_service.list_all(db)
    caller = caller_for(request, version)
    for pod in pods:
        try:
            resp = await pod_call(request, pod, caller, request.method, f"/messages/{message_id}")
        except PodUnavailable:
            continue
        if resp.status_code == 404:
            continue
        if resp.status_code >= 400:
            raise pod_error(resp, pod)
        return reply(await pod_body(request, pod, resp), resp.status_code)
    raise VolumeError(404, f"Message {message_id} could not be found.")


async def _extensions(request: Request) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The extensions every pod that answered lists (by alias), in the first one's order."""
    version = await negotiated(request)
    found, headers = await every_pod(request, version, "/extensions", [])
    lists = [entries([(pod, body)], "extensions") for pod, body in found]
    if not lists:
        return [], headers
    common = set.intersection(*({str(e.get("alias")) for e in listed} for listed in lists))
    return [e for e in lists[0] if str(e.get("alias")) in common], headers


async def extensions(request: Request) -> Response:
    """GET /extensions: Cinder's list, of what every pod has."""
    listed, headers = await _extensions(request)
    return reply({"extensions": listed}, headers=headers)


async def extension(request: Request) -> Response:
    """GET /extensions/{alias}: one of them; another alias is Cinder's 404."""
    listed, headers = await _extensions(request)
    alias = request.path_params["alias"]
    found = next((e for e in listed if e.get("alias") == alias), None)
    if found is None:
        raise VolumeError(404, "The resource could not be found.", headers)
    return reply({"extension": found}, headers=headers)


async def resource_filters(request: Request) -> Response:
    version = await negotiated(request)
    found, headers = await every_pod(request, version, "/resource_filters")
    common: dict[str, set[str]] | None = None
    for _, body in found:
        mine = {
            str(f["resource"]): set(f.get("filters", []))
            for f in (body or {}).get("resource_filters", [])
        }
        common = (
            mine
            if common is None
            else {k: common[k] & mine[k] for k in common.keys() & mine.keys()}
        )
    filters = [
        {"resource": resource, "filters": sorted(names)}
        for resource, names in sorted((common or {}).items())
    ]
    return reply({"resource_filters": filters}, headers=headers)

"""Nova's volume proxy APIs at the top, answered from the top's own Block Storage.

Below microversion 2.36 Nova serves, from Cinder:
- GET /os-volumes, /os-volumes/detail: the caller's volumes (Nova's two views are
  one), with `limit`/`offset` (Nova's `common.limited`).
- POST /os-volumes `{"volume": {"size", ...}}`: 200 with the volume and a
  `Location`; a bad size or an unknown key is Nova's 400, an unknown
  `snapshot_id` 404, Cinder's 400 is Nova's 400 "Invalid input received: ...",
  Cinder's quota refusal Nova's 403.
- GET /os-volumes/{id} (404 "Volume {id} could not be found."), DELETE 202.
- GET/POST /os-snapshots, /os-snapshots/detail, GET/DELETE /os-snapshots/{id}
  likewise (404 "Snapshot {id} could not be found.").
The bodies are Nova's (`services.compute.volume_proxy`). At 2.36 and later each is
Nova's 404 "The resource could not be found." (`network_proxy.proxied`).

Nova's Cinder is here the top's Block Storage API, asked in-process (the same ASGI
app, with the caller's token): the top's volumes and snapshots, routed to their
pods, merged across pods, under the top's quotas, with top ids, exactly as a client
of the top's `/volume/v3` sees them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from starlette.requests import Request
from starlette.responses import Response

from cascade.api.compute import schemas
from cascade.api.compute.errors import ComputeError
from cascade.api.compute.network_proxy import limited, proxied
from cascade.api.handlers import json_body, reply
from cascade.services.compute import volume_proxy as views

VOLUME_BODY: schemas.Schema = {
    "type": "object",
    "properties": {
        "volume": {
            "type": "object",
            "properties": {
                "volume_type": {"type": "string"},
                "metadata": {"type": "object", "properties": {}, "additionalProperties": True},
                "snapshot_id": {"type": "string"},
                "size": {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 1},
                "availability_zone": {"type": "string"},
                "display_name": {"type": "string"},
                "display_description": {"type": "string"},
            },
            "required": ["size"],
            "additionalProperties": False,
        }
    },
    "required": ["volume"],
    "additionalProperties": False,
}
_TRUE = (True, "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes")
_FALSE = (False, "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no")
SNAPSHOT_BODY: schemas.Schema = {
    "type": "object",
    "properties": {
        "snapshot": {
            "type": "object",
            "properties": {
                "volume_id": {"type": "string"},
                "force": {"type": ["boolean", "string"], "enum": [*_TRUE, *_FALSE]},
                "display_name": {"type": "string"},
                "display_description": {"type": "string"},
            },
            "required": ["volume_id"],
            "additionalProperties": False,
        }
    },
    "required": ["snapshot"],
    "additionalProperties": False,
}
V3 = "/volume/v3"


async def _cinder(
    request: Request, method: str, path: str, body: dict[str, Any] | None = None
) -> httpx.Response:
    """The top's Block Storage API's answer to the caller's call (Cinder 3.0, as
    cinderclient asks by default), asked of the app serving this request."""
    headers = {"X-Auth-Token": request.headers.get("x-auth-token", "")}
    transport = httpx.ASGITransport(app=request.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cascade.internal") as c:
        return await c.request(method, V3 + path, json=body, headers=headers)


async def _every(request: Request, key: str) -> list[dict[str, Any]]:
    """Every item of the top's `/<key>/detail`, page after page (cinderclient follows
    the `<key>_links` next link when no limit is given, as Nova lists)."""
    path = f"/{key}/detail"
    found: list[dict[str, Any]] = []
    for _ in range(1000):  # a next link that never ends is not followed for ever
        answer = await _cinder(request, "GET", path)
        if answer.status_code != 200:
            raise _refused(answer, "The resource could not be found.")
        body = answer.json()
        found += body[key]
        nexts = [link for link in body.get(f"{key}_links", []) if link.get("rel") == "next"]
        if not nexts:
            break
        url = httpx.URL(nexts[0]["href"])
        _, _, rest = url.path.partition(f"/{key}/")
        path = f"/{key}/{rest}" + (f"?{url.query.decode()}" if url.query else "")
    return found


def _message(answer: httpx.Response) -> str:
    """The message of a Cinder error body (`{"<fault>": {"message"}}`)."""
    try:
        (fault,) = answer.json().values()
        return str(fault["message"])
    except (ValueError, TypeError, KeyError, AttributeError):
        return answer.text


def _refused(
    answer: httpx.Response, not_found: str | None, over: str | None = None
) -> ComputeError:
    """Cinder's refusal as Nova translates cinderclient's exceptions: 404 is the
    object's NotFound (`not_found`, or Cinder's message for None, as Nova's create
    passes it on), 400 InvalidInput, 413 (quota) Nova's 403 OverQuota (of `over`, or
    with Cinder's message for None)."""
    status = answer.status_code
    if status == 404:
        return ComputeError(404, not_found or _message(answer))
    client_text = f"{_message(answer)} (HTTP {status})"
    request_id = answer.headers.get("x-openstack-request-id")
    if request_id:
        client_text += f" (Request-ID: {request_id})"
    if status == 400:
        return ComputeError(400, f"Invalid input received: {client_text}")
    if status == 413:
        text = f"Quota exceeded for resources: {over}" if over else _message(answer)
        return ComputeError(403, text)
    if status == 403:
        return ComputeError(403, client_text)
    return ComputeError(status, _message(answer))


def _id(request: Request, name: str) -> str:
    return quote(request.path_params[name], safe="")


# --- volumes ---------------------------------------------------------------------------


async def volumes_index(request: Request) -> Response:
    """GET /os-volumes and /os-volumes/detail: the same view, as Nova's."""
    await proxied(request)
    found = limited(request, await _every(request, "volumes"))
    return reply({"volumes": [views.volume_view(v) for v in found]})


async def volume_create(request: Request) -> Response:
    await proxied(request)
    body = await json_body(request)
    schemas.check(VOLUME_BODY, body)
    given = body["volume"]
    size: int | str | None = given.get("size")
    snapshot_id = given.get("snapshot_id")
    if snapshot_id is not None:
        # Nova reads the snapshot first: an unknown one is its 404
        shown = await _cinder(request, "GET", f"/snapshots/{quote(snapshot_id, safe='')}")
        if shown.status_code != 200:
            raise _refused(shown, f"Snapshot {snapshot_id} could not be found.")
        if size is None:
            size = shown.json()["snapshot"]["size"]
    answer = await _cinder(request, "POST", "/volumes", views.volume_create_body(given, size))
    if answer.status_code not in (200, 202):
        # Nova's `translate_create_exception`: Cinder's own message for 404 and 413
        raise _refused(answer, None)
    made = answer.json()["volume"]
    location = f"{request.url}/{made['id']}"
    return reply({"volume": views.volume_view(made)}, headers={"Location": location})


async def volume_show(request: Request) -> Response:
    await proxied(request)
    volume_id = _id(request, "volume_id")
    answer = await _cinder(request, "GET", f"/volumes/{volume_id}")
    if answer.status_code != 200:
        raise _refused(answer, f"Volume {request.path_params['volume_id']} could not be found.")
    return reply({"volume": views.volume_view(answer.json()["volume"])})


async def volume_delete(request: Request) -> Response:
    await proxied(request)
    volume_id = _id(request, "volume_id")
    answer = await _cinder(request, "DELETE", f"/volumes/{volume_id}")
    if answer.status_code >= 300:
        raise _refused(answer, f"Volume {request.path_params['volume_id']} could not be found.")
    return Response(status_code=202)


# --- snapshots -------------------------------------------------------------------------


async def snapshots_index(request: Request) -> Response:
    """GET /os-snapshots and /os-snapshots/detail: the same view, as Nova's."""
    await proxied(request)
    found = limited(request, await _every(request, "snapshots"))
    return reply({"snapshots": [views.snapshot_view(s) for s in found]})


async def snapshot_create(request: Request) -> Response:
    await proxied(request)
    body = await json_body(request)
    schemas.check(SNAPSHOT_BODY, body)
    given = body["snapshot"]
    force = given.get("force", False) in _TRUE
    asked = views.snapshot_create_body(given, force)
    answer = await _cinder(request, "POST", "/snapshots", asked)
    if answer.status_code not in (200, 202):
        # Nova's `translate_mixed_exceptions`: an unknown volume is VolumeNotFound
        raise _refused(answer, f"Volume {given['volume_id']} could not be found.", over="snapshots")
    return reply({"snapshot": views.snapshot_view(answer.json()["snapshot"])})


async def snapshot_show(request: Request) -> Response:
    await proxied(request)
    snapshot_id = _id(request, "snapshot_id")
    answer = await _cinder(request, "GET", f"/snapshots/{snapshot_id}")
    if answer.status_code != 200:
        given = request.path_params["snapshot_id"]
        raise _refused(answer, f"Snapshot {given} could not be found.")
    return reply({"snapshot": views.snapshot_view(answer.json()["snapshot"])})


async def snapshot_delete(request: Request) -> Response:
    await proxied(request)
    snapshot_id = _id(request, "snapshot_id")
    answer = await _cinder(request, "DELETE", f"/snapshots/{snapshot_id}")
    if answer.status_code >= 300:
        given = request.path_params["snapshot_id"]
        raise _refused(answer, f"Snapshot {given} could not be found.")
    return Response(status_code=202)

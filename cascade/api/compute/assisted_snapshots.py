"""/compute/v2.1/os-assisted-volume-snapshots: Cinder's calls (a volume driver that needs
the hypervisor to snapshot an attached volume) sent to the pod of the volume's server.

The caller must pass the top's policy (`os_compute_api:os-assisted-volume-snapshots:
{create,delete}`, Nova's default: a service user or an admin; Nova's 403
otherwise); the pod is then asked with Cascade's service token. A volume and
the server it is attached to live in one pod, so the volume's routing names
the pod; a volume the top does not route is asked of every pod in order, and
the first that accepts it answers (else the first pod's refusal, Nova's 400
for a volume attached to no server there).

- POST /os-assisted-volume-snapshots `{"snapshot": {"volume_id", "create_info"}}`:
  the body is passed on as given (the pod checks it as Nova); one without a
  `volume_id` string is Nova's 400 before any pod is asked.
- DELETE /os-assisted-volume-snapshots/{id}?delete_info=<JSON with volume_id>:
  204; a `delete_info` that is missing or not such JSON is Nova's 400.
The answer carries `X-Cascade-Pod`.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.compute.errors import ComputeError
from cascade.api.compute.services import admin_calls, all_pods, answer_error, pod_reply
from cascade.api.compute.versions import negotiated
from cascade.api.handlers import authorize, json_body
from cascade.api.request import session
from cascade.db.models import Pod
from cascade.services import routings
from cascade.services.compute import hosts
from cascade.services.volume import volumes as volume_service
from cascade.versions import Version

RULE = "os_compute_api:os-assisted-volume-snapshots:"
PATH = "/os-assisted-volume-snapshots"


async def create(request: Request) -> Response:
    body = await json_body(request)
    snapshot = body.get("snapshot") if isinstance(body, dict) else None
    volume_id = snapshot.get("volume_id") if isinstance(snapshot, dict) else None
    if not isinstance(volume_id, str):
        raise ComputeError(400, "Invalid input for field/attribute snapshot.")
    version = await negotiated(request)
    authorize(request, RULE + "create")
    return await _send(request, version, volume_id, "POST", PATH, body=body)


async def delete(request: Request) -> Response:
    version = await negotiated(request)
    authorize(request, RULE + "delete")
    raw = request.query_params.get("delete_info")
    try:
        if raw is None:
            raise KeyError("delete_info")
        info = json.loads(raw)
        volume_id = info["volume_id"]
    except (KeyError, ValueError, TypeError) as exc:
        raise ComputeError(400, str(exc)) from None  # as Nova words it
    path = f"{PATH}/{quote(request.path_params['snapshot_id'], safe='')}"
    params = list(request.query_params.multi_items())
    return await _send(request, version, str(volume_id), "DELETE", path, params=params)


async def _send(
    request: Request,
    version: Version,
    volume_id: str,
    method: str,
    path: str,
    body: Any = None,
    params: list[tuple[str, str]] | None = None,
) -> Response:
    """The answer of the volume's pod (or of the first pod that accepts the call)."""
    async with session(request) as db:
        routing = await routings.find_top(db, volume_service.VOLUME, volume_id)
        pod = await db.get(Pod, routing.pod_id) if routing is not None else None
    pods = [pod] if pod is not None else await all_pods(request)
    admin = admin_calls(request, version)
    first: hosts.Answer | None = None
    for candidate in pods:
        answer = await admin.ask(candidate, method, path, params=params, body=body)
        if answer.ok:
            return pod_reply(answer, answer.body)
        first = first or answer
    if first is None:
        raise ComputeError(400, f"No volume Block Device Mapping with id {volume_id}.")
    raise answer_error(first)

"""/compute/v2.1/os-hosts: Nova's deprecated hosts API (2.1 to 2.42), over every pod's
hosts as one cloud's (admin).

From 2.43 every route is Nova's bare 404, before the policy. The caller must
pass the top's policy (`os_compute_api:os-hosts:<action>`, admin by default;
Nova's 403 otherwise); the pods are then asked with Cascade's service token.

- GET /os-hosts[?zone=]: every pod's hosts, asked in parallel and joined in
  pod order; hosts named as `cascade.services.compute.hosts` says (unchanged
  while unique, `<host>@<pod>` where several pods have the name), a pod's own
  AZ shown as its top AZ. `zone` (when not empty, as Nova) keeps the hosts of
  that top zone. A pod that is down is left out and named in
  `X-Cascade-Unavailable-Pods`.
- GET /os-hosts/{host}, PUT /os-hosts/{host} and GET
  /os-hosts/{host}/{reboot,shutdown,startup}: the PUT body is checked as
  Nova's schema first (400); then the host's pod answers. A `<host>@<pod>`
  name asks that pod; a bare name asks every pod, and the one that does not
  answer 404 answers (several: a 400 naming the qualified forms). When every
  pod answers 404 that is the answer, with Nova's message; when a pod that
  is down may hold the host, 503 naming it. The answer names the host as it
  was given (Nova echoes the name it was asked about) and carries
  `X-Cascade-Pod`.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.compute import schemas
from cascade.api.compute.errors import ComputeError
from cascade.api.compute.services import (
    admin_calls,
    all_pods,
    answer_error,
    errors_refused,
    host_book,
    listed,
    pod_reply,
)
from cascade.api.compute.versions import negotiated
from cascade.api.handlers import authorize, json_body
from cascade.db.models import Pod
from cascade.services.compute import hosts
from cascade.versions import Version

REMOVED = Version(2, 43)
RULE = "os_compute_api:os-hosts:"
_MODE = {"type": "string", "enum": ["enable", "disable", "Enable", "Disable", "ENABLE", "DISABLE"]}
# Nova's nova/api/openstack/compute/schemas/hosts.py `update`
UPDATE = {
    "type": "object",
    "properties": {"status": _MODE, "maintenance_mode": _MODE},
    "anyOf": [{"required": ["status"]}, {"required": ["maintenance_mode"]}],
    "additionalProperties": False,
}
POWER_ACTIONS = {"reboot": "reboot", "shutdown": "shutdown", "startup": "start"}


async def _begin(request: Request, rule: str) -> Version:
    """The request's microversion (Nova's bare 404 from 2.43), `RULE + rule` authorized."""
    version = await negotiated(request)
    if version >= REMOVED:
        raise ComputeError(404, "The resource could not be found.")
    authorize(request, RULE + rule)
    return version


async def index(request: Request) -> Response:
    version = await _begin(request, "list")
    pods = await all_pods(request)
    admin = admin_calls(request, version)
    answers, names = await asyncio.gather(
        admin.ask_all(pods, "/os-hosts"), hosts.host_names(admin, pods, host_book(request))
    )
    errors_refused(answers)
    zone = request.query_params.get("zone")
    shown: list[dict[str, Any]] = []
    for answer in answers:
        for item in hosts.items(answer, "hosts"):
            view = dict(item)
            if isinstance(view.get("host_name"), str):
                view["host_name"] = names.shown(answer.pod.name, view["host_name"])
            view["zone"] = hosts.top_zone(answer.pod, view.get("zone"))
            if not zone or view["zone"] == zone:
                shown.append(view)
    return listed({"hosts": shown}, answers)


async def show(request: Request) -> Response:
    version = await _begin(request, "show")
    return await _by_host(request, version, "GET", "", None)


async def update(request: Request) -> Response:
    body = await json_body(request)
    version = await negotiated(request)
    if version < REMOVED:
        schemas.check(UPDATE, body)  # Nova validates the body before the policy
    version = await _begin(request, "update")
    return await _by_host(request, version, "PUT", "", body)


async def reboot(request: Request) -> Response:
    return await _power(request, "reboot")


async def shutdown(request: Request) -> Response:
    return await _power(request, "shutdown")


async def startup(request: Request) -> Response:
    return await _power(request, "startup")


async def _power(request: Request, action: str) -> Response:
    version = await _begin(request, POWER_ACTIONS[action])
    return await _by_host(request, version, "GET", f"/{action}", None)


async def _by_host(
    request: Request, version: Version, method: str, suffix: str, body: Any
) -> Response:
    """The answer of the pod that has host `{host_id}` (see the module's docstring)."""
    given = request.path_params["host_id"]
    every = await all_pods(request)
    bare, pod_name = hosts.split_pod(given, (p.name for p in every))
    pods = [p for p in every if p.name == pod_name] if pod_name else every
    admin = admin_calls(request, version)
    path = f"/os-hosts/{quote(bare, safe='')}{suffix}"

    async def one(pod: Pod) -> hosts.Answer:
        return await admin.ask(pod, method, path, body=body)

    answers = await asyncio.gather(*(one(pod) for pod in pods))
    found = [a for a in answers if a.status != 404 and not a.down]
    if len(found) > 1:
        qualified = ", ".join(f"{bare}{hosts.SEPARATOR}{a.pod.name}" for a in found)
        raise ComputeError(
            400, f"Host {given} is the name of a host in several pods: name one of {qualified}."
        )
    if not found:
        down = [a for a in answers if a.down]
        if down:
            raise answer_error(down[0])
        message = answers[0].message if answers else f"Compute host {given} could not be found."
        raise ComputeError(404, message)
    answer = found[0]
    if not answer.ok:
        raise answer_error(answer)
    return pod_reply(answer, _named(answer.body, given))


def _named(body: Any, given: str) -> Any:
    """A pod's answer about a host with the host named as the client named it."""
    if not isinstance(body, dict):
        return body
    if isinstance(body.get("host"), str):
        return {**body, "host": given}
    if isinstance(body.get("host"), list):
        resources = []
        for item in body["host"]:
            resource = item.get("resource") if isinstance(item, dict) else None
            if isinstance(resource, dict):
                item = {**item, "resource": {**resource, "host": given}}
            resources.append(item)
        return {**body, "host": resources}
    return body

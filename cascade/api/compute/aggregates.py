"""/compute/v2.1/os-aggregates: every pod's host aggregates, as one cloud's (admin).

An aggregate groups hosts of one pod, so it lives in that pod. The caller
must pass the top's policy (Nova's rule names `os_compute_api:os-aggregates:*`
and `compute:aggregates:images`, admin by default; Nova's 403 otherwise);
the pods are then asked with Cascade's service token, since an admin of the
top is not necessarily an admin of each pod's project scope. The pods are
asked at microversion 2.41 at least (where every enabled pod has it) so
that their answers carry the uuid the routings are keyed on; the top shows
`uuid` from 2.41 only, as Nova does.

Ids are the top's (`cascade.services.compute.aggregates.Numbering`): the pod's own
integer id while a single pod is registered; with several, pod position *
1,000,000 + the pod's id (pods in registration order). An integer that
names no pod's aggregate is 404 `Aggregate X could not be found.`; one
that is not an integer is Nova's 400.

In every view `id` is the top id, the pod's own AZ is shown as its top AZ
(`availability_zone` and metadata `availability_zone`), and hosts are named
as in os-services (`cascade.services.compute.hosts`): unchanged while unique across
pods, `<host>@<pod>` where several pods have that name.

- GET /os-aggregates: every pod's aggregates, the pods asked in parallel
  and joined in registration order. A pod that is down is left out and
  named in `X-Cascade-Unavailable-Pods`. From 2.102 any query parameter is
  a 400, as in Nova (GET /os-aggregates/{id} too).
- POST /os-aggregates `{"aggregate": {"name", "availability_zone"}}`: the
  pod is chosen by the top AZ given: the AZ's pod, or with several the
  first enabled one in registration order (an aggregate in another pod of
  that AZ cannot be made through the top). The AZ is sent as the pod's own
  AZ name. An AZ no pod serves is a 400 listing the top's AZs. Without an
  AZ (as most clients make a plain host group) the aggregate goes, without
  an AZ, to the pod of `[scheduling] default_az` when set, else to the first
  enabled pod in registration order, whose hosts os-services lists first.
  200 and `X-Cascade-Pod`.
- GET, PUT, DELETE /os-aggregates/{id}, POST /os-aggregates/{id}/action
  (`add_host`, `remove_host`, `set_metadata`) and, from 2.81, POST
  /os-aggregates/{id}/images go to the aggregate's pod with the pod's id;
  the answer carries `X-Cascade-Pod`, a pod that is down is a 503 naming
  it, and a pod's error comes back with its status, the pod named and the
  top id in place of the pod's. An AZ set by PUT or `set_metadata` must be
  the top AZ of the aggregate's pod (400 otherwise) and is sent as the
  pod's own name. `add_host`/`remove_host` take either host form and must
  name a host of the aggregate's pod: a host only other pods have is a 409
  naming the pods, one no pod has Nova's 404. `images` are passed on as
  given: they must be image ids the pod knows.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.compute.errors import ComputeError
from cascade.api.compute.limits import check_query
from cascade.api.compute.services import (
    admin_calls,
    all_pods,
    answer_error,
    errors_refused,
    host_book,
    listed,
    pod_reply,
    succeeded,
)
from cascade.api.compute.versions import advertised, negotiated
from cascade.api.handlers import authorize, json_body
from cascade.api.request import session
from cascade.db.models import Pod
from cascade.services.compute import aggregates as aggregate_service
from cascade.services.compute import hosts
from cascade.services.compute.aggregates import Numbering
from cascade.versions import Version

LOG = logging.getLogger(__name__)
RULE = "os_compute_api:os-aggregates:"
IMAGES_RULE = "compute:aggregates:images"
UUID_VIEW = Version(2, 41)
IMAGES = Version(2, 81)
STRICT_QUERY = Version(2, 102)
ACTIONS = ("add_host", "remove_host", "set_metadata")


@dataclass(frozen=True)
class Call:
    """What one request works with: its microversion, the pods and how to ask them."""

    version: Version
    admin: hosts.Admin
    pods: list[Pod]
    numbering: Numbering


async def _begin(request: Request, rule: str | None = None) -> Call:
    """The request's microversion (400/406 as Nova), `rule` authorized, and the pods asked
    at 2.41 at least where every pod has it."""
    _, high = await advertised(request)
    version = await negotiated(request)
    if rule is not None:
        authorize(request, rule)
    pods = await all_pods(request)
    asked_at = max(version, UUID_VIEW) if high >= UUID_VIEW else version
    return Call(version, admin_calls(request, version, asked_at), pods, Numbering(pods))


def _not_found(given: str) -> ComputeError:
    return ComputeError(404, f"Aggregate {given} could not be found.")


# --- views ---


def _view(
    item: dict[str, Any], pod: Pod, top: int, names: hosts.HostNames, version: Version
) -> dict[str, Any]:
    """A pod's aggregate as the top shows it."""
    shown = {**item, "id": top}
    if version < UUID_VIEW:
        shown.pop("uuid", None)
    if "availability_zone" in shown:
        shown["availability_zone"] = hosts.top_zone(pod, shown["availability_zone"])
    metadata = shown.get("metadata")
    if isinstance(metadata, dict) and "availability_zone" in metadata:
        zone = hosts.top_zone(pod, metadata["availability_zone"])
        shown["metadata"] = {**metadata, "availability_zone": zone}
    if isinstance(shown.get("hosts"), list):
        shown["hosts"] = [
            names.shown(pod.name, h) if isinstance(h, str) else h for h in shown["hosts"]
        ]
    return shown


def _top_id(call: Call, pod: Pod, item: dict[str, Any]) -> int | None:
    bottom = item.get("id")
    if not isinstance(bottom, int) or isinstance(bottom, bool):
        return None
    return call.numbering.top_id(pod, bottom)


async def _names(request: Request, call: Call, items: list[dict[str, Any]]) -> hosts.HostNames:
    """Host names over every pod, asked only when a name could clash and is shown."""
    shown = any(item.get("hosts") for item in items)
    return await hosts.host_names(call.admin, call.pods, host_book(request), shown)


# --- GET /os-aggregates and POST /os-aggregates ---


async def index(request: Request) -> Response:
    """GET /os-aggregates: 200 with every pod's aggregates (from 2.102 a query is 400)."""
    call = await _begin(request, RULE + "index")
    check_query(request, (), call.version, since=STRICT_QUERY)
    answers = await call.admin.ask_all(call.pods, "/os-aggregates")
    errors_refused(answers)
    found = [(a.pod, item) for a in answers for item in hosts.items(a, "aggregates")]
    names = await _names(request, call, [item for _, item in found])
    async with session(request) as db:
        for answer in answers:
            if answer.ok:
                await aggregate_service.sync(db, answer.pod, hosts.items(answer, "aggregates"))
    shown = []
    for pod, item in found:
        top = _top_id(call, pod, item)
        if top is None:
            LOG.warning("aggregate %s of pod %s cannot be numbered: left out", item, pod.name)
            continue
        shown.append(_view(item, pod, top, names, call.version))
    return listed({"aggregates": shown}, answers)


def _target(pods: list[Pod], given: Any, default_az: str = "") -> Pod:
    """The pod a new aggregate goes to, from the top AZ the client gave; without one, the
    pod of the configured default AZ (`[scheduling] default_az`), else the first enabled
    pod in registration order (the first pod when none is)."""
    if not pods:
        raise ComputeError(503, "No pod is registered: there is nowhere to create the aggregate.")
    zones = ", ".join(sorted({p.az for p in pods}))
    if given is None:
        found = aggregate_service.pod_for_az(pods, default_az) if default_az else None
        return found or next((p for p in pods if p.enabled), pods[0])
    if not isinstance(given, str):
        message = (
            f"Invalid input for field/attribute availability_zone. Value: {given}. "
            f"{given!r} is not valid under any of the given schemas"
        )
        raise ComputeError(400, message)
    pod = aggregate_service.pod_for_az(pods, given)
    if pod is None:
        message = f"No pod serves availability zone {given}; the availability zones are {zones}."
        raise ComputeError(400, message)
    return pod


async def create(request: Request) -> Response:
    """POST /os-aggregates: 200 with the aggregate made in the pod of its AZ."""
    call = await _begin(request, RULE + "create")
    body = await json_body(request)
    wanted = body.get("aggregate") if isinstance(body, dict) else None
    if not isinstance(wanted, dict):
        raise ComputeError(400, "'aggregate' is a required property")
    default_az = request.app.state.conf.scheduling.default_az
    pod = _target(call.pods, wanted.get("availability_zone"), default_az)
    if wanted.get("availability_zone") is not None:
        wanted = {**wanted, "availability_zone": pod.pod_az}
    body = {**body, "aggregate": wanted}
    answer = succeeded(await call.admin.ask(pod, "POST", "/os-aggregates", body=body))
    return await _one(request, call, answer)


# --- one aggregate ---


def _locate(call: Call, given: str) -> tuple[Pod, int]:
    """The pod and the pod's id of top id `given` (Nova's 400 or 404 otherwise)."""
    try:
        number = int(given)
    except ValueError:
        raise ComputeError(400, "Invalid input received: id must be an integer") from None
    found = call.numbering.find(number)
    if found is None:
        raise _not_found(given)
    return found


async def _send(
    request: Request, call: Call, given: str, method: str, suffix: str = "", body: Any = None
) -> tuple[hosts.Answer, int]:
    """The aggregate's pod's successful answer to `method` on it, and the pod's id."""
    pod, bottom = _locate(call, given)
    answer = await call.admin.ask(pod, method, f"/os-aggregates/{bottom}{suffix}", body=body)
    if answer.ok:
        return answer, bottom
    if answer.status == 404 and answer.message == f"Aggregate {bottom} could not be found.":
        async with session(request) as db:
            await aggregate_service.went_away(db, pod, bottom)
        raise _not_found(given)
    error = answer_error(answer)
    if str(bottom) != given:  # the pod's id in its message is not the one the client knows
        text = re.sub(rf"\b([Aa]ggregate) {bottom}\b", rf"\g<1> {given}", error.message)
        error = ComputeError(error.status, text, error.headers)
    raise error


async def _one(
    request: Request,
    call: Call,
    answer: hosts.Answer,
    bottom: int | None = None,
    names: hosts.HostNames | None = None,
) -> Response:
    """A pod's answer about one aggregate (`bottom` in the pod; None: the one it made), as
    the top shows it; its routing kept."""
    item = answer.body.get("aggregate") if isinstance(answer.body, dict) else None
    if not isinstance(item, dict):
        return pod_reply(answer, answer.body)
    async with session(request) as db:
        await aggregate_service.remember(db, answer.pod, item)
    pod = answer.pod
    top = _top_id(call, pod, item) if bottom is None else call.numbering.top_id(pod, bottom)
    if top is None:
        message = f"Aggregate {item.get('id')} of pod {pod.name} has an id the top cannot number."
        raise ComputeError(500, message)
    if names is None:
        names = await _names(request, call, [item])
    view = _view(item, answer.pod, top, names, call.version)
    return pod_reply(answer, {"aggregate": view})


async def show(request: Request) -> Response:
    call = await _begin(request, RULE + "show")
    check_query(request, (), call.version, since=STRICT_QUERY)
    given = request.path_params["aggregate_id"]
    answer, bottom = await _send(request, call, given, "GET")
    return await _one(request, call, answer, bottom)


def _pod_zone(pod: Pod, given: Any, top: str) -> Any:
    """An AZ the client sets on aggregate `top` of `pod`, as the pod names it."""
    if not isinstance(given, str):
        return given  # null clears it; anything else is for the pod to refuse
    if given != pod.az:
        message = (
            f"Aggregate {top} lives in pod {pod.name}, which serves availability zone "
            f"{pod.az}: it cannot be put in availability zone {given}."
        )
        raise ComputeError(400, message)
    return pod.pod_az


async def update(request: Request) -> Response:
    call = await _begin(request, RULE + "update")
    given = request.path_params["aggregate_id"]
    body = await json_body(request)
    changes = body.get("aggregate") if isinstance(body, dict) else None
    if isinstance(changes, dict) and "availability_zone" in changes:
        pod, _ = _locate(call, given)
        zone = _pod_zone(pod, changes["availability_zone"], given)
        body = {**body, "aggregate": {**changes, "availability_zone": zone}}
    answer, bottom = await _send(request, call, given, "PUT", body=body)
    return await _one(request, call, answer, bottom)


async def delete(request: Request) -> Response:
    call = await _begin(request, RULE + "delete")
    answer, bottom = await _send(request, call, request.path_params["aggregate_id"], "DELETE")
    async with session(request) as db:
        await aggregate_service.forget(db, answer.pod, bottom)
    return pod_reply(answer, None)


async def _pod_host(
    request: Request, call: Call, pod: Pod, top: str, given: str, action: str
) -> tuple[str, hosts.HostNames]:
    """The pod's name for host `given` (either form), which must be a host of `pod`."""
    found = await hosts.inventory(call.admin, call.pods, host_book(request))
    succeeded(next(a for a in found.answers if a.pod.id == pod.id))  # its pod down: 503
    targets = found.names.resolve(given)
    mine = [host for pod_name, host in targets if pod_name == pod.name]
    if mine:
        return mine[0], found.names
    if targets:
        others = ", ".join(pod_name for pod_name, _ in targets)
        message = (
            f"Host {given} is a host of pod {others}, but aggregate {top} lives in pod "
            f"{pod.name}: an aggregate can only hold hosts of its own pod."
        )
        raise ComputeError(409, message)
    if action == "add_host":
        raise ComputeError(404, f"Compute host {given} could not be found.")
    raise ComputeError(404, f"Cannot remove host {given} in aggregate {top}")


async def action(request: Request) -> Response:
    call = await _begin(request)
    body = await json_body(request)
    if not isinstance(body, dict) or len(body) != 1:
        raise ComputeError(400, "Malformed request body")
    name, inner = next(iter(body.items()))
    if name not in ACTIONS:
        raise ComputeError(400, f"There is no such action: {name}")
    authorize(request, RULE + name)
    given = request.path_params["aggregate_id"]
    pod, _ = _locate(call, given)
    names: hosts.HostNames | None = None
    if name in ("add_host", "remove_host") and isinstance(inner, dict):
        host = inner.get("host")
        if isinstance(host, str):
            pod_host, names = await _pod_host(request, call, pod, given, host, name)
            body = {name: {**inner, "host": pod_host}}
    metadata = inner.get("metadata") if isinstance(inner, dict) else None
    if name == "set_metadata" and isinstance(metadata, dict) and "availability_zone" in metadata:
        zone = _pod_zone(pod, metadata["availability_zone"], given)
        body = {name: {**inner, "metadata": {**metadata, "availability_zone": zone}}}
    answer, bottom = await _send(request, call, given, "POST", "/action", body)
    return await _one(request, call, answer, bottom, names)


async def images(request: Request) -> Response:
    call = await _begin(request)
    if call.version < IMAGES:
        raise ComputeError(404, "The resource could not be found.")  # Nova's, before 2.81
    authorize(request, IMAGES_RULE)
    body = await json_body(request)
    given = request.path_params["aggregate_id"]
    answer, _ = await _send(request, call, given, "POST", "/images", body)
    return pod_reply(answer, None)

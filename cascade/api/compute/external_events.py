"""POST /os-server-external-events: events for servers (Neutron's port plugged, Cinder's
volume extended...), each delivered to the pod that holds its server.

Policy `os_compute_api:os-server-external-events:create` (Nova's default: a
service user or an admin). The body is checked as Nova's outline (`events`, a
non-empty list of objects each with `name` and `server_uuid` strings); the
pods check the rest for the request's microversion. Events are grouped by
their server's pod (the routing table) and each group is sent to its pod
with Cascade's service token, the pods in parallel; the answer lists every
event in the order given, as the pods answered it. As Nova: an event for a
server no pod holds is `failed` with code 404, and the answer is 207 when
any event failed, 200 otherwise. An event whose pod did not answer is
`failed` with code 503, its pod named in `X-Cascade-Unavailable-Pods`; a
pod's refusal of its group (400) is the answer, with the pod named.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.compute import forward
from cascade.api.compute.errors import ComputeError
from cascade.api.compute.services import admin_calls, answer_error
from cascade.api.compute.versions import negotiated
from cascade.api.handlers import authorize, json_body, reply
from cascade.api.request import session
from cascade.db.models import Pod
from cascade.pods import fanout
from cascade.pods.client import PodUnavailable
from cascade.services import routed
from cascade.services.compute import servers as server_service

RULE = "os_compute_api:os-server-external-events:create"


def _events(body: Any) -> list[dict[str, Any]]:
    """The events of the body, or Nova's 400 for a body that is not its outline."""
    events = body.get("events") if isinstance(body, dict) else None
    if not isinstance(events, list) or not events:
        raise ComputeError(400, "Invalid input for field/attribute events.")
    for event in events:
        if not isinstance(event, dict) or not all(
            isinstance(event.get(key), str) for key in ("name", "server_uuid")
        ):
            raise ComputeError(
                400, "Invalid input for field/attribute events: each needs a name and server_uuid."
            )
    return events


async def create(request: Request) -> Response:
    version = await negotiated(request)
    authorize(request, RULE)
    events = _events(await json_body(request))
    registry = request.app.state.registry
    groups: dict[str, tuple[Pod, list[int]]] = {}
    async with session(request) as db:
        for n, event in enumerate(events):
            try:
                where = await server_service.locate(
                    db, registry, forward.caller_for(request, version), event["server_uuid"], None
                )
            except routed.NotFound:
                continue
            groups.setdefault(where.pod.id, (where.pod, []))[1].append(n)
    admin = admin_calls(request, version)

    async def deliver(pod: Pod) -> list[dict[str, Any]]:
        places = groups[pod.id][1]
        answer = await admin.ask(
            pod, "POST", "/os-server-external-events", body={"events": [events[n] for n in places]}
        )
        if answer.down:
            raise PodUnavailable(pod.name, "compute", answer.message)
        if not answer.ok:
            raise answer_error(answer)
        found = answer.body.get("events") if isinstance(answer.body, dict) else None
        if not isinstance(found, list) or len(found) != len(places):
            raise PodUnavailable(pod.name, "compute", "its answer lists other events")
        return [dict(item) for item in found]

    pods = [pod for pod, _ in groups.values()]
    delivered = await fanout.gather(registry, "compute", pods, deliver)
    shown: list[dict[str, Any]] = [{**event, "status": "failed", "code": 404} for event in events]
    for pod, answered in delivered.answers:
        for n, item in zip(groups[pod.id][1], answered, strict=True):
            shown[n] = item
    for pod in delivered.unavailable:
        for n in groups[pod.id][1]:
            shown[n] = {**events[n], "status": "failed", "code": 503}
    status = 200 if all(item.get("code") == 200 for item in shown) else 207
    return reply({"events": shown}, status, delivered.headers())

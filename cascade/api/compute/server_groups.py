"""os-server-groups: a server group lives in one pod, and its members are placed there.

- POST /os-server-groups: created in the pod the project's new resources go
  to (its binding in its default AZ), body forwarded unchanged; the routing
  is recorded; 200 with the pod's answer and `X-Cascade-Pod`.
- GET /os-server-groups: every pod's groups (the caller's token; admins
  with `all_projects` see every project's), pods in registration order,
  then `offset`/`limit` applied at the top as Nova does. A pod that does not
  answer is left out and named in `X-Cascade-Unavailable-Pods`.
- GET / DELETE /os-server-groups/{id}: routed by id; an unknown id is 404
  `Server group <id> could not be found.`
- A server create with the scheduler hint `group` goes to the group's pod
  (see `services.server_create`); an AZ in the same body that is not the pod's is 400.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.compute import forward
from cascade.api.compute.errors import ComputeError
from cascade.api.compute.versions import negotiated
from cascade.api.handlers import authorize, int_param, json_body, reply
from cascade.api.request import session
from cascade.db.models import Pod
from cascade.pods import fanout
from cascade.services import pods as pod_service
from cascade.services import routed, scheduling
from cascade.services.compute import servers as server_service

KIND = server_service.SERVER_GROUP


async def index(request: Request) -> Response:
    version = await negotiated(request)
    authorize(request, "os_compute_api:os-server-groups:index")
    limit = int_param("limit", request.query_params.get("limit"))
    offset = int_param("offset", request.query_params.get("offset")) or 0
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("limit", "offset")]
    caller = forward.caller_for(request, version)
    async with session(request) as db:
        pods = await pod_service.list_all(db)

        async def read(pod: Pod) -> list[dict[str, Any]]:
            resp = await forward.listed(request, pod, caller, "/os-server-groups", params)
            return [g for g in resp.json().get("server_groups", []) if isinstance(g, dict)]

        found = await fanout.gather(request.app.state.registry, "compute", pods, read)
        listed = [(pod, group) for pod, answer in found.answers for group in answer]
        await server_service.heal(db, KIND, listed)
    end = None if limit is None else offset + min(limit, 1000)
    groups = [group for _, group in listed]
    return reply({"server_groups": groups[offset:end]}, headers=found.headers())


async def create(request: Request) -> Response:
    version = await negotiated(request)
    ctx = authorize(request, "os_compute_api:os-server-groups:create")
    body = await json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("server_group"), dict):
        raise ComputeError(
            400,
            "Invalid input for field/attribute server_group: 'server_group' is a required object.",
        )
    conf = request.app.state.conf.scheduling
    async with session(request) as db:
        try:
            az = await scheduling.default_az(db, conf, ctx.project_id or "")
            pod = await scheduling.pod_for(db, conf, ctx.project_id or "", az)
        except scheduling.NoPodForAz as exc:
            raise ComputeError(503, f"No pod can take the server group: {exc}.") from exc
        resp = await forward.send(
            request,
            pod,
            version,
            "POST",
            "/os-server-groups",
            content=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        if resp.status_code < 400:
            made = resp.json().get("server_group", {})
            await routed.record(db, str(made["id"]), pod.id, ctx.project_id or "", kind=KIND)
        return await forward.relay(request, db, pod, resp)


async def member(request: Request) -> Response:
    """GET or DELETE one group in its pod; the routing goes with a successful delete."""
    version = await negotiated(request)
    deleting = request.method == "DELETE"
    method, action = ("DELETE", "delete") if deleting else ("GET", "show")  # HEAD: as GET
    authorize(request, f"os_compute_api:os-server-groups:{action}")
    group_id = request.path_params["group_id"]
    async with session(request) as db:
        where = await forward.locate(request, db, group_id, version, kind=KIND)
        resp = await forward.send(
            request, where.pod, version, method, f"/os-server-groups/{group_id}"
        )
        if resp.status_code == 404:
            raise await forward.gone(request, db, where)
        if deleting and resp.status_code < 400:
            await db.delete(where.routing)
            await db.commit()
        return await forward.relay(request, db, where.pod, resp)

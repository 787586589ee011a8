"""A server moved to another pod through Nova's own actions at the top (see
`services/compute/moves.py`):

- `migrate` with a `host` of another pod (`<host>@<pod>`, or the pod's name): 202, the
  move queued (policy `os_compute_api:os-migrate-server:migrate:host`, admins), its
  attached volumes moving with it; 409 when it cannot (booted from a volume, not
  ACTIVE or SHUTOFF, moving already, a target pod that takes nothing new). A host of
  the server's own pod, or none, is the pod's own migration, forwarded as any action.
- `confirmResize` (204) and `revertResize` (202) of a server whose move waits in
  VERIFY_RESIZE; 409 while it does not.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from cascade.api.compute import forward
from cascade.api.compute.errors import ComputeError
from cascade.api.handlers import authorize
from cascade.db.models import Pod
from cascade.services import routed
from cascade.services.compute import hosts, moves
from cascade.versions import Version

READ = Version.parse(moves.READ_VERSION)


async def _target(db: AsyncSession, where: routed.Located, host: Any) -> Pod | None:
    """The pod a `migrate` host names, when it is another pod than the server's."""
    if not isinstance(host, str) or not host:
        return None
    pods = {p.name: p for p in (await db.scalars(select(Pod))).all()}
    _, pod_name = hosts.split_pod(host, pods)
    if pod_name is None and host in pods:
        pod_name = host
    if pod_name is None or pod_name == where.pod.name:
        return None
    return pods[pod_name]


async def action(
    request: Request,
    db: AsyncSession,
    where: routed.Located,
    body: dict[str, Any],
    version: Version,
) -> Response | None:
    """The answer to a move's action, or None when the action is not one (forwarded)."""
    server_id = where.routing.top_id
    if isinstance(body.get("migrate"), dict):
        target = await _target(db, where, body["migrate"].get("host"))
        if target is None:
            return None
        authorize(request, "os_compute_api:os-migrate-server:migrate:host")
        resp = await forward.send(
            request, where.pod, READ, "GET", f"/servers/{forward.pod_id_of(where)}"
        )
        if resp.status_code != 200:
            raise forward.pod_error(resp, where.pod)
        try:
            move = await moves.start(db, where.routing, where.pod, target, resp.json()["server"])
        except moves.MoveRefused as exc:
            raise ComputeError(409, str(exc)) from None
        moves.forget(request.app.state.registry, move.source_pod_id, move.target_pod_id)
        return Response(status_code=202)
    for name, status in (("confirmResize", 204), ("revertResize", 202)):
        if name in body and await moves.under_way(db, server_id) is not None:
            authorize(request, "os_compute_api:os-migrate-server:migrate")
            try:
                move = await moves.decide(db, server_id, confirm=name == "confirmResize")
            except moves.MoveRefused as exc:
                raise ComputeError(409, str(exc)) from None
            moves.forget(request.app.state.registry, move.source_pod_id, move.target_pod_id)
            return Response(status_code=status)
    return None

"""A volume moved to another pod through Cinder's own admin action at the top (see
`services/volume/moves.py`):

- `os-migrate_volume` `{"host": ...}` (or, from 3.16, `{"cluster": ...}`) naming a host
  of another pod (one its `/os-services` list; Cinder's `h`, `h@backend` and
  `h@backend#pool` forms), or the pod's name: 202, the move queued (policy
  `volume_extension:volume_admin_actions:migrate_volume`, admins); Cinder's 400 when it
  would refuse (not available, snapshots, a group, moving already, a target pod that
  takes nothing new). A host of the volume's own pod is the pod's own migration,
  forwarded as any action.
- While a volume moves, what would change it (an action, an update, a delete) is
  Cinder's 400 for a volume in migration; reads go on (the source answers).
"""

from __future__ import annotations

import json

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from cascade.api.request import session
from cascade.api.volume import host_pods
from cascade.api.volume.common import authorize, caller_for, unavailable
from cascade.api.volume.errors import VolumeError
from cascade.db.models import Pod
from cascade.pods.client import PodUnavailable
from cascade.services.compute import moves
from cascade.services.volume import moves as volume_moves
from cascade.services.volume import volumes as volume_service
from cascade.versions import Version

READ = Version.parse(volume_moves.READ_VERSION)


def _asked(content: bytes | None) -> str | None:
    """The host (or cluster) an `os-migrate_volume` body names, if it is one."""
    try:
        body = json.loads(content or b"")
    except ValueError:
        return None
    asked = body.get("os-migrate_volume") if isinstance(body, dict) else None
    if not isinstance(asked, dict):
        return None
    where = asked.get("host") or asked.get("cluster")
    return where if isinstance(where, str) and where else None


async def _target(request: Request, version: Version, where: str, source: Pod) -> Pod | None:
    """The pod `where` names when it is another pod than the source's."""
    async with session(request) as db:
        pods = {p.name: p for p in (await db.scalars(select(Pod))).all()}
    if where in pods:
        target: Pod | None = pods[where]
    else:
        target = (await host_pods.pod_of_host(request, version, where)).pod
    return target if target is not None and target.id != source.id else None


async def not_moving(request: Request, volume_id: str) -> None:
    """Cinder's 400 for a change of a volume that is moving to another pod."""
    async with session(request) as db:
        moving = await moves.under_way(db, volume_id, volume_service.VOLUME)
    if moving is not None:
        raise VolumeError(
            400,
            f"Invalid volume: Volume {volume_id} is migrating to another pod: it cannot "
            "change until the move is over.",
        )


async def action(
    request: Request, located: volume_service.Located, content: bytes | None, version: Version
) -> Response | None:
    """The answer to a move of the volume, or None when the action is not one (it is
    forwarded)."""
    where = _asked(content)
    if where is None:
        return None
    target = await _target(request, version, where, located.pod)
    if target is None:
        return None
    authorize(request, "volume_extension:volume_admin_actions:migrate_volume")
    caller = caller_for(request, READ)
    async with session(request) as db:
        routing = await db.merge(located.routing)
        try:
            move = await volume_moves.begin(
                db, request.app.state.registry, caller, routing, located.pod, target
            )
        except volume_moves.MoveRefused as exc:
            raise VolumeError(400, f"Invalid volume: {exc}") from None
        except PodUnavailable as exc:
            raise unavailable(exc) from exc
    moves.forget(request.app.state.registry, move.source_pod_id, move.target_pod_id)
    return Response(status_code=202)

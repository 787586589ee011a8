"""Volumes, snapshots and backups: which pod holds each one (no HTTP types here).

As for servers, an object's id is the one its pod's Cinder gave it (top id =
bottom id) and its routing row says which pod it is in: written as an intent
before the create is sent (keyed by the request id), completed with the id
once the pod answered. An object without a routing is found again by asking
the pods with the caller's own token.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.models import Pod, Routing
from cascade.pods import volume as pod_volume
from cascade.pods.client import PodUnavailable
from cascade.pods.registry import PodRegistry
from cascade.services import routings
from cascade.services import servers as routed

VOLUME, SNAPSHOT, BACKUP, ATTACHMENT = "volume", "snapshot", "backup", "attachment"
TRANSFER = "transfer"
# each routed kind in Cinder's API: path and body key
PATHS = {
    VOLUME: ("/volumes", "volume"),
    SNAPSHOT: ("/snapshots", "snapshot"),
    BACKUP: ("/backups", "backup"),
    ATTACHMENT: ("/attachments", "attachment"),
    TRANSFER: ("/os-volume-transfer", "transfer"),
}
NotFound = routed.ServerNotFound
Located = routed.Located


async def locate(
    db: AsyncSession,
    registry: PodRegistry,
    caller: pod_volume.Caller,
    object_id: str,
    project_id: str | None,
    kind: str,
) -> Located:
    """The pod of a volume, snapshot or backup for a caller of `project_id` (None: an
    admin); `NotFound` when no routing and no pod knows it."""
    path, key = PATHS[kind]

    async def ask(pod: Pod) -> dict[str, Any] | None:
        try:
            resp = await pod_volume.call(registry, pod, caller, "GET", f"{path}/{object_id}")
        except PodUnavailable:
            return None
        if resp.status_code != 200:
            return None
        found = resp.json().get(key)
        return found if isinstance(found, dict) else None

    return await routed.locate(
        db, registry, None, object_id, project_id, kind, ask=ask, service=pod_volume.SERVICE
    )


async def intent(
    db: AsyncSession, kind: str, request_id: str, pod: Pod, project_id: str
) -> Routing:
    """Written before a create is sent to the pod: what is in flight, and where."""
    return await routings.record_intent(db, kind, request_id, pod.id, project_id)


async def record(
    db: AsyncSession, kind: str, object_id: str, pod: Pod, project_id: str, intent_row: Routing
) -> Routing:
    return await routed.record(db, object_id, pod.id, project_id, intent_row, kind=kind)


forget_intent = routed.forget_intent
mark = routed.mark
gone = routed.gone


async def record_found(
    db: AsyncSession, kind: str, object_id: str, pod: Pod, project_id: str
) -> Routing:
    """The routing of an object the pod made on its own (a backup restored into a new
    volume)."""
    return await routed.record(db, object_id, pod.id, project_id, kind=kind)

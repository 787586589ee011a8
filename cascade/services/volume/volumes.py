"""The routed Cinder resources, described once (`RESOURCES`), and how one is looked up in
the pods' Cinders (no HTTP types here). Their routing is `routed`'s, as for servers:
an object's id is the one its pod's Cinder gave it and its routing row says which
pod it is in."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.models import Pod
from cascade.pods import volume as pod_volume
from cascade.pods.registry import PodRegistry
from cascade.services import routed
from cascade.services.resources import Parent, Resource, described
from cascade.versions import Version

SERVICE = "volume"
VOLUME, SNAPSHOT, BACKUP, ATTACHMENT = "volume", "snapshot", "backup", "attachment"
GROUP, GROUP_SNAPSHOT, TRANSFER = "group", "group_snapshot", "transfer"


RESOURCES = (
    Resource(
        VOLUME, "volumes", "volume", "Volume {id} could not be found.",
        owner="os-vol-tenant-attr:tenant_id",
    ),
    Resource(
        SNAPSHOT, "snapshots", "snapshot", "Snapshot {id} could not be found.",
        summary=None, owner="os-extended-snapshot-attributes:project_id",
        parent=Parent("volume_id", VOLUME),
    ),
    Resource(
        BACKUP, "backups", "backup", "Backup {id} could not be found.",
        owner="os-backup-project-attr:project_id", parent=Parent("volume_id", VOLUME),
    ),
    Resource(
        ATTACHMENT, "attachments", "attachment",
        "Volume attachment could not be found with filter: attachment_id = {id}.",
        since=Version(3, 27), summary=("id", "status", "instance", "volume_id"), links=None,
        parent=Parent("volume_uuid", VOLUME, owns="volume_id"),
    ),
    Resource(
        GROUP, "groups", "group", "Group {id} could not be found.",
        since=Version(3, 13), summary=("id", "name"), links="group_links", owner="project_id",
    ),
    Resource(
        GROUP_SNAPSHOT, "group_snapshots", "group_snapshot",
        "GroupSnapshot {id} could not be found.",
        since=Version(3, 14), summary=("id", "name", "group_type_id"),
        links="group_snapshot_links", owner="project_id", parent=Parent("group_id", GROUP),
    ),
    Resource(
        TRANSFER, "os-volume-transfer", "transfer", "Transfer {id} could not be found.",
        listed=False, parent=Parent("volume_id", VOLUME, owns="volume_id"),
    ),
)  # fmt: skip
LISTED = {r.collection: r for r in RESOURCES if r.listed}
described(RESOURCES)
NotFound = routed.NotFound
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

    async def send(pod: Pod, path: str) -> httpx.Response:
        return await pod_volume.call(registry, pod, caller, "GET", path)

    ask = routed.reader(send, kind, object_id)
    return await routed.locate(db, registry, object_id, project_id, kind, ask, pod_volume.SERVICE)

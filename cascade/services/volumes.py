"""The routed Cinder resources, described once (`RESOURCES`), and how one is looked up in
the pods' Cinders (no HTTP types here). Their routing is `routed`'s, as for servers:
an object's id is the one its pod's Cinder gave it and its routing row says which
pod it is in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.models import Pod
from cascade.pods import volume as pod_volume
from cascade.pods.client import PodUnavailable
from cascade.pods.registry import PodRegistry
from cascade.services import routed
from cascade.versions import Version

VOLUME, SNAPSHOT, BACKUP, ATTACHMENT = "volume", "snapshot", "backup", "attachment"
GROUP, GROUP_SNAPSHOT, TRANSFER = "group", "group_snapshot", "transfer"
BASE = Version(3, 0)
SUMMARY = ("id", "name", "links")  # Cinder's non-detail list entry, for most kinds


@dataclass(frozen=True)
class Parent:
    """A new object goes to the pod of the object its body names (`field`, of `kind`)."""

    field: str
    kind: str


@dataclass(frozen=True)
class Resource:
    """One routed Cinder resource, described once: each object lives in one pod (top id =
    the pod's id) and its routing says which. The Block Storage API's routes, merged
    lists, 404s, views and creates are made from these; the compute API locates
    volumes and snapshots through them."""

    kind: str  # the routings' resource type
    collection: str  # its path segment (`/volumes`)
    key: str  # the body key of one object
    missing: str  # Cinder's 404 message, `{id}` for the id asked
    since: Version = BASE  # below: Cinder's 404, as for an unknown path
    summary: tuple[str, ...] | None = SUMMARY  # the non-detail entry's keys (None: all)
    links: str | None = ""  # the list's next-link key ("": `<collection>_links`)
    owner: str = ""  # where an admin's view shows the project
    parent: Parent | None = None  # a create goes to its parent's pod (None: placed by AZ)
    listed: bool = True  # GET /<collection>[/detail] merges every pod's

    @property
    def path(self) -> str:
        return f"/{self.collection}"

    @property
    def links_key(self) -> str | None:
        return f"{self.collection}_links" if self.links == "" else self.links


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
        parent=Parent("volume_uuid", VOLUME),
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
        listed=False,
    ),
)  # fmt: skip
BY_KIND = {r.kind: r for r in RESOURCES}
LISTED = {r.collection: r for r in RESOURCES if r.listed}
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
    path, key = BY_KIND[kind].path, BY_KIND[kind].key

    async def ask(pod: Pod) -> dict[str, Any] | None:
        try:
            resp = await pod_volume.call(registry, pod, caller, "GET", f"{path}/{object_id}")
        except PodUnavailable:
            return None
        if resp.status_code != 200:
            return None
        found = resp.json().get(key)
        return found if isinstance(found, dict) else None

    return await routed.locate(db, registry, object_id, project_id, kind, ask, pod_volume.SERVICE)

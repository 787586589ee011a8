"""A pod's volumes, snapshots and backups as the top shows them: the top's AZ name and
the top's volume type (name and id) instead of the pod's copy (links are moved to
the top with the body's text, see `common.pod_body`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.models import Pod, Routing, VolumeType
from cascade.services import copies, volume_types

# body keys of one object and of a list, per collection
ONE = {
    "volumes": "volume",
    "snapshots": "snapshot",
    "backups": "backup",
    "attachments": "attachment",
}


def item(obj: dict[str, Any], pod: Pod, key: str = "availability_zone") -> dict[str, Any]:
    """One object from `pod`: its AZ (at `key`; a service's and a host's is `zone`) is
    the pod's top AZ."""
    if obj.get(key) == pod.pod_az:
        obj[key] = pod.az
    return obj


def body(found: Any, pod: Pod) -> Any:
    """A pod's decoded answer with every volume, snapshot and backup in it rewritten."""
    if not isinstance(found, dict):
        return found
    for collection, key in ONE.items():
        if isinstance(found.get(key), dict):
            item(found[key], pod)
        for obj in found.get(collection, []) if isinstance(found.get(collection), list) else []:
            if isinstance(obj, dict):
                item(obj, pod)
    return found


def summary(collection: str, obj: dict[str, Any]) -> dict[str, Any]:
    """The non-detail list entry Cinder shows: id, name and links (an attachment: id,
    status, instance and volume)."""
    if collection == "attachments":
        return {k: obj.get(k) for k in ("id", "status", "instance", "volume_id")}
    if collection == "snapshots":  # Cinder's summary is the detail without the extensions
        return {k: v for k, v in obj.items() if not k.startswith("os-extended-snapshot")}
    return {"id": obj.get("id"), "name": obj.get("name"), "links": obj.get("links", [])}


def _volumes(found: Any) -> list[dict[str, Any]]:
    if not isinstance(found, dict):
        return []
    out = [found["volume"]] if isinstance(found.get("volume"), dict) else []
    return out + [v for v in found.get("volumes", []) if isinstance(v, dict)]


async def top_types(db: AsyncSession, pod: Pod, found: Any) -> Any:
    """Volumes show the top type a pod's copy stands for: `volume_type` (its name) and,
    from 3.63, `volume_type_id`."""
    volumes = _volumes(found)
    if not volumes:
        return found
    prefix = copies.PREFIX
    ids = {
        str(v["volume_type"])[len(prefix) :]
        for v in volumes
        if str(v.get("volume_type", "")).startswith(prefix)
    }
    bottoms = {str(v["volume_type_id"]) for v in volumes if v.get("volume_type_id")}
    names: dict[str, str] = {}
    if ids:
        rows = await db.execute(
            select(VolumeType.id, VolumeType.name).where(VolumeType.id.in_(ids))
        )
        names = {f"{prefix}{i}": n for i, n in rows.all()}
    tops: dict[str, str] = {}
    if bottoms:
        query = select(Routing.bottom_id, Routing.top_id).where(
            Routing.resource_type == volume_types.KIND,
            Routing.pod_id == pod.id,
            Routing.bottom_id.in_(bottoms),
        )
        tops = {str(b): t for b, t in (await db.execute(query)).all()}
    for volume in volumes:
        if volume.get("volume_type") in names:
            volume["volume_type"] = names[volume["volume_type"]]
        if volume.get("volume_type_id") in tops:
            volume["volume_type_id"] = tops[volume["volume_type_id"]]
    return found

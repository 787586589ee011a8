"""A pod's volumes, snapshots and backups as the top shows them: the top's AZ name and
the top's volume type (name and id) instead of the pod's copy (links are moved to
the top with the body's text, see `common.pod_body`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.models import Pod, Routing, VolumeType
from cascade.services import copies, group_types, resources, volume_types
from cascade.services import volumes as volume_service


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
    for resource in volume_service.RESOURCES:
        if isinstance(found.get(resource.key), dict):
            item(found[resource.key], pod)
        listed = found.get(resource.collection)
        for obj in listed if isinstance(listed, list) else []:
            if isinstance(obj, dict):
                item(obj, pod)
    return found


def summary(resource: resources.Resource, obj: dict[str, Any]) -> dict[str, Any]:
    """The non-detail list entry Cinder shows (the resource's summary keys; snapshots:
    the detail without the extensions)."""
    if resource.summary is None:
        return {k: v for k, v in obj.items() if not k.startswith("os-extended-snapshot")}
    return {k: obj.get(k, [] if k == "links" else None) for k in resource.summary}


def _objects(found: Any, key: str, collection: str) -> list[dict[str, Any]]:
    """The objects of one kind in a pod's answer: the one (`key`) or the list."""
    if not isinstance(found, dict):
        return []
    out = [found[key]] if isinstance(found.get(key), dict) else []
    listed = found.get(collection)
    return out + [v for v in listed if isinstance(v, dict)] if isinstance(listed, list) else out


async def _top_ids(db: AsyncSession, kind: str, pod: Pod, bottoms: set[str]) -> dict[str, str]:
    """The top id of each of a pod's copies (of top-owned `kind`) among `bottoms`."""
    if not bottoms:
        return {}
    query = select(Routing.bottom_id, Routing.top_id).where(
        Routing.resource_type == kind, Routing.pod_id == pod.id, Routing.bottom_id.in_(bottoms)
    )
    return {str(b): t for b, t in (await db.execute(query)).all()}


async def _top_groups(db: AsyncSession, pod: Pod, found: Any) -> None:
    """Groups and group snapshots show the top's group type and volume types."""
    groups = _objects(found, "group", "groups")
    snapshots = _objects(found, "group_snapshot", "group_snapshots")
    if not groups and not snapshots:
        return
    gtypes = {str(g.get("group_type")) for g in groups}
    gtypes |= {str(s.get("group_type_id")) for s in snapshots}
    gtops = await _top_ids(db, group_types.KIND, pod, gtypes)
    vtypes = {str(t) for g in groups for t in g.get("volume_types") or []}
    vtops = await _top_ids(db, volume_types.KIND, pod, vtypes)
    for group in groups:  # only what the pod shows (a summary has neither)
        if "group_type" in group:
            group["group_type"] = gtops.get(str(group["group_type"]), group["group_type"])
        if isinstance(group.get("volume_types"), list):
            group["volume_types"] = [vtops.get(str(t), t) for t in group["volume_types"]]
    for snap in snapshots:
        if "group_type_id" in snap:
            snap["group_type_id"] = gtops.get(str(snap["group_type_id"]), snap["group_type_id"])


def _volumes(found: Any) -> list[dict[str, Any]]:
    return _objects(found, "volume", "volumes")


async def top_types(db: AsyncSession, pod: Pod, found: Any) -> Any:
    """Volumes show the top type a pod's copy stands for: `volume_type` (its name) and,
    from 3.63, `volume_type_id`; groups and group snapshots their top types' ids."""
    await _top_groups(db, pod, found)
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
    tops = await _top_ids(db, volume_types.KIND, pod, bottoms)
    for volume in volumes:
        if volume.get("volume_type") in names:
            volume["volume_type"] = names[volume["volume_type"]]
        if volume.get("volume_type_id") in tops:
            volume["volume_type_id"] = tops[volume["volume_type_id"]]
    return found

"""A pod's routed Cinder objects as the top shows them: the top's AZ name and the top's
volume and group types instead of the pod's copies (links are moved to the top with
the body's text, see `common.pod_body`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.models import Pod, Routing, VolumeType
from cascade.services import copies, resources
from cascade.services.volume import group_types
from cascade.services.volume import types as volume_types
from cascade.services.volume import volumes as volume_service

# where an object names a top-owned type by its copy's id in the pod:
# (the object's kind, its field, the type's kind, whether the field is a list of them)
TYPE_IDS = (
    (volume_service.GROUP, "group_type", group_types.KIND, False),
    (volume_service.GROUP, "volume_types", volume_types.KIND, True),
    (volume_service.GROUP_SNAPSHOT, "group_type_id", group_types.KIND, False),
    (volume_service.VOLUME, "volume_type_id", volume_types.KIND, False),
)


def item(obj: dict[str, Any], pod: Pod, key: str = "availability_zone") -> dict[str, Any]:
    """One object from `pod`: its AZ (at `key`; a service's and a host's is `zone`) is
    the pod's top AZ."""
    if obj.get(key) == pod.pod_az:
        obj[key] = pod.az
    return obj


def summary(resource: resources.Resource, obj: dict[str, Any]) -> dict[str, Any]:
    """The non-detail list entry Cinder shows (the resource's summary keys; snapshots:
    the detail without the extensions)."""
    if resource.summary is None:
        return {k: v for k, v in obj.items() if not k.startswith("os-extended-snapshot")}
    return {k: obj.get(k, [] if k == "links" else None) for k in resource.summary}


def _objects(found: dict[str, Any], resource: resources.Resource) -> list[dict[str, Any]]:
    """The objects of one kind in a pod's answer: the one (its key) or the list."""
    out = [found[resource.key]] if isinstance(found.get(resource.key), dict) else []
    listed = found.get(resource.collection)
    return out + [v for v in listed if isinstance(v, dict)] if isinstance(listed, list) else out


async def _top_ids(db: AsyncSession, kind: str, pod: Pod, bottoms: set[str]) -> dict[str, str]:
    """The top id of each of a pod's copies (of top-owned `kind`) among `bottoms`."""
    query = select(Routing.bottom_id, Routing.top_id).where(
        Routing.resource_type == kind, Routing.pod_id == pod.id, Routing.bottom_id.in_(bottoms)
    )
    return {str(b): t for b, t in (await db.execute(query)).all()}


async def shown(db: AsyncSession, pod: Pod, found: Any) -> Any:
    """A pod's decoded answer with every routed object in it at the top: its AZ, the top
    types its pod's copies stand for (`TYPE_IDS`; from 3.63 a volume's `volume_type_id`),
    and a volume's `volume_type` as the top type's name."""
    if not isinstance(found, dict):
        return found
    objects = {r.kind: _objects(found, r) for r in volume_service.RESOURCES}
    for listed in objects.values():
        for obj in listed:
            item(obj, pod)
    places = [
        (obj, f, kind, many)
        for of, f, kind, many in TYPE_IDS
        for obj in objects[of]
        if f in obj and isinstance(obj[f], list) == many
    ]
    bottoms: dict[str, set[str]] = {}
    for obj, f, kind, many in places:
        bottoms.setdefault(kind, set()).update(str(v) for v in (obj[f] if many else [obj[f]]))
    tops = {kind: await _top_ids(db, kind, pod, ids) for kind, ids in bottoms.items()}
    for obj, f, kind, many in places:
        top = tops[kind]
        obj[f] = [top.get(str(v), v) for v in obj[f]] if many else top.get(str(obj[f]), obj[f])
    await _type_names(db, objects[volume_service.VOLUME])
    return found


async def _type_names(db: AsyncSession, volumes: list[dict[str, Any]]) -> None:
    """Volumes name the top type their pod's copy (`cascade-<top id>`) stands for."""
    prefix = copies.PREFIX
    ids = {
        str(v["volume_type"])[len(prefix) :]
        for v in volumes
        if str(v.get("volume_type", "")).startswith(prefix)
    }
    if not ids:
        return
    rows = await db.execute(select(VolumeType.id, VolumeType.name).where(VolumeType.id.in_(ids)))
    names = {f"{prefix}{i}": n for i, n in rows.all()}
    for volume in volumes:
        if volume.get("volume_type") in names:
            volume["volume_type"] = names[volume["volume_type"]]

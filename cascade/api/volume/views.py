"""A pod's volumes, snapshots and backups as the top shows them: the top's AZ name
(links are moved to the top with the body's text, see `common.pod_body`)."""

from __future__ import annotations

from typing import Any

from cascade.db.models import Pod

# body keys of one object and of a list, per collection
ONE = {"volumes": "volume", "snapshots": "snapshot", "backups": "backup"}


def item(obj: dict[str, Any], pod: Pod) -> dict[str, Any]:
    """One object from `pod`: its AZ is the pod's top AZ."""
    if obj.get("availability_zone") == pod.pod_az:
        obj["availability_zone"] = pod.az
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


def summary(obj: dict[str, Any]) -> dict[str, Any]:
    """The non-detail list entry Cinder shows: id, name and links."""
    return {"id": obj.get("id"), "name": obj.get("name"), "links": obj.get("links", [])}

"""Nova's volume proxy bodies: a Block Storage volume or snapshot as Nova's
`os-volumes` / `os-snapshots` show it, and Nova's create bodies as the Block Storage
API takes them.

Nova reads Cinder through cinderclient and converts twice (`nova.volume.cinder`'s
`_untranslate_*_view`, then the API's `_translate_*_view`); these functions do both
at once, key for key, so the top's answers carry exactly the keys Nova's schemas
(and tempest's) expect.
"""

from __future__ import annotations

from typing import Any


def volume_view(vol: dict[str, Any]) -> dict[str, Any]:
    """A Cinder volume as Nova shows it: camelCase keys, and `attachments` as Nova
    builds them (only the first attachment, by server; `[{}]` when there is none)."""
    attachments: list[dict[str, Any]] = [{}]
    found = vol.get("attachments") or []
    if found:
        first = found[0]
        shown = {"id": vol["id"], "volumeId": vol["id"], "serverId": first.get("server_id")}
        if first.get("device"):  # Nova leaves out an empty mountpoint
            shown["device"] = first["device"]
        attachments = [shown]
    return {
        "id": vol["id"],
        "status": vol.get("status"),
        "size": vol.get("size"),
        "availabilityZone": vol.get("availability_zone"),
        "createdAt": vol.get("created_at"),
        "attachments": attachments,
        "displayName": vol.get("name"),
        "displayDescription": vol.get("description"),
        # cinderclient's `volume_type` is the type's name: Nova shows it as it is
        "volumeType": vol.get("volume_type"),
        "snapshotId": vol.get("snapshot_id"),
        "metadata": vol.get("metadata") or {},
    }


def snapshot_view(snap: dict[str, Any]) -> dict[str, Any]:
    """A Cinder snapshot as Nova shows it."""
    return {
        "id": snap["id"],
        "volumeId": snap.get("volume_id"),
        "status": snap.get("status"),
        "size": snap.get("size"),
        "createdAt": snap.get("created_at"),
        "displayName": snap.get("name"),
        "displayDescription": snap.get("description"),
    }


def volume_create_body(given: dict[str, Any], size: int | str | None) -> dict[str, Any]:
    """Nova's `{"volume": ...}` (already checked against Nova's schema) as the Block
    Storage create body cinderclient sends (`volumes.create(size, **kwargs)`)."""
    asked = {
        "size": size,
        "snapshot_id": given.get("snapshot_id"),
        "volume_type": given.get("volume_type"),
        "availability_zone": given.get("availability_zone"),
        "metadata": given.get("metadata") or {},
        "name": given.get("display_name"),
        "description": given.get("display_description"),
    }
    # cinderclient sends unset ones as null, which Cinder takes as not given
    return {"volume": {key: value for key, value in asked.items() if value is not None}}


def snapshot_create_body(given: dict[str, Any], force: bool) -> dict[str, Any]:
    """Nova's `{"snapshot": ...}` as cinderclient's `volume_snapshots.create`."""
    return {
        "snapshot": {
            "volume_id": given["volume_id"],
            "force": force,
            "name": given.get("display_name"),
            "description": given.get("display_description"),
        }
    }

"""A top volume type's encryption specification (Cinder's encryption types; no HTTP).

One per type: `provider` and `control_location` (`front-end` or `back-end`)
required on create, `cipher` and `key_size` optional; an update changes the
fields given. Errors carry Cinder's status and message (`TypeError_`).
"""

from __future__ import annotations

import uuid
from typing import Any

from cascade.db.models import VolumeType
from cascade.services.copies import now
from cascade.services.volume.types import TypeError_

FIELDS = ("provider", "control_location", "cipher", "key_size")
LOCATIONS = ("front-end", "back-end")
# what Cinder's create answers with
ANSWER = ("volume_type_id", "encryption_id", "provider", "control_location", "cipher", "key_size")


def _stamp() -> str:
    return now().isoformat(timespec="microseconds")


def checked(body: Any, create: bool) -> dict[str, Any]:
    """The fields of `{"encryption": {...}}` as Cinder's schema takes them."""
    if not isinstance(body, dict) or not isinstance(body.get("encryption"), dict):
        raise TypeError_(400, "'encryption' is a required property")
    given: dict[str, Any] = body["encryption"]
    unknown = sorted(set(given) - set(FIELDS))
    if unknown:
        raise TypeError_(
            400,
            f"Additional properties are not allowed ({', '.join(repr(k) for k in unknown)} "
            "was unexpected)",
        )
    if create:
        for key in ("provider", "control_location"):
            if key not in given:
                raise TypeError_(400, f"'{key}' is a required property")
    if "control_location" in given and given["control_location"] not in LOCATIONS:
        raise TypeError_(
            400,
            f"Invalid input for field/attribute control_location. Value: "
            f"{given['control_location']}. '{given['control_location']}' is not one of "
            f"{list(LOCATIONS)}",
        )
    if "provider" in given and (not isinstance(given["provider"], str) or not given["provider"]):
        raise TypeError_(400, "Invalid input for field/attribute provider.")
    if given.get("key_size") is not None:
        size = given["key_size"]
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise TypeError_(400, f"Invalid input for field/attribute key_size. Value: {size}.")
    return {k: given[k] for k in FIELDS if k in given}


def create(vtype: VolumeType, body: Any, _: str = "") -> dict[str, Any]:
    """POST's body made the type's encryption; Cinder's answer (some of its fields)."""
    fields = checked(body, create=True)
    if vtype.encryption:
        raise TypeError_(400, f"Volume type encryption for type {vtype.id} already exists.")
    vtype.encryption = {
        "cipher": None,
        "key_size": None,
        **fields,
        "encryption_id": str(uuid.uuid4()),
        "created_at": _stamp(),
        "updated_at": None,
    }
    return {k: v for k, v in view(vtype).items() if k in ANSWER}


def _current(vtype: VolumeType, encryption_id: str) -> dict[str, Any]:
    found = vtype.encryption
    if not found or found.get("encryption_id") != encryption_id:
        raise TypeError_(404, f"Volume type encryption for type {vtype.id} does not exist.")
    return found


def update(vtype: VolumeType, body: Any, encryption_id: str) -> dict[str, Any]:
    """PUT's body: the fields given changed (and answered)."""
    fields = checked(body, create=False)
    vtype.encryption = {**_current(vtype, encryption_id), **fields, "updated_at": _stamp()}
    return fields


def delete(vtype: VolumeType, _: Any, encryption_id: str) -> None:
    _current(vtype, encryption_id)
    vtype.encryption = None


def view(vtype: VolumeType) -> dict[str, Any]:
    """GET /types/{id}/encryption: `{}` without one, else Cinder's full record."""
    found = vtype.encryption
    if not found:
        return {}
    return {
        "volume_type_id": vtype.id,
        "encryption_id": found["encryption_id"],
        "provider": found["provider"],
        "control_location": found["control_location"],
        "cipher": found.get("cipher"),
        "key_size": found.get("key_size"),
        "created_at": found["created_at"],
        "updated_at": found.get("updated_at"),
        "deleted": False,
        "deleted_at": None,
    }


def spec(vtype: VolumeType) -> dict[str, Any] | None:
    """What a pod's copy carries (None: no encryption)."""
    found = vtype.encryption
    return {k: found.get(k) for k in FIELDS} if found else None

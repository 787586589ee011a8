"""The bodies of the Block Storage creates checked as Cinder checks them, before the top
schedules, counts quota or asks a pod: Cinder's schemas (cinder/api/schemas/volumes.py,
snapshots.py, backups.py) for the fields the top reads or passes on, with Cinder's
messages ("Invalid input for field/attribute size. Value: [1]. [1] is not of type
'integer', 'string'"); a failure is Cinder's 400 badRequest. Fields the top neither
reads nor knows are left to the pod, as before.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator, validators

from cascade.api.validation import BOUNDED
from cascade.api.volume.errors import VolumeError

Schema = dict[str, Any]

DB_MAX_INT = 0x7FFFFFFF  # cinder.common.constants.DB_MAX_INT
_SIZE: Schema = {
    "type": ["integer", "string", "null"],
    "pattern": "^[0-9]+$",
    "minimum": 1,
    "maximum": DB_MAX_INT,
}
_TEXT: Schema = {"type": ["string", "null"]}
_NAME: Schema = {"type": ["string", "null"], "minLength": 0, "maxLength": 255}
_ID: Schema = {"type": ["string", "null"]}
_REQUIRED_ID: Schema = {"type": "string"}
_BOOLEAN: Schema = {
    "type": ["boolean", "string"],
    "enum": [
        *(True, "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes", "y", "t"),
        *(False, "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no", "n"),
        "f",
    ],
}
_METADATA: Schema = {
    "type": ["object", "null"],
    "additionalProperties": {"type": "string", "maxLength": 255},
}


def _create(key: str, properties: Schema, *required: str) -> Schema:
    return {
        "type": "object",
        "properties": {
            key: {
                "type": "object",
                "properties": properties,
                "required": list(required),
                "additionalProperties": True,
            }
        },
        "required": [key],
    }


CREATES: dict[str, Schema] = {
    "volume": _create(
        "volume",
        {
            "name": _NAME,
            "display_name": _NAME,
            "description": _TEXT,
            "display_description": _TEXT,
            "volume_type": _NAME,
            "metadata": _METADATA,
            "snapshot_id": _ID,
            "source_volid": _ID,
            "backup_id": _ID,
            "group_id": _ID,
            "size": _SIZE,
            "availability_zone": {"type": ["string", "null"], "minLength": 1, "maxLength": 255},
            "multiattach": {"oneOf": [{"type": "null"}, _BOOLEAN]},
            "imageRef": {"type": ["string", "null"], "maxLength": 255},
            "image_id": {"type": ["string", "null"], "maxLength": 255},
        },
    ),
    "snapshot": _create(
        "snapshot",
        {
            "name": _NAME,
            "display_name": _NAME,
            "description": _TEXT,
            # Cinder's uuid_allow_null: a null volume is then Cinder's 404 for `None`
            "volume_id": _ID,
            "force": _BOOLEAN,
            "metadata": _METADATA,
        },
        "volume_id",
    ),
    "backup": _create(
        "backup",
        {
            "volume_id": _REQUIRED_ID,
            "container": _NAME,
            "description": _TEXT,
            "incremental": _BOOLEAN,
            "force": _BOOLEAN,
            "name": _NAME,
            "snapshot_id": _ID,
            "metadata": _METADATA,
            "availability_zone": {"type": ["string", "null"], "maxLength": 255},
        },
        "volume_id",
    ),
    # cinder/api/schemas/volume_transfer.py (create, create_v355)
    "transfer": _create(
        "transfer",
        {"volume_id": _REQUIRED_ID, "name": _TEXT, "no_snapshots": _BOOLEAN},
        "volume_id",
    ),
}


# Cinder's validator (cinder/api/validation/validators.py, Nova's own): Draft 2020-12
# with `minimum`/`maximum` reading numbers in strings
CinderValidator = validators.create(
    meta_schema=Draft202012Validator.META_SCHEMA,
    validators={
        **BOUNDED,
    },
)


def check(schema: Schema, value: Any) -> None:
    """Cinder's 400 badRequest for the first problem found, if `value` breaks `schema`,
    worded as Cinder words it."""
    found = next(CinderValidator(schema).iter_errors(value), None)
    if found is None:
        return
    message = found.message
    if found.path:
        name = found.path[-1]
        message = f"Invalid input for field/attribute {name}. Value: {found.instance}. {message}"
    raise VolumeError(400, message)

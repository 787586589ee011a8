"""Input validation of the flavor, keypair and quota APIs as Nova does it: its schemas,
its messages.

Nova checks bodies and query strings against JSON schemas
(nova/api/openstack/compute/schemas/flavors.py, flavors_extraspecs.py,
flavor_access.py, keypairs.py, quota_sets.py, quota_classes.py) with `jsonschema`, as
nova/api/validation/validators.py does: Draft 2020-12, numbers may come as
strings for `minimum`/`maximum`, the `name` format, a query parameter is a
list of values. The problem reported is the first found, worded as Nova
does: "Invalid input for field/attribute ram. Value: 0. 0 is less than the
minimum of 1". A failure is Nova's 400 badRequest.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators
from jsonschema.protocols import Validator
from starlette.requests import Request

from cascade.api.compute.errors import ComputeError
from cascade.api.handlers import json_body
from cascade.api.validation import BOUNDED
from cascade.services.compute.flavors import SORT_COLUMNS  # Nova's sort keys
from cascade.versions import Version

Schema = dict[str, Any]

V2_2 = Version(2, 2)  # keypair types
V2_10 = Version(2, 10)  # another user's keypairs
V2_35 = Version(2, 35)  # keypairs paged
V2_55 = Version(2, 55)  # flavor descriptions
V2_75 = Version(2, 75)  # unknown query parameters refused
V2_92 = Version(2, 92)  # keypair names with `@` and `.`; no generated keypairs
V2_102 = Version(2, 102)  # no rxtx_factor; `name` filter; strict query strings everywhere


def _printable(char: str, spaces: bool = True) -> bool:
    """Nova's printable: no control/format/unassigned or line/paragraph separators,
    only the Basic Multilingual Plane; `spaces=False` also refuses space separators."""
    if ord(char) >= 0xFFFF:
        return False
    category = unicodedata.category(char)
    if category.startswith("C") or (category.startswith("Z") and category != "Zs"):
        return False
    return spaces or category != "Zs"


def _body_of(text: str) -> str:
    # Nova's patterns end in `$`, which Python lets match before one final newline
    return text[:-1] if text.endswith("\n") else text


def printable_text(text: str) -> bool:
    return all(_printable(c) for c in _body_of(text))


def valid_name(text: str) -> bool:
    """Printable, and not starting or ending with whitespace (empty passes: minLength says)."""
    if not text:
        return True
    body = _body_of(text)
    return (
        bool(body)
        and printable_text(body)
        and _printable(body[0], False)
        and _printable(body[-1], False)
    )


NAME_REASON = (
    "An invalid 'name' value was provided. The name must be: printable characters. "
    "Can not start or end with whitespace."
)
FORMATS = FormatChecker(formats=())
FORMATS.checks("name")(lambda value: not isinstance(value, str) or valid_name(value))


def _printable_only(
    validator: Validator, rule: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    # ours: Nova spells it as a pattern of every printable range
    if isinstance(instance, str) and not printable_text(instance):
        yield ValidationError(f"{instance!r} may hold printable characters only")


# Nova's validator: Draft 2020-12 with its own `minimum`/`maximum` (and our `printable`)
NovaValidator = validators.create(
    meta_schema=Draft202012Validator.META_SCHEMA,
    validators={
        **BOUNDED,
        "printable": _printable_only,
    },
)


def _message(error: ValidationError, query: bool) -> str:
    if error.validator == "format":  # Nova's InvalidName
        return NAME_REASON
    if not error.path:
        return error.message
    if query:  # the parameter's name, not the index in its list of values
        where, name = "query parameters", error.path[0]
    else:
        where, name = "field/attribute", error.path[-1]
    return f"Invalid input for {where} {name}. Value: {error.instance}. {error.message}"


def check(schema: Schema, value: Any, query: bool = False) -> None:
    """Nova's 400 badRequest for the first problem found, if `value` breaks `schema`."""
    found = next(NovaValidator(schema, format_checker=FORMATS).iter_errors(value), None)
    if found is not None:
        raise ComputeError(400, _message(found, query))


async def body(request: Request, schema: Schema) -> Any:
    """The JSON body, checked against `schema`."""
    found = await json_body(request)
    check(schema, found)
    return found


def query(request: Request, schema: Schema) -> dict[str, list[str]]:
    """The query string checked against `schema` as Nova sees it (each parameter a list
    of values): the parameters the schema knows (Nova drops the others)."""
    found: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        found.setdefault(key, []).append(value)
    check(schema, found, query=True)
    return {k: v for k, v in found.items() if k in schema["properties"]}


# -- Nova's parameter types and schemas -------------------------------------------------


def _multi(item: Schema) -> Schema:
    """A query parameter: its values, each `item`."""
    return {"type": "array", "items": item}


def _object(properties: Schema, *required: str) -> Schema:
    """An object of these properties only, `required` among them."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


def _only(key: str, inner: Schema) -> Schema:
    """An object of exactly `key`, such as a body `{"flavor": {...}}`."""
    return _object({key: inner}, key)


def _query(properties: Schema, strict: bool) -> Schema:
    """A query string of these parameters; others are dropped, or refused when `strict`."""
    return {"type": "object", "properties": properties, "additionalProperties": not strict}


_STRING: Schema = {"type": "string"}
_NAME: Schema = {"type": "string", "format": "name", "minLength": 1, "maxLength": 255}
_PAGES: Schema = {
    "limit": _multi(
        {"type": ["integer", "string"], "pattern": "^[0-9]*$", "minimum": 0, "minLength": 1}
    ),
    "marker": _multi(_STRING),
}
_POSITIVE: Schema = {
    "type": ["integer", "string"],
    "pattern": "^[0-9]+$",
    "minimum": 1,
    "maximum": 0x7FFFFFFF,
}
_NON_NEGATIVE: Schema = {**_POSITIVE, "minimum": 0}
_BOOLEAN: Schema = {
    "type": ["boolean", "string"],
    "enum": [
        *(True, "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes"),
        *(False, "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no"),
    ],
}
_DESCRIPTION: Schema = {
    "type": ["string", "null"],
    "minLength": 0,
    "maxLength": 65535,
    "printable": True,
}
SPEC_KEY = "^[a-zA-Z0-9-_:. ]{1,255}$"  # Nova's, `9-_` range and all
_SPECS: Schema = {
    "type": "object",
    "patternProperties": {SPEC_KEY: {"type": ["string", "number"], "maxLength": 255}},
    "additionalProperties": False,
}


def flavor_create(version: Version) -> Schema:
    props: Schema = {
        "name": _NAME,
        "id": {
            "type": ["string", "number", "null"],
            "minLength": 1,
            "maxLength": 255,
            "pattern": "^(?! )[a-zA-Z0-9. _-]+(?<! )$",
        },
        "ram": _POSITIVE,
        "vcpus": _POSITIVE,
        "disk": _NON_NEGATIVE,
        "OS-FLV-EXT-DATA:ephemeral": _NON_NEGATIVE,
        "swap": _NON_NEGATIVE,
        "rxtx_factor": {
            "type": ["number", "string"],
            "pattern": r"^[0-9]+(\.[0-9]+)?$",
            "exclusiveMinimum": 0,
            "maximum": 3.40282e38,
        },
        "os-flavor-access:is_public": _BOOLEAN,
    }
    if version >= V2_55:
        props["description"] = _DESCRIPTION
    if version >= V2_102:
        del props["rxtx_factor"]
    return _only("flavor", _object(props, "name", "ram", "vcpus", "disk"))


FLAVOR_UPDATE = _only("flavor", _only("description", _DESCRIPTION))


def flavor_index_query(version: Version) -> Schema:
    keys = [k for k in SORT_COLUMNS if version < V2_102 or k != "rxtx_factor"]
    props: Schema = {
        **_PAGES,
        "is_public": _multi(_STRING),
        "minRam": _multi(_STRING),
        "minDisk": _multi(_STRING),
        "sort_key": _multi({"type": "string", "enum": keys}),
        "sort_dir": _multi({"type": "string", "enum": ["asc", "desc"]}),
    }
    if version >= V2_102:
        props["name"] = _multi(_STRING)
    return _query(props, strict=version >= V2_75)


def show_query(version: Version) -> Schema:
    """GET of one flavor, of extra specs, of the access list: anything before 2.102."""
    return _query({}, strict=version >= V2_102)


SPECS_CREATE = _only("extra_specs", _SPECS)
SPEC_UPDATE: Schema = {**_SPECS, "minProperties": 1, "maxProperties": 1}


def tenant_access(action: str) -> Schema:
    """`{"addTenantAccess": {"tenant": P}}`, `{"removeTenantAccess": ...}`."""
    return _only(action, _only("tenant", {"type": "string", "minLength": 1, "maxLength": 255}))


def keypair_create(version: Version) -> Schema:
    pattern = r"^[_\-\@\. a-zA-Z0-9]+$" if version >= V2_92 else r"^[_\- a-zA-Z0-9]+$"
    named = {"type": "string", "pattern": pattern, "minLength": 1, "maxLength": 255}
    props: Schema = {"name": {"allOf": [_NAME, named]}}
    if version >= V2_2:
        props["type"] = {"type": "string", "enum": ["ssh", "x509"]}
    props["public_key"] = _STRING
    if version >= V2_10:
        props["user_id"] = _STRING
    required = ("name", "public_key") if version >= V2_92 else ("name",)
    return _only("keypair", _object(props, *required))


def keypair_query(version: Version, paged: bool = False) -> Schema:
    """GET /os-keypairs (`paged`: from 2.35), GET and DELETE /os-keypairs/{name}."""
    props: Schema = {"user_id": _multi(_STRING)} if version >= V2_10 else {}
    if paged and version >= V2_35:
        props.update(_PAGES)
    return _query(props, strict=version >= V2_75)


# Nova's _common_quota: -1 (unlimited) to its db MAX_INT
QUOTA: Schema = {
    "type": ["integer", "string"],
    "pattern": "^-?[0-9]+$",
    "minimum": -1,
    "maximum": 0x7FFFFFFF,
}


def quota_update(key: str, resources: Iterable[str], force: bool = False) -> Schema:
    """A quota set (`force` allowed) or quota class set PUT: `{key: {resource: QUOTA}}`."""
    props: Schema = {r: QUOTA for r in resources}
    if force:
        props["force"] = _BOOLEAN
    return _only(key, _object(props))


# -- the server create and interface attach, where the top reads the body ----------------
# (nova/api/openstack/compute/schemas/servers.py, attach_interfaces.py): the fields the
# top reads or rewrites before a pod is asked; the others stay the pod's to check

_COUNT: Schema = {"type": ["integer", "string"], "pattern": "^[0-9]*$", "minimum": 1}
_NETWORK: Schema = {
    "type": "object",
    "properties": {
        "fixed_ip": _STRING,
        "port": {"type": ["string", "null"]},
        "uuid": _STRING,
        "tag": _STRING,
    },
}
_MAPPING: Schema = {
    "type": "object",
    "properties": {
        "uuid": _STRING,
        "source_type": _STRING,
        "destination_type": _STRING,
        "boot_index": {"type": ["integer", "string", "null"]},
        "volume_size": {"type": ["integer", "string", "null"]},
    },
}
SERVER_CREATE: Schema = {
    "type": "object",
    "properties": {
        "server": {
            "type": "object",
            "properties": {
                "name": _STRING,
                "flavorRef": {"type": ["string", "integer"], "minLength": 1},
                "imageRef": _STRING,
                "availability_zone": _STRING,
                "key_name": _STRING,
                "min_count": _COUNT,
                "max_count": _COUNT,
                "networks": {
                    "oneOf": [
                        {"type": "array", "items": _NETWORK},
                        {"type": "string", "enum": ["none", "auto"]},
                    ]
                },
                "block_device_mapping_v2": {"type": "array", "items": _MAPPING},
                "security_groups": {
                    "type": "array",
                    "items": {"type": "object", "properties": {"name": _STRING}},
                },
            },
        },
        "os:scheduler_hints": {"type": "object"},
        "OS-SCH-HNT:scheduler_hints": {"type": "object"},
    },
    "required": ["server"],
}
INTERFACE_CREATE: Schema = _object(  # `{}` too: Nova picks a network
    {
        "interfaceAttachment": {
            "type": "object",
            "properties": {
                "net_id": _STRING,
                "port_id": _STRING,
                "fixed_ips": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 1,
                    "items": _object({"ip_address": _STRING}, "ip_address"),
                },
                "tag": _STRING,
            },
            "additionalProperties": False,
        },
    }
)

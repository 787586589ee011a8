"""Input validation of the flavor APIs as Nova does it: its JSON schemas, its messages.

Nova checks bodies and query strings against JSON schemas
(nova/api/openstack/compute/schemas/flavors.py, flavors_extraspecs.py,
flavor_access.py) with `jsonschema`, as nova/api/validation/validators.py
does: Draft 2020-12, numbers may come as strings for `minimum`/`maximum`,
the `name` format, a query parameter is a list of values. The problem
reported is the first found, worded as Nova does: "Invalid input for
field/attribute ram. Value: 0. 0 is less than the minimum of 1". A failure
is Nova's 400 badRequest.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators
from jsonschema.protocols import Validator
from starlette.requests import Request

from cascade.api.compute.errors import ComputeError
from cascade.versions import Version

Schema = dict[str, Any]

V2_55 = Version(2, 55)  # flavor descriptions
V2_75 = Version(2, 75)  # unknown query parameters refused
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


def _number(value: Any) -> int | float | None:
    """Nova's reading of a bound-checked value: a number, or a string holding one."""
    try:
        return int(value)
    except (ValueError, TypeError, OverflowError):
        try:
            return float(value)
        except (ValueError, TypeError):
            return None


Keyword = Callable[[Validator, Any, Any, Mapping[str, Any]], Iterator[ValidationError]]


def _bound(keyword: str) -> Keyword:
    """jsonschema's `minimum`/`maximum`, applied to a string's number as Nova does."""
    check = Draft202012Validator.VALIDATORS[keyword]

    def bound(
        validator: Validator, rule: Any, instance: Any, schema: Mapping[str, Any]
    ) -> Iterator[ValidationError]:
        number = _number(instance)
        if number is not None:
            yield from check(validator, rule, number, schema)

    return bound


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
        **Draft202012Validator.VALIDATORS,
        "minimum": _bound("minimum"),
        "maximum": _bound("maximum"),
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


def query_of(request: Request) -> dict[str, list[str]]:
    """The query string as Nova's schemas see it: each parameter a list of values."""
    found: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        found.setdefault(key, []).append(value)
    return found


# -- the schemas ------------------------------------------------------------------------


def _multi(item: Schema) -> Schema:
    return {"type": "array", "items": item}


def _body(key: str, inner: Schema) -> Schema:
    return {
        "type": "object",
        "properties": {key: inner},
        "required": [key],
        "additionalProperties": False,
    }


def _loose_query(version: Version) -> Schema:
    return {"type": "object", "properties": {}, "additionalProperties": version < V2_102}


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
_TENANT: Schema = {"type": "string", "minLength": 1, "maxLength": 255}
SPEC_KEY = "^[a-zA-Z0-9-_:. ]{1,255}$"  # Nova's, `9-_` range and all
_SPECS: Schema = {
    "type": "object",
    "patternProperties": {SPEC_KEY: {"type": ["string", "number"], "maxLength": 255}},
    "additionalProperties": False,
}

SORT_KEYS = (
    "created_at",
    "description",
    "disabled",
    "ephemeral_gb",
    "flavorid",
    "id",
    "is_public",
    "memory_mb",
    "name",
    "root_gb",
    "rxtx_factor",
    "swap",
    "updated_at",
    "vcpu_weight",
    "vcpus",
)


def flavor_create(version: Version) -> Schema:
    props: Schema = {
        "name": {"type": "string", "format": "name", "minLength": 1, "maxLength": 255},
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
    inner = {
        "type": "object",
        "properties": props,
        "required": ["name", "ram", "vcpus", "disk"],
        "additionalProperties": False,
    }
    return _body("flavor", inner)


FLAVOR_UPDATE = _body(
    "flavor",
    {
        "type": "object",
        "properties": {"description": _DESCRIPTION},
        "required": ["description"],
        "additionalProperties": False,
    },
)


def flavor_index_query(version: Version) -> Schema:
    keys = [k for k in SORT_KEYS if version < V2_102 or k != "rxtx_factor"]
    props: Schema = {
        "limit": _multi(
            {"type": ["integer", "string"], "pattern": "^[0-9]*$", "minimum": 0, "minLength": 1}
        ),
        "marker": _multi({"type": "string"}),
        "is_public": _multi({"type": "string"}),
        "minRam": _multi({"type": "string"}),
        "minDisk": _multi({"type": "string"}),
        "sort_key": _multi({"type": "string", "enum": keys}),
        "sort_dir": _multi({"type": "string", "enum": ["asc", "desc"]}),
    }
    if version >= V2_102:
        props["name"] = _multi({"type": "string"})
    return {"type": "object", "properties": props, "additionalProperties": version < V2_75}


def show_query(version: Version) -> Schema:
    """GET of one flavor, of extra specs, of the access list: anything before 2.102."""
    return _loose_query(version)


SPECS_CREATE = _body("extra_specs", _SPECS)
SPEC_UPDATE: Schema = {**_SPECS, "minProperties": 1, "maxProperties": 1}
ADD_TENANT_ACCESS = _body(
    "addTenantAccess",
    {
        "type": "object",
        "properties": {"tenant": _TENANT},
        "required": ["tenant"],
        "additionalProperties": False,
    },
)
REMOVE_TENANT_ACCESS = _body(
    "removeTenantAccess",
    {
        "type": "object",
        "properties": {"tenant": _TENANT},
        "required": ["tenant"],
        "additionalProperties": False,
    },
)

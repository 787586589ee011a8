"""Input validation of the flavor APIs as Nova does it: its JSON schemas, its messages.

Nova checks bodies and query strings against JSON schemas
(nova/api/openstack/compute/schemas/flavors.py, flavors_extraspecs.py,
flavor_access.py). This module states the same schemas and checks the
keywords they use, keeping Nova's quirks: numbers may come as strings for
`minimum`/`maximum`, a query parameter is a list of values. The problem
reported is the first found, walking the schema in order as jsonschema
does, worded as Nova does: "Invalid input for field/attribute ram. Value:
0. 0 is less than the minimum of 1". A failure is Nova's 400 badRequest.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from cascade.api.compute.errors import ComputeError
from cascade.versions import Version

Schema = dict[str, Any]
Path = tuple[str | int, ...]

V2_55 = Version(2, 55)  # flavor descriptions
V2_75 = Version(2, 75)  # unknown query parameters refused
V2_102 = Version(2, 102)  # no rxtx_factor; `name` filter; strict query strings everywhere


@dataclass(frozen=True)
class Problem:
    path: Path
    instance: Any
    message: str
    alone: bool = False  # the message says it all (Nova's InvalidName)


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
FORMATS: dict[str, Callable[[str], bool]] = {"name": valid_name}


def _is_type(value: Any, kind: str) -> bool:
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "null":
        return value is None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return kind == "number" or isinstance(value, int) or value.is_integer()


def _number(value: Any) -> int | float | None:
    """Nova's reading of a bound-checked value: a number, or a string holding one."""
    try:
        return int(value)
    except (ValueError, TypeError, OverflowError):
        try:
            return float(value)
        except (ValueError, TypeError):
            return None


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)


Check = Callable[[Any, Any, Schema, Path], Iterator[Problem]]


def _type(rule: Any, value: Any, schema: Schema, path: Path) -> Iterator[Problem]:
    kinds = [rule] if isinstance(rule, str) else rule
    if not any(_is_type(value, k) for k in kinds):
        names = ", ".join(repr(k) for k in kinds)
        yield Problem(path, value, f"{value!r} is not of type {names}")


def _enum(rule: Any, value: Any, schema: Schema, path: Path) -> Iterator[Problem]:
    if not any(_same(value, e) for e in rule):
        yield Problem(path, value, f"{value!r} is not one of {rule!r}")


def _minimum(rule: Any, value: Any, schema: Schema, path: Path) -> Iterator[Problem]:
    number = _number(value)
    if number is not None and number < rule:
        yield Problem(path, value, f"{number!r} is less than the minimum of {rule!r}")


def _maximum(rule: Any, value: Any, schema: Schema, path: Path) -> Iterator[Problem]:
    number = _number(value)
    if number is not None and number > rule:
        yield Problem(path, value, f"{number!r} is greater than the maximum of {rule!r}")


def _exclusive_minimum(rule: Any, value: Any, schema: Schema, path: Path) -> Iterator[Problem]:
    if _is_type(value, "number") and value <= rule:
        yield Problem(path, value, f"{value!r} is less than or equal to the minimum of {rule!r}")


def _pattern(rule: Any, value: Any, schema: Schema, path: Path) -> Iterator[Problem]:
    if isinstance(value, str) and not re.search(rule, value):
        yield Problem(path, value, f"{value!r} does not match {rule!r}")


def _format(rule: Any, value: Any, schema: Schema, path: Path) -> Iterator[Problem]:
    if isinstance(value, str) and not FORMATS[rule](value):
        yield Problem(path, value, NAME_REASON, alone=True)


def _printable_only(rule: Any, value: Any, schema: Schema, path: Path) -> Iterator[Problem]:
    if isinstance(value, str) and not printable_text(value):
        yield Problem(path, value, f"{value!r} may hold printable characters only")


def _min_length(rule: Any, value: Any, schema: Schema, path: Path) -> Iterator[Problem]:
    if isinstance(value, str) and len(value) < rule:
        word = "should be non-empty" if rule == 1 else "is too short"
        yield Problem(path, value, f"{value!r} {word}")


def _max_length(rule: Any, value: Any, schema: Schema, path: Path) -> Iterator[Problem]:
    if isinstance(value, str) and len(value) > rule:
        word = "is expected to be empty" if rule == 0 else "is too long"
        yield Problem(path, value, f"{value!r} {word}")


def _items(rule: Any, value: Any, schema: Schema, path: Path) -> Iterator[Problem]:
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from problems(rule, item, (*path, index))


def _properties(rule: Any, value: Any, schema: Schema, path: Path) -> Iterator[Problem]:
    if isinstance(value, dict):
        for name, sub in rule.items():
            if name in value:
                yield from problems(sub, value[name], (*path, name))


def _pattern_properties(rule: Any, value: Any, schema: Schema, path: Path) -> Iterator[Problem]:
    if isinstance(value, dict):
        for pattern, sub in rule.items():
            for name, item in value.items():
                if re.search(pattern, name):
                    yield from problems(sub, item, (*path, name))


def _additional(rule: Any, value: Any, schema: Schema, path: Path) -> Iterator[Problem]:
    if rule is not False or not isinstance(value, dict):
        return
    patterns: Schema = schema.get("patternProperties", {})
    props: Schema = schema.get("properties", {})
    extra = [k for k in value if k not in props and not any(re.search(p, k) for p in patterns)]
    if extra and patterns:
        verb = "does" if len(extra) == 1 else "do"
        joined = ", ".join(repr(k) for k in sorted(extra))
        regexes = ", ".join(repr(p) for p in sorted(patterns))
        yield Problem(path, value, f"{joined} {verb} not match any of the regexes: {regexes}")
    elif extra:
        verb = "was" if len(extra) == 1 else "were"
        joined = ", ".join(repr(k) for k in sorted(extra, key=str))
        message = f"Additional properties are not allowed ({joined} {verb} unexpected)"
        yield Problem(path, value, message)


def _required(rule: Any, value: Any, schema: Schema, path: Path) -> Iterator[Problem]:
    if isinstance(value, dict):
        for name in rule:
            if name not in value:
                yield Problem(path, value, f"{name!r} is a required property")


def _min_properties(rule: Any, value: Any, schema: Schema, path: Path) -> Iterator[Problem]:
    if isinstance(value, dict) and len(value) < rule:
        word = "should be non-empty" if rule == 1 else "does not have enough properties"
        yield Problem(path, value, f"{value!r} {word}")


def _max_properties(rule: Any, value: Any, schema: Schema, path: Path) -> Iterator[Problem]:
    if isinstance(value, dict) and len(value) > rule:
        word = "is expected to be empty" if rule == 0 else "has too many properties"
        yield Problem(path, value, f"{value!r} {word}")


KEYWORDS: dict[str, Check] = {
    "type": _type,
    "enum": _enum,
    "minimum": _minimum,
    "maximum": _maximum,
    "exclusiveMinimum": _exclusive_minimum,
    "pattern": _pattern,
    "format": _format,
    "printable": _printable_only,  # ours: Nova spells it as a pattern of every printable range
    "minLength": _min_length,
    "maxLength": _max_length,
    "items": _items,
    "properties": _properties,
    "patternProperties": _pattern_properties,
    "additionalProperties": _additional,
    "required": _required,
    "minProperties": _min_properties,
    "maxProperties": _max_properties,
}


def problems(schema: Schema, value: Any, path: Path = ()) -> Iterator[Problem]:
    """Every way `value` breaks `schema`, in the order jsonschema finds them (schema order)."""
    for keyword, rule in schema.items():
        yield from KEYWORDS[keyword](rule, value, schema, path)


def first_problem(schema: Schema, value: Any) -> Problem | None:
    """The problem Nova reports: the first one found (its validator stops there)."""
    return next(problems(schema, value), None)


def _message(problem: Problem, query: bool) -> str:
    if problem.alone or not problem.path:
        return problem.message
    if query:
        where, name = "query parameters", problem.path[0]
    else:
        where, name = "field/attribute", problem.path[-1]
    return f"Invalid input for {where} {name}. Value: {problem.instance}. {problem.message}"


def check(schema: Schema, value: Any, query: bool = False) -> None:
    """Nova's 400 badRequest for the most relevant problem, if `value` breaks `schema`."""
    found = first_problem(schema, value)
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

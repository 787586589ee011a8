"""The attributes a Networking request body may carry, with Neutron's conversions
and messages ("Invalid input for <attr>. Reason: <why>.").

A `Spec` maps each attribute a client may send to its converter, its default
on create, whether PUT may change it and whether only admins may set it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cascade.services.network.errors import BadRequest, PolicyNotAuthorized

Convert = Callable[[str, Any], Any]
REQUIRED = object()


class AttrInvalid(BadRequest):
    def __init__(self, name: str, why: str) -> None:
        super().__init__(f"Invalid input for {name}. Reason: {why}.")


def boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise AttrInvalid(name, f"'{value}' cannot be converted to boolean")


def text(limit: int = 255) -> Convert:
    def convert(name: str, value: Any) -> str:
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise AttrInvalid(name, f"'{value}' is not a valid string")
        if len(value) > limit:
            raise AttrInvalid(name, f"'{value}' exceeds maximum length of {limit}")
        return value

    return convert


def optional_text(limit: int = 255) -> Convert:
    inner = text(limit)

    def convert(name: str, value: Any) -> str | None:
        return None if value is None else inner(name, value)

    return convert


def uuid_text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise AttrInvalid(name, f"'{value}' is not a valid UUID")
    return value


def integer(low: int, high: int) -> Convert:
    def convert(name: str, value: Any) -> int:
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise AttrInvalid(name, f"'{value}' is not an integer") from None
        if isinstance(value, bool) or not low <= number <= high:
            raise AttrInvalid(name, f"'{value}' is not in range {low} through {high}")
        return number

    return convert


def listed(name: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise AttrInvalid(name, f"'{value}' is not a list")
    return value


def mapping(name: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise AttrInvalid(name, f"'{value}' is not a dictionary")
    return value


def anything(name: str, value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Attr:
    convert: Convert = anything
    default: Any = None  # REQUIRED: the create must give it
    put: bool = False
    admin: bool = False
    # Neutron's default is ATTR_NOT_SPECIFIED: any value sent is set explicitly (asked
    # of the policy), even the one the top takes when none is sent
    explicit: bool = False


Spec = Mapping[str, Attr]


def take(
    spec: Spec, body: Any, resource: str, allows: Callable[[str], bool], update: bool
) -> dict[str, Any]:
    """The converted attributes of `{resource: {...}}`; Neutron's 400 for an unknown or
    read-only attribute, a missing required one or a bad value; 403 for an admin-only
    one the caller's policy does not allow (`create_<resource>:<attr>` or `update_...`)."""
    if not isinstance(body, dict) or not isinstance(body.get(resource), dict):
        raise BadRequest(f"Resource body required: {{'{resource}': {{...}}}}")
    given: dict[str, Any] = body[resource]
    given = {k: v for k, v in given.items() if k not in ("tenant_id", "project_id") or not update}
    unknown = sorted(k for k in given if k not in spec and k not in ("tenant_id", "project_id"))
    if unknown:
        raise BadRequest(f"Unrecognized attribute(s) '{', '.join(unknown)}'")
    out: dict[str, Any] = {}
    for key, value in given.items():
        if key in ("tenant_id", "project_id"):
            continue
        attr = spec[key]
        if update and not attr.put:
            raise BadRequest(f"Cannot update read-only attribute {key}")
        rule = f"{'update' if update else 'create'}_{resource}:{key}"
        converted = attr.convert(key, value)
        # as Neutron's `_is_attribute_explicitly_set`: on create, an attribute given its
        # default value is not set at all, so its policy is not asked (a member may send
        # `shared: false`); on update, every attribute sent is
        default = (
            not update
            and not attr.explicit
            and attr.default not in (None, REQUIRED)
            and not callable(attr.default)
            and converted == attr.default
        )
        if attr.admin and not default and not allows(rule):
            raise PolicyNotAuthorized(rule)
        out[key] = converted
    if not update:
        for key, attr in spec.items():
            if key in out:
                continue
            if attr.default is REQUIRED:
                raise BadRequest(
                    f"Failed to parse request. Required attribute '{key}' not specified"
                )
            if not attr.admin or attr.default is not None:
                out[key] = attr.default() if callable(attr.default) else attr.default
    return out


def owner(body: Any, resource: str, project_id: str, is_admin: bool) -> str:
    """The project a create is for: the caller's, or another one only for admins."""
    given = body[resource].get("project_id") or body[resource].get("tenant_id")
    if given and given != project_id:
        if not is_admin:
            raise BadRequest(
                "Specifying 'project_id' or 'tenant_id' other than the authenticated "
                "project in request requires admin privileges"
            )
        return str(given)
    return project_id

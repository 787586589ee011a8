"""What Nova's and Cinder's request validation share (Cinder's
cinder/api/validation/validators.py is Nova's own): JSON Schema Draft 2020-12 whose
`minimum` and `maximum` read a number held in a string, as both services do. Each API's
`schemas` module builds its validator from `BOUNDED` and words its own messages."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from jsonschema import Draft202012Validator, ValidationError
from jsonschema.protocols import Validator

Keyword = Callable[[Validator, Any, Any, Mapping[str, Any]], Iterator[ValidationError]]


def number(value: Any) -> int | float | None:
    """The services' reading of a bound-checked value: a number, or a string holding one
    (a boolean is neither: its type is what is wrong)."""
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (ValueError, TypeError, OverflowError):
        try:
            return float(value)
        except (ValueError, TypeError):
            return None


def _bound(keyword: str) -> Keyword:
    """jsonschema's `minimum`/`maximum`, applied to a string's number."""
    check = Draft202012Validator.VALIDATORS[keyword]

    def bound(
        validator: Validator, rule: Any, instance: Any, schema: Mapping[str, Any]
    ) -> Iterator[ValidationError]:
        found = number(instance)
        if found is not None:
            yield from check(validator, rule, found, schema)

    return bound


# Draft 2020-12's keywords with the services' bounds
BOUNDED: dict[str, Keyword] = {
    **Draft202012Validator.VALIDATORS,
    "minimum": _bound("minimum"),
    "maximum": _bound("maximum"),
}

"""Every value the ORM writes fits its column, or the write is refused before the database.

SQLite stores a 10,000-character name in a `String(255)` column; MariaDB in strict mode
refuses it with a `DataError` mid-transaction (and a 2**40 in an `Integer` column
too). Either way the caller should have had a 400 naming the value, so every flush is
checked here, once, against the columns' own declared limits: no handler repeats the
models' lengths. The API layer answers `OutOfRange` in the service's error format.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Integer, String, Text, event, inspect
from sqlalchemy.orm import Session, UOWTransaction

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
TEXT_BYTES = 65535  # MySQL/MariaDB `TEXT`, what `Text()` without a length becomes there


class OutOfRange(ValueError):
    """A value longer or larger than its column holds."""

    def __init__(self, field: str, why: str) -> None:
        super().__init__(f"Invalid input for {field}: {why}.")
        self.field = field


def _check(obj: Any) -> None:
    state = inspect(obj)
    for attr in state.mapper.column_attrs:
        column = attr.columns[0]
        value = getattr(obj, attr.key, None)
        if value is None or isinstance(value, bool):
            continue
        kind = column.type
        if isinstance(kind, String) and kind.length is not None and isinstance(value, str):
            if len(value) > kind.length:
                why = f"{len(value)} characters is longer than the maximum of {kind.length}"
                raise OutOfRange(attr.key, why)
        elif isinstance(kind, Text) and isinstance(value, str):
            if len(value.encode("utf-8", "surrogatepass")) > TEXT_BYTES:
                raise OutOfRange(attr.key, f"longer than the maximum of {TEXT_BYTES} bytes")
        elif isinstance(kind, Integer) and isinstance(value, int):
            low, high = INT64 if isinstance(kind, BigInteger) else INT32
            if not low <= value <= high:
                raise OutOfRange(attr.key, f"{value} is outside [{low}, {high}]")


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _flush: UOWTransaction, _instances: Any) -> None:
    for obj in (*session.new, *session.dirty):
        _check(obj)

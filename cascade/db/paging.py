"""Keyset pages of a table oldest first: equality filters, after a marker row, a limit."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute


class Stamped(Protocol):
    created_at: Any
    id: Any


T = TypeVar("T")


def oldest_first(
    query: Select[T],
    created_at: InstrumentedAttribute[Any],
    row_id: InstrumentedAttribute[Any],
    filters: Iterable[tuple[InstrumentedAttribute[Any], Any]],
    last: Stamped | None,
    limit: int,
) -> Select[T]:
    """`query` with every filter whose value is not None, after `last` (the marker's row)
    in (created_at, id) order, ordered that way, at most `limit` rows."""
    for column, value in filters:
        if value is not None:
            query = query.where(column == value)
    if last is not None:
        query = query.where(
            or_(
                created_at > last.created_at,
                and_(created_at == last.created_at, row_id > last.id),
            )
        )
    return query.order_by(created_at, row_id).limit(limit)

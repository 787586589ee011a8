"""Keyset pages of a table oldest first: equality filters, after a marker row, a limit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

T = TypeVar("T")
Column = InstrumentedAttribute[Any]


class MarkerNotFound(Exception):
    pass


async def oldest_first(
    session: AsyncSession,
    query: Select[T],
    created_at: Column,
    row_id: Column,
    table: Mapping[str, Column],
    filters: Mapping[str, str | None],
    marker: str | None,
    limit: int,
) -> list[T]:
    """The rows of `query` whose columns (named in `table`) equal the `filters` not None,
    after the row of id `marker` among them (MarkerNotFound if none) in (created_at, id)
    order, ordered that way, at most `limit`."""
    if marker is not None:
        last: Any = await session.scalar(query.where(row_id == marker))
        if last is None:
            raise MarkerNotFound(f"marker [{marker}] not found")
        query = query.where(
            or_(
                created_at > last.created_at,
                and_(created_at == last.created_at, row_id > last.id),
            )
        )
    for name, value in filters.items():
        if value is not None:
            query = query.where(table[name] == value)
    return list((await session.scalars(query.order_by(created_at, row_id).limit(limit))).all())

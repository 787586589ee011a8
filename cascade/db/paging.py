"""Keyset pages of a table by age, oldest or newest first: equality filters, after a
marker row, a limit."""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from cascade.db.models import Base

T = TypeVar("T")
Column = InstrumentedAttribute[Any]


class MarkerNotFound(Exception):
    pass


async def by_age(
    session: AsyncSession,
    query: Select[T],
    created_at: Column,
    row_id: Column,
    table: Mapping[str, Column],
    filters: Mapping[str, str | None],
    marker: str | None,
    limit: int,
    newest_first: bool = False,
) -> list[T]:
    """The rows of `query` whose columns (named in `table`) equal the `filters` not None,
    after the row of id `marker` among them (MarkerNotFound if none) in (created_at, id)
    order (reversed when `newest_first`), ordered that way, at most `limit`."""
    if marker is not None:
        last: Any = await session.scalar(query.where(row_id == marker))
        if last is None:
            raise MarkerNotFound(f"marker [{marker}] not found")
        beyond = operator.lt if newest_first else operator.gt  # "after" in the page's order
        query = query.where(
            or_(
                beyond(created_at, last.created_at),
                and_(created_at == last.created_at, beyond(row_id, last.id)),
            )
        )
    for name, value in filters.items():
        if value is not None:
            query = query.where(table[name] == value)
    order = (created_at.desc(), row_id.desc()) if newest_first else (created_at, row_id)
    return list((await session.scalars(query.order_by(*order).limit(limit))).all())


K = TypeVar("K", bound=Base)  # a table whose rows have an `id` and a `created_at`


async def page_of(
    session: AsyncSession,
    model: type[K],
    table: Mapping[str, Column],
    filters: Mapping[str, str | None],
    marker: str | None,
    limit: int,
    newest_first: bool = False,
) -> list[K]:
    """`by_age` over every row of `model` (its `created_at`, then its `id`)."""
    created = cast(Column, getattr(model, "created_at"))  # noqa: B009 (any such table)
    row_id = cast(Column, getattr(model, "id"))  # noqa: B009
    found: list[K] = await by_age(
        session, select(model), created, row_id, table, filters, marker, limit, newest_first
    )
    return found


async def row(
    session: AsyncSession, model: type[K], row_id: str, missing: type[Exception], what: str
) -> K:
    """The row of `model` with id `row_id`; `missing("no <what> with id ...")` if none."""
    found = await session.get(model, row_id)
    if found is None:
        raise missing(f"no {what} with id {row_id}")
    return found

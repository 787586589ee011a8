"""Routings: which pod holds each top resource (no HTTP types here)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from cascade.db import paging
from cascade.db.engine import now
from cascade.db.models import Routing


class RoutingNotFound(Exception):
    pass


MarkerNotFound = paging.MarkerNotFound


@dataclass(frozen=True)
class Scope:
    """Whose routings a caller may see: one project, or all (admins)."""

    project_id: str | None  # None: every project


# what a list may be filtered on (equality), by name; status: creating, active, deleting, stale
FILTERS: dict[str, InstrumentedAttribute[Any]] = {
    "resource_type": Routing.resource_type,
    "pod_id": Routing.pod_id,
    "top_id": Routing.top_id,
    "project_id": Routing.project_id,
    "status": Routing.status,
}


async def record_intent(
    session: AsyncSession,
    resource_type: str,
    top_id: str,
    pod_id: str,
    project_id: str,
    reserved: Mapping[str, int] | None = None,
) -> Routing:
    """Write the routing before the bottom object exists (status `creating`), holding
    `reserved` of the project's quota while it is in flight."""
    routing = Routing(
        id=str(uuid.uuid4()),
        resource_type=resource_type,
        top_id=top_id,
        pod_id=pod_id,
        project_id=project_id,
        status="creating",
        created_at=now(),
        reserved=dict(reserved) if reserved is not None else None,
    )
    session.add(routing)
    await session.commit()
    return routing


async def _first(session: AsyncSession, resource_type: str, **where: str) -> Routing | None:
    query = select(Routing).filter_by(resource_type=resource_type, **where)
    return await session.scalar(query.limit(1))


async def find(
    session: AsyncSession, resource_type: str, top_id: str, pod_id: str
) -> Routing | None:
    """The routing of top resource `top_id` to pod `pod_id`, if there is one."""
    return await _first(session, resource_type, top_id=top_id, pod_id=pod_id)


async def find_top(session: AsyncSession, resource_type: str, top_id: str) -> Routing | None:
    """The (first) routing of top resource `top_id`, in whatever pod."""
    return await _first(session, resource_type, top_id=top_id)


async def find_bottom(
    session: AsyncSession, resource_type: str, pod_id: str, bottom_id: str
) -> Routing | None:
    """The routing whose copy in pod `pod_id` is `bottom_id`, if there is one."""
    return await _first(session, resource_type, pod_id=pod_id, bottom_id=bottom_id)


def _visible(scope: Scope) -> Select[Routing]:
    query = select(Routing)
    if scope.project_id is not None:
        query = query.where(Routing.project_id == scope.project_id)
    return query


async def get(session: AsyncSession, routing_id: str, scope: Scope) -> Routing:
    found = await session.scalar(_visible(scope).where(Routing.id == routing_id))
    if found is None:
        raise RoutingNotFound(f"no routing with id {routing_id}")
    return found


async def page(
    session: AsyncSession,
    scope: Scope,
    filters: Mapping[str, str | None],
    limit: int,
    marker: str | None,
    newest_first: bool = False,
) -> list[Routing]:
    """Oldest (or newest) first (ties by id), those with the `FILTERS` given, after
    `marker` if given, at most `limit`."""
    query = _visible(scope)
    return await paging.by_age(
        session,
        query,
        Routing.created_at,
        Routing.id,
        FILTERS,
        filters,
        marker,
        limit,
        newest_first,
    )


async def delete(session: AsyncSession, routing_id: str) -> None:
    await session.delete(await get(session, routing_id, Scope(None)))
    await session.commit()


async def count_in_pod(session: AsyncSession, pod_id: str) -> int:
    count = await session.scalar(select(func.count()).where(Routing.pod_id == pod_id))
    return int(count or 0)

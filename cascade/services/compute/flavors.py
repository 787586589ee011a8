"""Flavors owned by the top, with Nova's rules (no HTTP types here).

Names and ids are unique; a private flavor is seen by admins and by the
projects given access; lists filter, sort and page as Nova's flavor list
does. The messages of the exceptions are Nova's. Copies in the pods are
`cascade.services.compute.flavor_copies`, which builds on this module.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select, update
from sqlalchemy import delete as sa_delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.context import Context
from cascade.db.models import Flavor, FlavorAccess, RetiredFlavor, Routing
from cascade.pods.compute import PodRefused
from cascade.services.copies import now

RESOURCE = "flavor"  # the routings of pod copies
RETIRED = "flavor-retired"  # the routings of copies of deleted flavors (see `delete`)
MAX_LIMIT = 1000  # Nova's [api] max_limit default


class FlavorError(Exception):
    """A refused flavor operation; the message is Nova's."""


class FlavorNotFound(FlavorError):
    def __init__(self, flavor_id: str) -> None:
        super().__init__(f"Flavor {flavor_id} could not be found.")


class FlavorConflict(FlavorError):
    """The name or the id is taken."""


class MarkerNotFound(FlavorError):
    def __init__(self, marker: str) -> None:
        super().__init__(f"marker [{marker}] not found")


class BadFilter(FlavorError):
    pass


class ExtraSpecNotFound(FlavorError):
    def __init__(self, flavor_id: str, key: str) -> None:
        super().__init__(f"Flavor {flavor_id} has no extra specs with key {key}.")


class AccessConflict(FlavorError):
    """Access exists already, or the flavor is public."""


class AccessNotFound(FlavorError):
    """No such access, or the flavor is public (no access list)."""


class PodCopyFailed(PodRefused):
    """A pod refused a call about a flavor copy: its status and message, with the pod named."""

    what = "a flavor copy"


@dataclass(frozen=True)
class ListQuery:
    """Nova's list parameters. `is_public` (True: public and the viewer's private
    ones; False: private only; None: all) is honoured for admins only: others get
    public and accessible flavors that are not disabled. `name` is a regular
    expression searched in the name (microversion 2.102)."""

    is_public: bool | None = True
    min_ram: int | None = None
    min_disk: int | None = None
    name: str | None = None
    sort_key: str = "flavorid"
    sort_dir: str = "asc"
    limit: int = MAX_LIMIT
    marker: str | None = None


# Nova's sort keys (its column names) -> ours; None sorts on the tie-break only
SORT_COLUMNS: dict[str, str | None] = {
    "created_at": "created_at",
    "description": "description",
    "disabled": "disabled",
    "ephemeral_gb": "ephemeral",
    "flavorid": "id",
    "id": "created_at",  # Nova's internal id grows with creation
    "is_public": "is_public",
    "memory_mb": "ram",
    "name": "name",
    "root_gb": "disk",
    "rxtx_factor": "rxtx_factor",
    "swap": "swap",
    "updated_at": "updated_at",
    "vcpu_weight": None,  # not kept: always null in Nova unless set by hand
    "vcpus": "vcpus",
}


def _accessible(project_id: str | None) -> ColumnElement[bool]:
    allowed = select(FlavorAccess.flavor_id).where(FlavorAccess.project_id == project_id)
    return Flavor.id.in_(allowed)


def _visible(viewer: Context | None) -> Select[Flavor]:
    query = select(Flavor)
    if viewer is not None and not viewer.is_admin:
        query = query.where(or_(Flavor.is_public.is_(True), _accessible(viewer.project_id)))
    return query


async def get(db: AsyncSession, flavor_id: str, viewer: Context | None = None) -> Flavor:
    """The flavor if `viewer` may see it (None: anyone's), else FlavorNotFound: admins see
    every flavor, others the public ones and those their project has access to."""
    found = await db.scalar(_visible(viewer).where(Flavor.id == flavor_id))
    if found is None:
        raise FlavorNotFound(flavor_id)
    return found


async def _clash(db: AsyncSession, flavor_id: str, name: str) -> FlavorConflict | None:
    if await db.get(Flavor, flavor_id) is not None:
        return FlavorConflict(f"Flavor with ID {flavor_id} already exists.")
    if await db.scalar(select(Flavor.id).where(Flavor.name == name)) is not None:
        return FlavorConflict(f"Flavor with name {name} already exists.")
    return None


async def create(db: AsyncSession, flavor: Flavor) -> Flavor:
    """Add a new flavor (enabled, without extra specs); FlavorConflict when its id or name
    is taken."""
    flavor_id, name = flavor.id, flavor.name
    clash = await _clash(db, flavor_id, name)
    if clash is not None:
        raise clash
    flavor.disabled = False
    flavor.extra_specs = {}
    flavor.created_at = now()
    db.add(flavor)
    try:
        await db.commit()
    except IntegrityError as exc:  # a concurrent create took the id or the name
        await db.rollback()
        raise (await _clash(db, flavor_id, name) or FlavorConflict(str(exc.orig))) from exc
    return flavor


def _sort_key(flavor: Flavor, column: str | None) -> tuple[Any, ...]:
    value = getattr(flavor, column) if column else None
    # nulls first, as SQL sorts them ascending; ties broken by creation, then id
    return (value is not None, value if value is not None else 0), flavor.created_at, flavor.id


async def list_flavors(db: AsyncSession, viewer: Context, query: ListQuery) -> list[Flavor]:
    """One page of the flavors `viewer` may see, filtered and sorted as Nova does.

    Sorting and paging run in Python over the filtered rows (a cloud has tens
    or hundreds of flavors), on the sort key then creation time and id, all in
    the requested direction. The marker must be a flavor the viewer can see
    (MarkerNotFound otherwise); the page starts after it.
    """
    column = SORT_COLUMNS[query.sort_key]
    rows = _visible(viewer)
    if query.min_ram is not None:
        rows = rows.where(Flavor.ram >= query.min_ram)
    if query.min_disk is not None:
        rows = rows.where(Flavor.disk >= query.min_disk)
    is_public = query.is_public if viewer.is_admin else True
    if not viewer.is_admin:
        rows = rows.where(Flavor.disabled.is_(False))
    if is_public is True:
        rows = rows.where(or_(Flavor.is_public.is_(True), _accessible(viewer.project_id)))
    elif is_public is False:
        rows = rows.where(Flavor.is_public.is_(False))
    found = list((await db.scalars(rows)).all())
    if query.name is not None:
        try:
            pattern = re.compile(query.name)
        except re.error as exc:
            raise BadFilter(f"Invalid name filter [{query.name}]: {exc}") from exc
        found = [f for f in found if pattern.search(f.name)]
    descending = query.sort_dir == "desc"
    found.sort(key=lambda f: _sort_key(f, column), reverse=descending)
    if query.marker is not None:
        last = await db.scalar(_visible(viewer).where(Flavor.id == query.marker))
        if last is None:
            raise MarkerNotFound(query.marker)
        after = _sort_key(last, column)
        if descending:
            found = [f for f in found if _sort_key(f, column) < after]
        else:
            found = [f for f in found if _sort_key(f, column) > after]
    return found[: query.limit]


async def update_description(db: AsyncSession, flavor_id: str, description: str | None) -> Flavor:
    flavor = await get(db, flavor_id)
    flavor.description = description
    flavor.updated_at = now()
    await db.commit()
    return flavor


async def delete(db: AsyncSession, flavor_id: str) -> None:
    """Remove the flavor and its access rows; its pod copies become retired ones.

    The copies stay in the pods: servers there keep their embedded flavor, and
    show the deleted flavor's id and name, as in Nova. So the routings of the
    copies become `flavor-retired` routings, the name stays in `RetiredFlavor`
    (for `servers.flavor_names`), and routings without a copy go. A later top
    flavor of the same id makes copies of its own (`flavor_copies.ensure_in_pod`
    replaces a leftover copy that differs).
    """
    flavor = await get(db, flavor_id)
    await db.execute(sa_delete(FlavorAccess).where(FlavorAccess.flavor_id == flavor_id))
    copies = select(Routing.pod_id).where(
        Routing.resource_type == RESOURCE,
        Routing.top_id == flavor_id,
        Routing.bottom_id.is_not(None),
    )
    # an earlier flavor of this id retired in the same pod gives way: one routing per pod
    await db.execute(
        sa_delete(Routing).where(
            Routing.resource_type == RETIRED,
            Routing.top_id == flavor_id,
            Routing.pod_id.in_(copies.scalar_subquery()),
        )
    )
    await db.execute(
        update(Routing)
        .where(
            Routing.resource_type == RESOURCE,
            Routing.top_id == flavor_id,
            Routing.bottom_id.is_not(None),
        )
        .values(resource_type=RETIRED, status="active", updated_at=now())
    )
    await db.execute(
        sa_delete(Routing).where(Routing.resource_type == RESOURCE, Routing.top_id == flavor_id)
    )
    await db.merge(RetiredFlavor(id=flavor_id, name=flavor.name))
    await db.delete(flavor)
    await db.commit()


# -- extra specs --------------------------------------------------------------------------


async def extra_specs(db: AsyncSession, flavor_id: str, viewer: Context | None) -> dict[str, str]:
    return dict((await get(db, flavor_id, viewer)).extra_specs or {})


async def set_extra_specs(db: AsyncSession, flavor_id: str, specs: Mapping[str, str]) -> Flavor:
    """Add or replace the given keys; the others stay."""
    flavor = await get(db, flavor_id)
    flavor.extra_specs = {**(flavor.extra_specs or {}), **specs}  # a new dict: JSON is not tracked
    flavor.updated_at = now()
    await db.commit()
    return flavor


async def delete_extra_spec(db: AsyncSession, flavor_id: str, key: str) -> Flavor:
    flavor = await get(db, flavor_id)
    specs = dict(flavor.extra_specs or {})
    if key not in specs:
        raise ExtraSpecNotFound(flavor_id, key)
    del specs[key]
    flavor.extra_specs = specs
    flavor.updated_at = now()
    await db.commit()
    return flavor


# -- access -------------------------------------------------------------------------------


async def projects(db: AsyncSession, flavor_id: str) -> list[str]:
    """The projects with access to the flavor, in the order they were given it."""
    query = (
        select(FlavorAccess.project_id)
        .where(FlavorAccess.flavor_id == flavor_id)
        .order_by(FlavorAccess.id)
    )
    return list((await db.scalars(query)).all())


async def access_list(db: AsyncSession, flavor_id: str) -> list[str]:
    flavor = await get(db, flavor_id)
    if flavor.is_public:
        raise AccessNotFound("Access list not available for public flavors.")
    return await projects(db, flavor_id)


async def add_access(
    db: AsyncSession, flavor_id: str, project_id: str, refuse_public: bool = True
) -> list[str]:
    """Give `project_id` access; a public flavor is refused unless `refuse_public` is
    False (Nova before microversion 2.7 records it anyway)."""
    flavor = await get(db, flavor_id)
    if refuse_public and flavor.is_public:
        raise AccessConflict("Can not add access to a public flavor.")
    exists = AccessConflict(
        f"Flavor access already exists for flavor {flavor_id} and project {project_id} combination."
    )
    if project_id in await projects(db, flavor_id):
        raise exists
    db.add(FlavorAccess(flavor_id=flavor_id, project_id=project_id))
    try:
        await db.commit()
    except IntegrityError as exc:  # a concurrent add of the same project
        await db.rollback()
        raise exists from exc
    return await projects(db, flavor_id)


async def remove_access(db: AsyncSession, flavor_id: str, project_id: str) -> list[str]:
    await get(db, flavor_id)
    result = await db.execute(
        sa_delete(FlavorAccess).where(
            FlavorAccess.flavor_id == flavor_id, FlavorAccess.project_id == project_id
        )
    )
    if not getattr(result, "rowcount", 0):
        await db.rollback()
        raise AccessNotFound(f"Flavor access not found for {flavor_id} / {project_id} combination.")
    await db.commit()
    return await projects(db, flavor_id)

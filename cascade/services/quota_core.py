"""What every API's quotas share (no HTTP types): limits, usage summed over the pods, room.

Each API adapts it (`services/compute/quotas.py` for compute, `volume_quotas.py`,
`network/quotas.py`): which names it has, where their defaults come from, what
a pod counts and how it is asked, and the API's own refusal.

- Limits: the defaults, overlaid with a project's own, kept in `quotas` as
  `<prefix><resource>` rows (`neutron:` for networking, `cinder:` for block
  storage; compute's have no prefix). -1 is unlimited.
- Usage: each pod's counts, asked through the fan-out (a pod that is down,
  late, or gives no usable answer is left out and named), summed.
- Room: whether `adding` more fits a limit given what is used.
- Reservations: a create's check and its routing intent are one short transaction
  per project (`serialise`), in which the creates still in flight count as used
  (`in_flight`: the amounts their intents hold); the pods' usage is asked before,
  without holding a connection, and what completed since counts too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import Executable, delete, or_, select
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.engine import idle
from cascade.db.models import Pod, ProjectLock, Quota, QuotaClass, Routing, UserQuota
from cascade.pods import fanout
from cascade.pods.registry import PodRegistry

UNLIMITED = -1
Row = TypeVar("Row", Quota, UserQuota, QuotaClass)


@dataclass
class Usage:
    """What the pods count, summed; the pods left out by name (their usage is missing)."""

    counts: dict[str, int] = field(default_factory=dict)
    unavailable: list[str] = field(default_factory=list)


async def summed(
    registry: PodRegistry,
    service: str,
    pods: list[Pod],
    counts_of: Callable[[Pod], Awaitable[Mapping[str, int]]],
    names: Iterable[str],
) -> Usage:
    """Every pod's counts (`counts_of` raises `PodUnavailable` for an answer it cannot
    use), summed over `names` and any other name a pod counts."""
    found = await fanout.gather(registry, service, pods, counts_of)
    counts = dict.fromkeys(names, 0)
    for part in found.values:
        for name, value in part.items():
            counts[name] = counts.get(name, 0) + value
    return Usage(counts, found.names)


def detail(limits: Mapping[str, int], used: Mapping[str, int]) -> dict[str, dict[str, int]]:
    """Each limit with what is in use (nothing reserved: the top holds no reservations)."""
    return {k: {"limit": v, "in_use": used.get(k, 0), "reserved": 0} for k, v in limits.items()}


def has_room(limit: int, used: int, adding: int) -> bool:
    return limit == UNLIMITED or used + adding <= limit


def overlay(defaults: Mapping[str, int], own: Mapping[str, int]) -> dict[str, int]:
    """The defaults with a project's own limits (of known names) over them."""
    return {**defaults, **{k: v for k, v in own.items() if k in defaults}}


async def limits(
    db: AsyncSession, prefix: str, project_id: str, defaults: Mapping[str, int]
) -> dict[str, int]:
    """A project's limit of every name of `defaults`: its own (`<prefix><name>`) where set."""
    found = await rows(db, Quota, {"project_id": project_id})
    own = {k.removeprefix(prefix): v for k, v in found.items() if k.startswith(prefix)}
    return overlay(defaults, own)


async def rows(db: AsyncSession, table: type[Row], owner: Mapping[str, str]) -> dict[str, int]:
    """The limits `table` holds for `owner` (its key columns), by resource (only those set)."""
    return {
        row.resource: row.hard_limit for row in await db.scalars(select(table).filter_by(**owner))
    }


async def store(
    db: AsyncSession, table: type[Row], owner: Mapping[str, str], values: Mapping[str, int]
) -> None:
    """Write `values` over `owner`'s rows of `table` (one per resource), adding the others."""
    for attempt in (1, 2):
        found: dict[str, Row] = {
            row.resource: row for row in await db.scalars(select(table).filter_by(**owner))
        }
        now = datetime.now(UTC).replace(tzinfo=None)
        for resource, value in values.items():
            row = found.get(resource)
            if row is None:
                db.add(table(**owner, resource=resource, hard_limit=value, created_at=now))
            else:
                row.hard_limit = value
                row.updated_at = now
        try:
            await db.commit()
            return
        except IntegrityError:
            await db.rollback()  # another request added the row first: update it now
            if attempt == 2:
                raise


async def update(db: AsyncSession, prefix: str, project_id: str, values: Mapping[str, int]) -> None:
    """Set the project's own limits (names without the prefix)."""
    named = {prefix + name: value for name, value in values.items()}
    await store(db, Quota, {"project_id": project_id}, named)


async def reset(db: AsyncSession, prefix: str, project_id: str) -> None:
    await db.execute(
        delete(Quota).where(Quota.project_id == project_id, Quota.resource.like(f"{prefix}%"))
    )
    await db.commit()


# --- reservations -----------------------------------------------------------------------


async def serialise(db: AsyncSession, project_id: str) -> None:
    """Write the project's lock row in `db`'s transaction: until it commits or rolls back,
    every other transaction that calls this for the project waits (a row lock on
    MariaDB and PostgreSQL, the database's write lock on SQLite). The check of a quota
    and the write of what reserves from it then happen one project's request at a
    time. Counts that the check relies on are to be read after it (what was read before
    may be stale). One upsert: a first request of a project races nobody into an
    IntegrityError (which would roll back the caller's whole transaction)."""
    values = {"project_id": project_id, "taken": 1}
    bump = {"taken": ProjectLock.taken + 1}
    dialect = db.get_bind().dialect.name
    statement: Executable
    if dialect == "sqlite":
        statement = (
            sqlite_insert(ProjectLock)
            .values(**values)
            .on_conflict_do_update(index_elements=["project_id"], set_=bump)
        )
    elif dialect == "postgresql":
        statement = (
            postgresql_insert(ProjectLock)
            .values(**values)
            .on_conflict_do_update(index_elements=["project_id"], set_=bump)
        )
    else:  # MariaDB, MySQL
        statement = mysql_insert(ProjectLock).values(**values).on_duplicate_key_update(**bump)
    await db.execute(statement)


async def in_flight(
    db: AsyncSession, project_id: str, kinds: Iterable[str], since: datetime
) -> dict[str, int]:
    """What the project's creates of `kinds` hold that the pods may not count yet, by quota
    name: intents still `creating`, and those completed after `since` (when the pods'
    usage was asked). Objects a pod made before `since` are in its usage already."""
    query = select(Routing.reserved).where(
        Routing.project_id == project_id,
        Routing.resource_type.in_(list(kinds)),
        Routing.reserved.is_not(None),
        or_(Routing.status == "creating", Routing.updated_at >= since),
    )
    held: dict[str, int] = {}
    for reserved in (await db.scalars(query)).all():
        for name, amount in (reserved or {}).items():
            held[name] = held.get(name, 0) + int(amount)
    return held


def plus(*parts: Mapping[str, int]) -> dict[str, int]:
    """The counts of `parts` added up, name by name."""
    total: dict[str, int] = {}
    for part in parts:
        for name, value in part.items():
            total[name] = total.get(name, 0) + value
    return total


@asynccontextmanager
async def reserving(
    db: AsyncSession, project_id: str, kinds: Iterable[str], since: datetime
) -> AsyncIterator[dict[str, int]]:
    """One short transaction of the project's (`serialise`) in which what the creates of
    `kinds` in flight hold is given (`in_flight`, since the pods were asked at `since`)
    to check a create against, and the create's intent is written with what it
    reserves. A refusal raised inside rolls back (nothing reserved); the transaction
    ends when the block does, so no connection is held past it."""
    await serialise(db, project_id)
    try:
        yield await in_flight(db, project_id, kinds, since)
    except BaseException:
        await db.rollback()
        raise
    await idle(db)

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
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.models import Pod, Quota, QuotaClass, UserQuota
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

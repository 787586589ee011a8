"""A project's own limits of one service, kept in `quotas` as `<prefix><resource>` rows
(`neutron:` for networking, `cinder:` for block storage; compute's have no prefix)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.models import Quota


async def own(db: AsyncSession, prefix: str, project_id: str) -> dict[str, int]:
    """The project's own limits, by resource name (without the prefix)."""
    query = select(Quota).where(Quota.project_id == project_id, Quota.resource.like(f"{prefix}%"))
    return {row.resource.removeprefix(prefix): row.hard_limit for row in await db.scalars(query)}


async def update(db: AsyncSession, prefix: str, project_id: str, values: dict[str, int]) -> None:
    stamp = datetime.now(UTC).replace(tzinfo=None)
    for name, value in values.items():
        resource = prefix + name
        row = await db.scalar(
            select(Quota).where(Quota.project_id == project_id, Quota.resource == resource)
        )
        if row is None:
            db.add(
                Quota(project_id=project_id, resource=resource, hard_limit=value, created_at=stamp)
            )
        else:
            row.hard_limit = value
            row.updated_at = stamp
    await db.commit()


async def reset(db: AsyncSession, prefix: str, project_id: str) -> None:
    await db.execute(
        delete(Quota).where(Quota.project_id == project_id, Quota.resource.like(f"{prefix}%"))
    )
    await db.commit()

"""Networking quotas, enforced at the top: `[network] quota_<resource>` defaults and a
project's own limits (rows of `quotas` named `neutron:<resource>`), counted over
the top's own objects."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.conf import NetworkSection
from cascade.db.models import NetResource, Quota
from cascade.services import quota_core
from cascade.services.network import store
from cascade.services.network.errors import Conflict

PREFIX = "neutron:"
# quota name -> the kind of object it counts
RESOURCES = {
    "network": store.NETWORK,
    "subnet": store.SUBNET,
    "port": store.PORT,
    "router": store.ROUTER,
    "floatingip": store.FLOATINGIP,
    "security_group": store.SECURITY_GROUP,
    "security_group_rule": store.SECURITY_GROUP_RULE,
}
UNLIMITED = quota_core.UNLIMITED


def defaults(conf: NetworkSection) -> dict[str, int]:
    return {name: int(getattr(conf, f"quota_{name}")) for name in RESOURCES}


async def limits(db: AsyncSession, conf: NetworkSection, project_id: str) -> dict[str, int]:
    return await quota_core.limits(db, PREFIX, project_id, defaults(conf))


async def projects_with_limits(db: AsyncSession) -> list[str]:
    query = select(Quota.project_id).where(Quota.resource.like(f"{PREFIX}%")).distinct()
    return sorted((await db.scalars(query)).all())


async def usage(db: AsyncSession, project_id: str) -> dict[str, int]:
    query = (
        select(NetResource.kind, func.count())
        .where(NetResource.project_id == project_id)
        .group_by(NetResource.kind)
    )
    counts = {kind: int(n) for kind, n in (await db.execute(query)).all()}
    return {name: counts.get(kind, 0) for name, kind in RESOURCES.items()}


async def check(
    db: AsyncSession, conf: NetworkSection, project_id: str, name: str, adding: int = 1
) -> None:
    """Neutron's 409 OverQuota when `adding` more of `name` passes the project's limit.
    The project's creates are serialised from here to their commit
    (`quota_core.serialise`): two cannot both take the last unit."""
    limit = (await limits(db, conf, project_id))[name]
    if limit == UNLIMITED:
        return
    await quota_core.serialise(db, project_id)
    if not quota_core.has_room(limit, (await usage(db, project_id))[name], adding):
        raise Conflict(f"Quota exceeded for resources: ['{name}'].", type="OverQuota")


async def update(db: AsyncSession, project_id: str, values: dict[str, int]) -> None:
    await quota_core.update(db, PREFIX, project_id, values)


async def reset(db: AsyncSession, project_id: str) -> None:
    await quota_core.reset(db, PREFIX, project_id)

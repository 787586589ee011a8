"""The top's Networking objects in `net_resources` (no HTTP types here).

Every object has Neutron's standard attributes kept as columns (id, project,
tags, revision number, timestamps) and its own attributes in `body`.
`view(row)` is the object as Neutron shows it, before per-kind additions.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.models import NetResource

NETWORK = "network"
SUBNET = "subnet"
PORT = "port"
SECURITY_GROUP = "security_group"
SECURITY_GROUP_RULE = "security_group_rule"
ROUTER = "router"
FLOATINGIP = "floatingip"
SUBNETPOOL = "subnetpool"
ADDRESS_SCOPE = "address_scope"
ADDRESS_GROUP = "address_group"
RBAC_POLICY = "rbac_policy"
FLAVOR = "flavor"
SERVICE_PROFILE = "service_profile"
DEFAULT_SECURITY_GROUP_RULE = "default_security_group_rule"


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def view(row: NetResource) -> dict[str, Any]:
    """The object's attributes with the standard ones, as Neutron answers them."""
    # keys starting with "_" are the top's own bookkeeping, never shown
    return {
        "id": row.id,
        **{k: v for k, v in row.body.items() if not k.startswith("_")},
        "project_id": row.project_id,
        "tenant_id": row.project_id,
        "tags": list(row.tags),
        "created_at": stamp(row.created_at),
        "updated_at": stamp(row.updated_at),
        "revision_number": row.revision_number,
    }


def add(
    db: AsyncSession,
    kind: str,
    project_id: str,
    body: dict[str, Any],
    parent_id: str | None = None,
    object_id: str | None = None,
) -> NetResource:
    """A new object in `db` (committed by the caller with whatever goes with it)."""
    moment = now()
    row = NetResource(
        id=object_id or str(uuid.uuid4()),
        kind=kind,
        project_id=project_id,
        parent_id=parent_id,
        body=body,
        tags=[],
        revision_number=0,
        created_at=moment,
        updated_at=moment,
    )
    db.add(row)
    return row


def change(row: NetResource, changes: dict[str, Any]) -> bool:
    """Apply `changes` to the body; a real change bumps the revision. True if it did."""
    body = dict(row.body)
    differs = any(body.get(key) != value for key, value in changes.items())
    if not differs:
        return False
    body.update(changes)
    row.body = body  # a new dict, so the JSON column is seen as changed
    bump(row)
    return True


def bump(row: NetResource) -> None:
    row.revision_number += 1
    row.updated_at = now()


async def get(db: AsyncSession, kind: str, object_id: str) -> NetResource | None:
    row = await db.get(NetResource, object_id)
    if row is None or row.kind != kind:
        return None
    return row


async def locked(db: AsyncSession, kind: str, object_id: str) -> NetResource | None:
    """The object as the database has it now, its row locked until the caller commits: a
    job that changes an object after a long pod call changes the current one, not the copy
    it loaded before (an API update meanwhile is never overwritten)."""
    query = select(NetResource).where(NetResource.id == object_id, NetResource.kind == kind)
    query = query.with_for_update().execution_options(populate_existing=True)
    found: NetResource | None = await db.scalar(query)
    return found


async def rows(
    db: AsyncSession,
    kind: str,
    project_id: str | None = None,
    parent_ids: Collection[str] | None = None,
    ids: Collection[str] | None = None,
) -> list[NetResource]:
    """Objects of `kind`, narrowed by project, parent and ids where given."""
    query = select(NetResource).where(NetResource.kind == kind)
    if project_id is not None:
        query = query.where(NetResource.project_id == project_id)
    if parent_ids is not None:
        query = query.where(NetResource.parent_id.in_(list(parent_ids)))
    if ids is not None:
        query = query.where(NetResource.id.in_(list(ids)))
    return list((await db.scalars(query)).all())


async def owned_or_under(
    db: AsyncSession, kind: str, project_id: str, parent_kind: str
) -> list[NetResource]:
    """Objects of `kind` of the project, and those under (whose parent is) one of the
    project's `parent_kind` objects, whoever owns them: one query."""
    parents = select(NetResource.id).where(
        NetResource.kind == parent_kind, NetResource.project_id == project_id
    )
    query = select(NetResource).where(
        NetResource.kind == kind,
        or_(NetResource.project_id == project_id, NetResource.parent_id.in_(parents)),
    )
    return list((await db.scalars(query)).all())


async def count(db: AsyncSession, kind: str, project_id: str) -> int:
    return len(await rows(db, kind, project_id))

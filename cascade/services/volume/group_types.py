"""Group types owned by the top (no HTTP types here).

As Cinder's `volume/group_types.py` (see `spec_types`, which serves them and volume
types): free-form group specs, shown to admins only. The pods' copies are
`volume_type_copies`' (a pod whose groups still use its copy refuses its delete,
and that stops the top's).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.models import GroupType
from cascade.services.volume.spec_types import SpecType, TypeError_
from cascade.versions import Version

KIND = "group_type"
MICROVERSION = "3.11"  # the first with group types
SORT_KEYS = ("id", "name", "description", "is_public", "created_at")


def view(gtype: GroupType, admin: bool) -> dict[str, Any]:
    """Cinder's view: group specs for admins only."""
    out: dict[str, Any] = {
        "id": gtype.id,
        "name": gtype.name,
        "description": gtype.description,
        "is_public": gtype.is_public,
    }
    if admin:
        out["group_specs"] = dict(gtype.group_specs or {})
    return out


GROUP_TYPE = SpecType(
    GroupType,
    KIND,
    "group_specs",
    view,
    rules="group:group_types:{}",
    spec_rules="group:group_types_specs:{}",
    reads=("get_all", "get"),
    public="is_public",
    created=202,
    named="Group type {} could not be found.",
    nothing="Specify group type name, description or a combination thereof.",
    no_spec=(
        "Group Type {id} has no extra spec with key {key}.",
        "Group Type {id} has no specs with key {key}.",
    ),
    since=Version.parse(MICROVERSION),
    no_default="Default group type can not be found.",
)


async def listing(
    db: AsyncSession, is_public: bool | None, keys: list[str], dirs: list[str]
) -> list[GroupType]:
    """`is_public` True, False or None (all); sorted by `keys` (Cinder's default: id)."""
    query = select(GroupType)
    if is_public is not None:
        query = query.where(GroupType.is_public == is_public)
    for key, direction in zip(keys or ["created_at", "id"], dirs, strict=False):
        if key not in SORT_KEYS:
            raise TypeError_(400, f"Invalid input received: Invalid sort key {key}.")
        column = getattr(GroupType, key)
        query = query.order_by(column.desc() if direction == "desc" else column.asc())
    return list((await db.scalars(query.order_by(GroupType.id))).all())

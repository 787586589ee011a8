"""Group types owned by the top, and their copies in the pods (no HTTP types here).

As Cinder's `volume/group_types.py` (see `spec_types`, which serves them and volume
types): free-form group specs, shown to admins only. A pod gets a copy the first
time a group there needs it (`ensure_in_pod`), named `cascade-<top id>` and made
with Cascade's service token (only admins may make types), with the top's specs
and visibility; `sync` (the `group_type.sync` job) brings every copy in line after
a change, and `delete_copies` removes them before the top's type goes (a pod whose
groups still use its copy refuses, and that stops the delete).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.models import GroupType, Pod
from cascade.pods.registry import PodRegistry
from cascade.services import copies, volume_type_copies
from cascade.services.spec_types import SpecType, TypeError_
from cascade.services.volume_type_copies import Cinder
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


class GroupTypeCopy(volume_type_copies.CinderCopy[GroupType]):
    """A top group type's copy in a pod's Cinder (`copies.Kind`): the top's specs and
    visibility (its name and description stay the copy's own: `cascade-<id>`, the top
    name)."""

    resource = KIND
    path = "/group_types"
    key = "group_type"
    made = 202
    version = MICROVERSION

    def fields(self, top: GroupType) -> dict[str, Any]:
        return {
            "name": self.name(top),
            "description": top.name,
            "group_specs": dict(top.group_specs or {}),
            "is_public": top.is_public,
        }

    async def converge(
        self, api: Cinder, top: GroupType, copy: dict[str, Any], fresh: bool
    ) -> None:
        path = f"/group_types/{copy['id']}"
        if fresh:
            return
        shown = (await api.send("GET", path, (200,))).json()["group_type"]
        if shown.get("is_public") != top.is_public:
            body = {"group_type": {"is_public": top.is_public}}
            await api.send("PUT", path, (200,), json=body)
        have = shown.get("group_specs") or {}
        want = dict(top.group_specs or {})
        if any(have.get(k) != v for k, v in want.items()):
            await api.send("POST", f"{path}/group_specs", (202,), json={"group_specs": want})
        for key in sorted(set(have) - set(want)):
            await api.send("DELETE", f"{path}/group_specs/{key}", (202, 404))


async def ensure_in_pod(
    db: AsyncSession, registry: PodRegistry, pod: Pod, gtype: GroupType, request_id: str = ""
) -> str:
    """The pod's id of its copy of `gtype`, made (or adopted) now if there is none."""
    api = volume_type_copies.cinder(registry, pod, request_id, MICROVERSION)
    return await copies.ensure(db, api, GroupTypeCopy(), gtype, gtype.id)


async def sync(db: AsyncSession, registry: PodRegistry, type_id: str) -> None:
    """Every copy of the type brought in line with the top."""
    gtype = await db.get(GroupType, type_id)
    if gtype is not None:
        await volume_type_copies.converged(db, registry, GroupTypeCopy(), gtype, type_id)


async def delete_copies(db: AsyncSession, registry: PodRegistry, type_id: str) -> None:
    """The pods' copies of a type that goes; a pod that refuses (its groups use the
    copy) stops the delete with its `TypeCopyFailed`."""
    await volume_type_copies.removed(db, registry, GroupTypeCopy(), type_id)

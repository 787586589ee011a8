"""Group types owned by the top, and their copies in the pods (no HTTP types here).

As Cinder's `volume/group_types.py`: a name (unique), a description, public or
not, and free-form group specs. A pod gets a copy the first time a group there
needs it (`ensure_in_pod`), named `cascade-<top id>` and made with Cascade's
service token (only admins may make types), with the top's specs and
visibility; `sync` (the `group_type.sync` job) brings every copy in line after
a change, and `delete_copies` removes them before the top's type goes (a pod
whose groups still use its copy refuses, and that stops the delete). Refusals
carry Cinder's status and message (`volume_types.TypeError_`).
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.models import GroupType, Pod, Routing
from cascade.pods.registry import PodRegistry
from cascade.services import copies, volume_type_copies
from cascade.services.copies import PREFIX
from cascade.services.volume_type_copies import Cinder
from cascade.services.volume_types import TypeError_, check_specs

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


async def get(db: AsyncSession, type_id: str, admin: bool) -> GroupType:
    """A private type is an admin's only (Cinder has no access list for group types)."""
    found = await db.get(GroupType, type_id)
    if found is None or not (found.is_public or admin):
        raise TypeError_(404, f"Group type {type_id} could not be found.")
    return found


async def by_name_or_id(db: AsyncSession, wanted: str, admin: bool) -> GroupType:
    """By id, else by name (as Cinder takes a group's `group_type`)."""
    found = await db.get(GroupType, wanted)
    if found is None:
        found = await db.scalar(select(GroupType).where(GroupType.name == wanted))
    if found is None or not (found.is_public or admin):
        raise TypeError_(404, f"Group type {wanted} could not be found.")
    return found


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


def _name(raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 255:
        raise TypeError_(400, "Group type name can not be empty.")
    return raw.strip()


def _description(raw: Any) -> str | None:
    if raw is not None and (not isinstance(raw, str) or len(raw) > 255):
        raise TypeError_(400, "Invalid input for field/attribute description.")
    return raw


async def _commit(db: AsyncSession, name: str) -> None:
    try:
        await db.commit()
    except IntegrityError:
        await db.rollback()
        raise TypeError_(409, f"Group Type {name} already exists.") from None


async def create(
    db: AsyncSession, name: Any, description: Any, specs: Any, is_public: bool
) -> GroupType:
    row = GroupType(
        id=str(uuid.uuid4()),
        name=_name(name),
        description=_description(description),
        is_public=is_public,
        group_specs=check_specs(specs or {}),
        created_at=copies.now(),
    )
    db.add(row)
    await _commit(db, row.name)
    return row


async def update(
    db: AsyncSession, gtype: GroupType, name: Any, description: Any, is_public: bool | None
) -> None:
    if name is None and description is None and is_public is None:
        raise TypeError_(400, "Specify group type name, description or a combination thereof.")
    if name is not None:
        gtype.name = _name(name)
    if description is not None:
        gtype.description = _description(description)
    if is_public is not None:
        gtype.is_public = is_public
    gtype.updated_at = copies.now()
    await _commit(db, gtype.name)


async def set_specs(db: AsyncSession, gtype: GroupType, specs: Any) -> dict[str, str]:
    given = check_specs(specs)
    gtype.group_specs = {**(gtype.group_specs or {}), **given}
    gtype.updated_at = copies.now()
    await db.commit()
    return given


async def unset_spec(db: AsyncSession, gtype: GroupType, key: str) -> None:
    specs = dict(gtype.group_specs or {})
    if key not in specs:
        raise TypeError_(404, f"Group Type {gtype.id} has no specs with key {key}.")
    del specs[key]
    gtype.group_specs = specs
    gtype.updated_at = copies.now()
    await db.commit()


@dataclasses.dataclass
class GroupTypeCopy:
    """A top group type's copy in a pod's Cinder (`copies.Kind`): the top's specs and
    visibility (its name and description stay the copy's own: `cascade-<id>`, the top
    name)."""

    resource: str = KIND

    def name(self, top: GroupType) -> str:
        return f"{PREFIX}{top.id}"

    def bottom_id(self, copy: dict[str, Any]) -> str:
        return str(copy["id"])

    def same(self, copy: dict[str, Any], top: GroupType) -> bool:
        return True

    async def find(self, api: Cinder, top: GroupType) -> dict[str, Any] | None:
        params = {"is_public": "None"}
        listed = await api.send("GET", "/group_types", (200,), params=params)
        for found in listed.json().get("group_types", []):
            if found.get("name") == self.name(top):
                return dict(found)
        return None

    async def create(self, api: Cinder, top: GroupType) -> dict[str, Any] | None:
        body = {
            "group_type": {
                "name": self.name(top),
                "description": top.name,
                "group_specs": dict(top.group_specs or {}),
                "is_public": top.is_public,
            }
        }
        resp = await api.send("POST", "/group_types", (202, 409), json=body)
        return None if resp.status_code == 409 else dict(resp.json()["group_type"])

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

    async def remove(self, api: Cinder, bottom_id: str) -> None:
        await api.send("DELETE", f"/group_types/{bottom_id}", (202, 404))


def _api(registry: PodRegistry, pod: Pod, request_id: str = "") -> Cinder:
    return volume_type_copies.cinder(registry, pod, request_id, MICROVERSION)


async def ensure_in_pod(
    db: AsyncSession, registry: PodRegistry, pod: Pod, gtype: GroupType, request_id: str = ""
) -> str:
    """The pod's id of its copy of `gtype`, made (or adopted) now if there is none."""
    return await copies.ensure(
        db, _api(registry, pod, request_id), GroupTypeCopy(), gtype, gtype.id
    )


async def sync(db: AsyncSession, registry: PodRegistry, type_id: str) -> None:
    """Every copy of the type brought in line with the top."""
    gtype = await db.get(GroupType, type_id)
    if gtype is None:
        return
    kind = GroupTypeCopy()

    async def one(pod: Pod, routing: Routing) -> None:
        await kind.converge(_api(registry, pod), gtype, {"id": routing.bottom_id}, False)

    await copies.each_copy(db, KIND, type_id, one)


async def delete_copies(db: AsyncSession, registry: PodRegistry, type_id: str) -> None:
    """The pods' copies of a type that goes; a pod that refuses (its groups use the
    copy) stops the delete with its `TypeCopyFailed`."""
    kind = GroupTypeCopy()

    async def one(pod: Pod, routing: Routing) -> None:
        await kind.remove(_api(registry, pod), str(routing.bottom_id))
        await db.delete(routing)
        await db.commit()

    await copies.each_copy(db, KIND, type_id, one)

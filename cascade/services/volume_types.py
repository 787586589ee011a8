"""Volume types owned by the top (no HTTP types here).

As in Cinder: names are unique; a private type is seen and used only by the
projects given access (and admins); members see the extra specs users may
know (`RESKEY:availability_zones`, `multiattach`, `replication_enabled`),
admins all of them. `__DEFAULT__` (made with the database) is the default type
and cannot be deleted. Extra specs under `cascade:` are the top's own
(`cascade:pod_tag` restricts the pods a type's volumes may go to) and never
reach a pod. Errors carry Cinder's status and message (`TypeError`).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.models import DefaultType, VolumeType, VolumeTypeAccess

DEFAULT = "__DEFAULT__"
KIND = "volume_type"
USER_VISIBLE_SPECS = ("RESKEY:availability_zones", "multiattach", "replication_enabled")
TOP_ONLY = "cascade:"
POD_TAG = "cascade:pod_tag"
PUBLIC_ACCESS = (
    "Invalid volume type: Type access modification is not applicable to public volume type."
)
SPEC_KEY = re.compile(r"^[a-zA-Z0-9-_:.]{1,255}$")


class TypeError_(Exception):
    """A refusal with Cinder's status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def pod_specs(vtype: VolumeType) -> dict[str, str]:
    """The extra specs a pod's copy carries: all but the top's own."""
    return {k: v for k, v in (vtype.extra_specs or {}).items() if not k.startswith(TOP_ONLY)}


async def projects_of(db: AsyncSession, type_id: str) -> list[str]:
    query = select(VolumeTypeAccess.project_id).where(VolumeTypeAccess.volume_type_id == type_id)
    return sorted((await db.scalars(query)).all())


async def _usable(db: AsyncSession, vtype: VolumeType, project: str | None) -> bool:
    """Public, or private with access for `project` (None: an admin)."""
    return vtype.is_public or project is None or project in await projects_of(db, vtype.id)


async def get(db: AsyncSession, type_id: str, project: str | None) -> VolumeType:
    """By id only, as Cinder's show: 404 for a missing or inaccessible type."""
    found = await db.get(VolumeType, type_id)
    if found is None or not await _usable(db, found, project):
        raise TypeError_(404, f"Volume type {type_id} could not be found.")
    return found


async def by_name_or_id(db: AsyncSession, wanted: str, project: str | None) -> VolumeType:
    """A volume create's `volume_type`, as Cinder's `get_by_name_or_id`."""
    found = await db.get(VolumeType, wanted)
    if found is None:
        found = await db.scalar(select(VolumeType).where(VolumeType.name == wanted))
    if found is None or not await _usable(db, found, project):
        raise TypeError_(404, f"Volume type with name {wanted} could not be found.")
    return found


async def default(db: AsyncSession, name: str = DEFAULT, project: str = "") -> VolumeType:
    """The project's default type (`/default-types`), else the one named in the conf."""
    chosen = await db.get(DefaultType, project) if project else None
    found = await db.get(VolumeType, chosen.volume_type_id) if chosen is not None else None
    if found is None:
        found = await db.scalar(select(VolumeType).where(VolumeType.name == name))
    if found is None:
        raise TypeError_(404, "Default volume type can not be found.")
    return found


def default_view(row: DefaultType) -> dict[str, str]:
    return {"project_id": row.project_id, "volume_type_id": row.volume_type_id}


async def project_defaults(db: AsyncSession, project: str | None = None) -> list[DefaultType]:
    """Every project's default type (or `project`'s only)."""
    query = select(DefaultType).order_by(DefaultType.project_id)
    if project is not None:
        query = query.where(DefaultType.project_id == project)
    return list((await db.scalars(query)).all())


async def set_project_default(db: AsyncSession, project: str, wanted: str) -> DefaultType:
    """The project's default type made `wanted` (a name or id; unknown: Cinder's 400)."""
    try:
        vtype = await by_name_or_id(db, wanted, None)
    except TypeError_ as exc:
        raise TypeError_(400, exc.message) from exc
    row = await db.get(DefaultType, project)
    if row is None:
        row = DefaultType(project_id=project, volume_type_id=vtype.id)
        db.add(row)
    row.volume_type_id = vtype.id
    await db.commit()
    return row


async def unset_project_default(db: AsyncSession, project: str) -> None:
    row = await db.get(DefaultType, project)
    if row is not None:
        await db.delete(row)
        await db.commit()


async def listing(
    db: AsyncSession, project: str | None, is_public: bool | None
) -> list[VolumeType]:
    """Members: public types and private ones their project may use. Admins (`project`
    None): `is_public` True (Cinder's default), False or None (all)."""
    rows = list((await db.scalars(select(VolumeType).order_by(VolumeType.name))).all())
    if project is not None:
        return [t for t in rows if await _usable(db, t, project)]
    if is_public is None:
        return rows
    return [t for t in rows if t.is_public == is_public]


def view(vtype: VolumeType, admin: bool) -> dict[str, Any]:
    specs = dict(vtype.extra_specs or {})
    if not admin:
        specs = {k: v for k, v in specs.items() if k in USER_VISIBLE_SPECS}
    out: dict[str, Any] = {
        "id": vtype.id,
        "name": vtype.name,
        "is_public": vtype.is_public,
        "description": vtype.description,
        "extra_specs": specs,
    }
    if admin:
        out["qos_specs_id"] = vtype.qos_specs_id
    out["os-volume-type-access:is_public"] = vtype.is_public
    return out


def check_specs(specs: Any) -> dict[str, str]:
    """Extra specs as Cinder takes them: keys `^[a-zA-Z0-9-_:.]{1,255}$`, string values."""
    if not isinstance(specs, dict):
        raise TypeError_(400, "Invalid input for field/attribute extra_specs.")
    for key, value in specs.items():
        if not isinstance(key, str) or not SPEC_KEY.match(key):
            raise TypeError_(
                400,
                f"Invalid input for field/attribute extra_specs. Value: {specs}. "
                f"'{key}' does not match any of the regexes: '^[a-zA-Z0-9-_:.]{{1,255}}$'",
            )
        if value is not None and not isinstance(value, str | int | float | bool):
            raise TypeError_(400, f"Invalid input for field/attribute {key}. Value: {value}.")
    return {k: "" if v is None else str(v) for k, v in specs.items()}


async def create(
    db: AsyncSession, name: Any, description: Any, specs: Any, is_public: bool
) -> VolumeType:
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise TypeError_(400, "Volume type name can not be empty.")
    if description is not None and (not isinstance(description, str) or len(description) > 255):
        raise TypeError_(400, "Invalid input for field/attribute description.")
    row = VolumeType(
        id=str(uuid.uuid4()),
        name=name.strip(),
        description=description,
        is_public=is_public,
        extra_specs=check_specs(specs or {}),
        created_at=_now(),
    )
    db.add(row)
    try:
        await db.commit()
    except IntegrityError:
        await db.rollback()
        raise TypeError_(409, f"Volume Type {name} already exists.") from None
    return row


async def update(
    db: AsyncSession, vtype: VolumeType, name: Any, description: Any, is_public: Any
) -> VolumeType:
    if name is None and description is None and is_public is None:
        raise TypeError_(
            400, "Specify volume type name, description, is_public or a combination thereof."
        )
    if name is not None:
        if not isinstance(name, str) or not name.strip():
            raise TypeError_(400, "Volume type name can not be empty.")
        if vtype.name == DEFAULT and name.strip() != DEFAULT:
            raise TypeError_(400, "The default volume type cannot be renamed.")
        vtype.name = name.strip()
    if description is not None:
        vtype.description = str(description)
    if is_public is not None:
        vtype.is_public = bool(is_public)
    vtype.updated_at = _now()
    try:
        await db.commit()
    except IntegrityError:
        await db.rollback()
        raise TypeError_(409, f"Volume Type {name} already exists.") from None
    return vtype


async def set_specs(db: AsyncSession, vtype: VolumeType, specs: dict[str, str]) -> None:
    vtype.extra_specs = {**(vtype.extra_specs or {}), **specs}
    vtype.updated_at = _now()
    await db.commit()


async def unset_spec(db: AsyncSession, vtype: VolumeType, key: str) -> None:
    specs = dict(vtype.extra_specs or {})
    if key not in specs:
        raise TypeError_(404, f"Volume Type {vtype.id} has no extra specs with key {key}.")
    del specs[key]
    vtype.extra_specs = specs
    vtype.updated_at = _now()
    await db.commit()


async def add_access(db: AsyncSession, vtype: VolumeType, project: str) -> None:
    if vtype.is_public:
        raise TypeError_(400, PUBLIC_ACCESS)
    type_id = vtype.id  # a rollback expires the row
    db.add(VolumeTypeAccess(volume_type_id=type_id, project_id=project))
    try:
        await db.commit()
    except IntegrityError:
        await db.rollback()
        raise TypeError_(
            409, f"Volume type access for {type_id} / {project} combination already exists."
        ) from None


async def remove_access(db: AsyncSession, vtype: VolumeType, project: str) -> None:
    if vtype.is_public:
        raise TypeError_(400, PUBLIC_ACCESS)
    found = await db.execute(
        delete(VolumeTypeAccess).where(
            VolumeTypeAccess.volume_type_id == vtype.id, VolumeTypeAccess.project_id == project
        )
    )
    if not getattr(found, "rowcount", 0):
        raise TypeError_(
            404, f"Volume type access not found for {vtype.id} / {project} combination."
        )
    await db.commit()

"""Volume types owned by the top (no HTTP types here).

As in Cinder (see `spec_types`, which serves them and group types): members see
the extra specs users may know (`RESKEY:availability_zones`, `multiattach`,
`replication_enabled`), admins all of them. `__DEFAULT__` (made with the database)
is the default type and cannot be deleted. Extra specs under `cascade:` are the
top's own (`cascade:pod_tag` restricts the pods a type's volumes may go to) and
never reach a pod.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.models import DefaultType, VolumeType, VolumeTypeAccess
from cascade.services.volume.spec_types import DEFAULT as DEFAULT
from cascade.services.volume.spec_types import SpecType, usable
from cascade.services.volume.spec_types import TypeError_ as TypeError_
from cascade.services.volume.spec_types import projects_of as projects_of

KIND = "volume_type"
USER_VISIBLE_SPECS = ("RESKEY:availability_zones", "multiattach", "replication_enabled")
TOP_ONLY = "cascade:"
POD_TAG = "cascade:pod_tag"
PUBLIC_ACCESS = (
    "Invalid volume type: Type access modification is not applicable to public volume type."
)


def pod_specs(vtype: VolumeType) -> dict[str, str]:
    """The extra specs a pod's copy carries: all but the top's own."""
    return {k: v for k, v in (vtype.extra_specs or {}).items() if not k.startswith(TOP_ONLY)}


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


TYPE = SpecType(
    VolumeType,
    KIND,
    "extra_specs",
    view,
    rules="volume_extension:type_{}",
    spec_rules="volume_extension:types_extra_specs:{}",
    reads=("index", "show"),
    public="os-volume-type-access:is_public",
    created=200,
    named="Volume type with name {} could not be found.",
    nothing="Specify volume type name, description, is_public or a combination thereof.",
    no_spec=("Volume Type {id} has no extra specs with key {key}.",) * 2,
    hidden=(("qos_specs_id",), ("qos_specs_id", "os-volume-type-access:is_public")),
)
get = TYPE.get
by_name_or_id = TYPE.by_name_or_id  # a volume create's `volume_type`


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
        return [t for t in rows if await usable(db, t, project)]
    if is_public is None:
        return rows
    return [t for t in rows if t.is_public == is_public]


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

"""QoS specs owned by the top, and their association with volume types (no HTTP types).

As Cinder's `volume/qos_specs.py`: a name (unique), a consumer (`front-end`,
`back-end` or `both`; `back-end` by default) and free-form specs; a volume
type has at most one; a spec associated with a type is deleted only when
forced (which disassociates it). Errors carry Cinder's status and message
(`TypeError_`).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.models import QosSpecs, VolumeType
from cascade.services.copies import now
from cascade.services.volume.spec_types import TypeError_

KIND = "qos_specs"
CONSUMERS = ("front-end", "back-end", "both")


def view(qos: QosSpecs) -> dict[str, Any]:
    return {"id": qos.id, "name": qos.name, "consumer": qos.consumer, "specs": dict(qos.specs)}


def _specs(raw: dict[str, Any]) -> dict[str, str]:
    for key, value in raw.items():
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise TypeError_(400, f"Invalid input for field/attribute {key}. Value: {value}.")
    return {str(k): str(v) for k, v in raw.items()}


async def get(db: AsyncSession, qos_id: str) -> QosSpecs:
    found = await db.get(QosSpecs, qos_id)
    if found is None:
        raise TypeError_(404, f"No such QoS spec {qos_id}.")
    return found


async def listing(db: AsyncSession) -> list[QosSpecs]:
    return list((await db.scalars(select(QosSpecs).order_by(QosSpecs.name))).all())


async def create(db: AsyncSession, body: Any) -> QosSpecs:
    """`{"qos_specs": {"name": ..., "consumer": ..., <spec>: <value>, ...}}`."""
    if not isinstance(body, dict) or not isinstance(body.get("qos_specs"), dict):
        raise TypeError_(400, "'qos_specs' is a required property")
    given = dict(body["qos_specs"])
    name = given.pop("name", None)
    if not isinstance(name, str) or not name.strip():
        raise TypeError_(400, "'name' is a required property")
    consumer = given.pop("consumer", None) or "back-end"
    if consumer not in CONSUMERS:
        raise TypeError_(
            400,
            f"Invalid input received: Invalid value '{consumer}' for consumer. Valid values "
            "are ['front-end', 'back-end', 'both'].",
        )
    row = QosSpecs(
        id=str(uuid.uuid4()),
        name=name.strip(),
        consumer=consumer,
        specs=_specs(given),
        created_at=now(),
    )
    db.add(row)
    try:
        await db.commit()
    except IntegrityError:
        await db.rollback()
        raise TypeError_(409, f"QoS Specs {name.strip()} already exists.") from None
    return row


async def set_keys(db: AsyncSession, qos: QosSpecs, body: Any) -> dict[str, str]:
    if not isinstance(body, dict) or not isinstance(body.get("qos_specs"), dict):
        raise TypeError_(400, "'qos_specs' is a required property")
    given = _specs(body["qos_specs"])
    if "consumer" in given:
        consumer = given.pop("consumer")
        if consumer not in CONSUMERS:
            raise TypeError_(
                400, f"Invalid input received: Invalid value '{consumer}' for consumer."
            )
        qos.consumer = consumer
    qos.specs = {**qos.specs, **given}
    qos.updated_at = now()
    await db.commit()
    return given


async def delete_keys(db: AsyncSession, qos: QosSpecs, body: Any) -> None:
    keys = body.get("keys") if isinstance(body, dict) else None
    if not isinstance(keys, list):
        raise TypeError_(400, "'keys' is a required property")
    for key in keys:  # Cinder's schema: an array of strings (a key looked up below)
        if not isinstance(key, str):
            raise TypeError_(
                400,
                f"Invalid input for field/attribute keys. Value: {keys}. "
                f"{key!r} is not of type 'string'",
            )
    specs = dict(qos.specs)
    for key in keys:
        if key not in specs:
            raise TypeError_(404, f"QoS spec {qos.id} has no spec with key {key}.")
        del specs[key]
    qos.specs = specs
    qos.updated_at = now()
    await db.commit()


async def types_of(db: AsyncSession, qos_id: str) -> list[VolumeType]:
    query = select(VolumeType).where(VolumeType.qos_specs_id == qos_id).order_by(VolumeType.name)
    return list((await db.scalars(query)).all())


async def associate(db: AsyncSession, qos: QosSpecs, vtype: VolumeType) -> None:
    if vtype.qos_specs_id and vtype.qos_specs_id != qos.id:
        raise TypeError_(
            400,
            f"Invalid volume type: Type {vtype.id} is already associated with another qos "
            f"specs: {vtype.qos_specs_id}",
        )
    vtype.qos_specs_id = qos.id
    await db.commit()


async def disassociate(db: AsyncSession, qos: QosSpecs, vtype: VolumeType) -> None:
    if vtype.qos_specs_id == qos.id:
        vtype.qos_specs_id = None
        await db.commit()


async def delete(db: AsyncSession, qos: QosSpecs, force: bool) -> list[VolumeType]:
    """The spec goes; the types it leaves (to be synced), or 400 while associated."""
    types = await types_of(db, qos.id)
    if types and not force:
        raise TypeError_(400, "Qos specs still in use.")
    for vtype in types:
        vtype.qos_specs_id = None
    await db.delete(qos)
    await db.commit()
    return types

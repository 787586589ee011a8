"""Job handlers that keep the pods' copies of top volume types in step.

- `volume_type.sync` (type id): every pod's copy gets the top's extra specs
  (without `cascade:` keys) and, for a private type, the top's access list.
  and its QoS specs association.
- `qos_specs.sync` (QoS specs id): every pod's copy gets the top's consumer and
  specs; a deleted one's copies go.
- `group_type.sync` (group type id): every pod's copy gets the top's group specs
  and visibility.
All compare rather than replay: running them again converges on the same state.
"""

from __future__ import annotations

from cascade.db.models import Job, VolumeType
from cascade.jobs.registry import JobContext, handler
from cascade.services import group_types, volume_type_copies

SYNC = "volume_type.sync"
QOS_SYNC = "qos_specs.sync"
GROUP_TYPE_SYNC = "group_type.sync"


@handler(SYNC)
async def sync_type(ctx: JobContext, job: Job) -> None:
    async with ctx.sessions() as db:
        vtype = await db.get(VolumeType, job.resource_id)
        if vtype is not None:  # a deleted type's copies went with its delete
            await volume_type_copies.sync(db, ctx.pods, vtype)


@handler(QOS_SYNC)
async def sync_qos(ctx: JobContext, job: Job) -> None:
    async with ctx.sessions() as db:
        await volume_type_copies.sync_qos(db, ctx.pods, job.resource_id)


@handler(GROUP_TYPE_SYNC)
async def sync_group_type(ctx: JobContext, job: Job) -> None:
    async with ctx.sessions() as db:
        await group_types.sync(db, ctx.pods, job.resource_id)

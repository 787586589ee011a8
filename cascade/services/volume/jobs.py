"""Job handlers that keep the pods' copies of top volume types in step.

- `volume_type.sync` (type id): every pod's copy gets the top's extra specs
  (without `cascade:` keys), encryption, QoS specs association and, for a private
  type, the top's access list.
- `qos_specs.sync` (QoS specs id): every pod's copy gets the top's consumer and
  specs; a deleted one's copies go.
- `group_type.sync` (group type id): every pod's copy gets the top's group specs
  and visibility.
All compare rather than replay: running them again converges on the same state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.models import Job
from cascade.jobs.registry import JobContext, handler
from cascade.pods.registry import PodRegistry
from cascade.services.volume import type_copies as volume_type_copies

SYNC = "volume_type.sync"
QOS_SYNC = "qos_specs.sync"
GROUP_TYPE_SYNC = "group_type.sync"


def _syncing(
    sync: Callable[[AsyncSession, PodRegistry, str], Awaitable[None]],
) -> Callable[[JobContext, Job], Awaitable[None]]:
    """The job handler that runs `sync` on its object."""

    async def run(ctx: JobContext, job: Job) -> None:
        async with ctx.sessions() as db:
            await sync(db, ctx.pods, job.resource_id)

    return run


for _job, _sync in (
    (SYNC, volume_type_copies.sync),
    (QOS_SYNC, volume_type_copies.sync_qos),
    (GROUP_TYPE_SYNC, volume_type_copies.sync_group),
):
    handler(_job)(_syncing(_sync))

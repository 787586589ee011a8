"""Volumes moved between pods: the moves as the API asks for them (no HTTP types here;
the work itself is the `volume.move` job, `move_job.py`).

An admin moves an available volume with Cinder's own `os-migrate_volume` naming a host
of another pod (one of its volume services' hosts, as `/os-services` at the top shows
them, or the pod's name). What Cinder does for a migration between back-ends, Cascade
does between pods, through the image service both pods reach: the volume is uploaded
to an image in its pod, a volume is made from the image in the target pod (same size,
name, description, metadata, the top type's copy there, bootable as the source), the
routing switched to it (pod and the pod's own id), and then the source and the image
are deleted. As in Cinder the volume keeps its id (the top's) and the move needs no
confirmation: `migration_status` shows `migrating` until it is done. A failure at any
step deletes what the move made in the target and leaves the volume where it was (the
failure in the move's `error`, `/v1/moves`).

Refused (Cinder's 400) before anything is done: a volume that is not `available` (a
volume in use moves with its server: `compute/move_volumes.py`), one with snapshots,
one in a group, an encrypted one (its key would have to move too), one moving already,
a target pod that takes no new resources.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.models import Move, Pod, Routing
from cascade.pods import volume as pod_volume
from cascade.pods.registry import PodRegistry
from cascade.services.compute import moves
from cascade.services.compute.moves import MoveRefused
from cascade.services.volume.volumes import VOLUME

JOB = "volume.move"
READ_VERSION = "3.13"  # a volume as a move reads it: the first that shows its `group_id`

__all__ = ["JOB", "READ_VERSION", "MoveRefused", "begin", "start"]


async def begin(
    db: AsyncSession,
    registry: PodRegistry,
    caller: pod_volume.Caller,
    routing: Routing,
    source: Pod,
    target: Pod,
    drain_id: str | None = None,
) -> Move:
    """A move of the routed volume to `target` (`start`), the volume and its snapshots
    read in its pod first as `caller` (an admin: the snapshots of every project);
    PodUnavailable when the pod cannot be asked."""
    pod_id = routing.bottom_id or routing.top_id
    resp = await pod_volume.call(registry, source, caller, "GET", f"/volumes/{pod_id}")
    if resp.status_code == 404:
        raise MoveRefused(
            f"Pod {source.name} does not have volume {routing.top_id}: its routing is stale "
            "(an audit reports it as missing)."
        )
    if resp.status_code != 200:
        raise MoveRefused(f"Pod {source.name} answered {resp.status_code} for the volume.")
    params = {"volume_id": pod_id, "all_tenants": "1"}
    listed = await pod_volume.call(
        registry, source, caller, "GET", "/snapshots/detail", params=params
    )
    if listed.status_code != 200:
        raise MoveRefused(f"Pod {source.name} answered {listed.status_code} for its snapshots.")
    snapshots = [str(s["id"]) for s in listed.json().get("snapshots", [])]
    shown = resp.json()["volume"]
    return await start(db, routing, source, target, shown, snapshots, drain_id)


async def start(
    db: AsyncSession,
    routing: Routing,
    source: Pod,
    target: Pod,
    shown: dict[str, Any],
    snapshots: list[str],
    drain_id: str | None = None,
) -> Move:
    """A move of the routed volume (as its pod `shown` it, at READ_VERSION or later, with
    the ids of its `snapshots`) to `target`, queued with its job; MoveRefused for what
    Cinder would refuse."""
    volume_id = routing.top_id
    moves.check_target(f"Volume {volume_id}", source, target)
    status = shown.get("status")
    if status != "available":
        raise MoveRefused(
            f"Volume {volume_id} status must be available to move to another pod, but it "
            f"is {status}."
        )
    if snapshots:
        raise MoveRefused(
            f"Volume {volume_id} has snapshots ({', '.join(snapshots)}): delete them before "
            "it moves to another pod."
        )
    if shown.get("group_id"):
        raise MoveRefused(f"Volume {volume_id} is in group {shown['group_id']}.")
    if shown.get("encrypted"):
        raise MoveRefused(f"Volume {volume_id} is encrypted: it cannot move to another pod.")
    if await moves.under_way(db, volume_id, VOLUME) is not None:
        raise MoveRefused(f"Volume {volume_id} is moving to another pod already.")
    return await moves.queued(db, JOB, routing, source, target, shown, {}, drain_id)

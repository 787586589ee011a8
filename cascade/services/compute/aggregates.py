"""Host aggregates across pods: their top ids, the pod of a new one, their routings (no
HTTP types here).

An aggregate lives in one pod. Nova numbers aggregates with integers of its
own database, so two pods may both have an aggregate 3. The top numbers
them so that a number names one pod's aggregate (`Numbering`):

- with a single pod registered, the top id is the pod's id;
- with several, top id = pod position * 1,000,000 + the pod's id, where the
  position is the pod's 1-based place in registration order (enabled or
  not). Such ids are stable while the set of pods is: registering a second
  pod, or removing one registered before others, renumbers.

Each aggregate the top sees also gets a routing (resource type `aggregate`,
top id its uuid, bottom id the pod's integer id), so the admin API shows
what every pod holds; lists bring them up to date (new ones recorded, ones
the pod no longer lists marked `stale`, as `cascade.services.stale` does).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.models import Pod, Routing
from cascade.services import routings
from cascade.services.copies import now

KIND = "aggregate"
STRIDE = 1_000_000  # a pod's aggregate ids must stay below it to be numbered at the top


@dataclass(frozen=True)
class Numbering:
    """Top aggregate ids <-> (pod, the pod's id), over the pods in registration order."""

    pods: Sequence[Pod]

    def top_id(self, pod: Pod, bottom: int) -> int | None:
        """The top id of `pod`'s aggregate `bottom`; None when it cannot be numbered."""
        if len(self.pods) <= 1:
            return bottom
        if not 0 < bottom < STRIDE:
            return None
        position = next((i for i, p in enumerate(self.pods, 1) if p.id == pod.id), None)
        return None if position is None else position * STRIDE + bottom

    def find(self, top: int) -> tuple[Pod, int] | None:
        """The pod and the pod's id that top id `top` names; None when it names none."""
        if len(self.pods) <= 1:
            return (self.pods[0], top) if self.pods else None
        position, bottom = divmod(top, STRIDE)
        if not 1 <= position <= len(self.pods) or bottom == 0:
            return None
        return self.pods[position - 1], bottom


def pod_for_az(pods: Iterable[Pod], az: str) -> Pod | None:
    """The pod a new aggregate of top AZ `az` goes to: the AZ's first enabled pod in
    registration order (its first pod when none is enabled); None if no pod serves it."""
    serving = [p for p in pods if p.az == az]
    return next((p for p in serving if p.enabled), serving[0] if serving else None)


def _keys(item: Mapping[str, Any]) -> tuple[str, str] | None:
    """(uuid, the pod's id as text) of a pod's aggregate, None without a uuid (before
    2.41) or an integer id."""
    top, bottom = item.get("uuid"), item.get("id")
    if not isinstance(top, str) or not isinstance(bottom, int) or isinstance(bottom, bool):
        return None
    return top, str(bottom)


def _update(db: AsyncSession, pod: Pod, row: Routing | None, keys: tuple[str, str]) -> bool:
    """Make `row` (or a new row) say the aggregate is active in `pod`; True if changed."""
    top, bottom = keys
    if row is None:
        db.add(
            Routing(
                id=str(uuid.uuid4()),
                resource_type=KIND,
                top_id=top,
                pod_id=pod.id,
                bottom_id=bottom,
                project_id="",  # aggregates belong to no project
                status="active",
                created_at=now(),
            )
        )
        return True
    if (row.status, row.bottom_id) == ("active", bottom):
        return False
    row.status, row.bottom_id, row.updated_at = "active", bottom, now()
    return True


async def _commit(db: AsyncSession) -> None:
    try:
        await db.commit()
    except IntegrityError:  # a concurrent request recorded the same aggregate first
        await db.rollback()


async def _rows(db: AsyncSession, pod: Pod) -> list[Routing]:
    query = select(Routing).where(Routing.resource_type == KIND, Routing.pod_id == pod.id)
    return list((await db.scalars(query)).all())


async def sync(db: AsyncSession, pod: Pod, items: Iterable[Mapping[str, Any]]) -> None:
    """Routings after a pod's full list: aggregates it lists are active (recorded if
    new), those it no longer lists are marked stale."""
    rows = {r.top_id: r for r in await _rows(db, pod)}
    listed: set[str] = set()
    changed = False
    for item in items:
        keys = _keys(item)
        if keys is None:
            continue
        listed.add(keys[0])
        changed |= _update(db, pod, rows.get(keys[0]), keys)
    for top, row in rows.items():
        if top not in listed and row.status == "active":
            row.status, row.updated_at = "stale", now()
            changed = True
    if changed:
        await _commit(db)


async def remember(db: AsyncSession, pod: Pod, item: Mapping[str, Any]) -> None:
    """The routing of one aggregate a pod just showed (created, read or changed)."""
    keys = _keys(item)
    if keys is None:
        return
    if _update(db, pod, await routings.find(db, KIND, keys[0], pod.id), keys):
        await _commit(db)


async def _by_bottom(db: AsyncSession, pod: Pod, bottom: int) -> list[Routing]:
    return [r for r in await _rows(db, pod) if r.bottom_id == str(bottom)]


async def forget(db: AsyncSession, pod: Pod, bottom: int) -> None:
    """An aggregate deleted through the top: its routing goes."""
    for row in await _by_bottom(db, pod, bottom):
        await db.delete(row)
    await db.commit()


async def went_away(db: AsyncSession, pod: Pod, bottom: int) -> None:
    """The pod answered 404 for its aggregate `bottom`: its routing is marked stale."""
    rows = [r for r in await _by_bottom(db, pod, bottom) if r.status != "stale"]
    for row in rows:
        row.status, row.updated_at = "stale", now()
    if rows:
        await db.commit()

"""What one API process remembers of routings, so a read by id needs no database.

A server never moves between pods, so `(kind, top id) -> (pod id, project id)`
stays true for as long as the routing exists; entries are dropped when the
routing is marked deleting or stale, and a pod's 404 sends the request down
the database path again, which corrects anything another process changed.
Pods are remembered as a snapshot of all rows, read again every
`POD_SECONDS`. Both are bounded and per process; a miss costs one query.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cascade.db.models import Pod

POD_SECONDS = 2.0


class RouteCache:
    def __init__(self, size: int = 100_000) -> None:
        self.size = size
        self._routes: OrderedDict[tuple[str, str], tuple[str, str]] = OrderedDict()
        self._pods: tuple[dict[str, Pod], float] | None = None

    def put(self, kind: str, top_id: str, pod_id: str, project_id: str) -> None:
        self._routes[(kind, top_id)] = (pod_id, project_id)
        self._routes.move_to_end((kind, top_id))
        while len(self._routes) > self.size:
            self._routes.popitem(last=False)

    def drop(self, kind: str, top_id: str) -> None:
        self._routes.pop((kind, top_id), None)

    def get(self, kind: str, top_id: str) -> tuple[str, str] | None:
        return self._routes.get((kind, top_id))

    async def pod(self, sessions: async_sessionmaker[AsyncSession], pod_id: str) -> Pod | None:
        """The pod row from the snapshot (read again when older than POD_SECONDS)."""
        if self._pods is None or time.monotonic() >= self._pods[1]:
            async with sessions() as db:
                rows = (await db.scalars(select(Pod))).all()
            self._pods = ({p.id: p for p in rows}, time.monotonic() + POD_SECONDS)
        return self._pods[0].get(pod_id)

    def forget_pods(self) -> None:
        self._pods = None

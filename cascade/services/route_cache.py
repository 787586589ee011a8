"""What one API process remembers of routings, so a read by id needs no database.

A server never moves between pods, so `(kind, top id) -> (pod id, project id)`
stays true for as long as the routing exists; entries are dropped when the
routing is marked deleting or stale, and a pod's 404 sends the request down
the database path again, which corrects anything another process changed.
Pods are remembered one by one, each row read again once `POD_SECONDS` old
(a snapshot of every row, as before, cost a read of 10,000 pods every two
seconds). Both are bounded and per process; a miss costs one query.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cascade.db.models import Pod

POD_SECONDS = 2.0


class RouteCache:
    def __init__(self, size: int = 100_000) -> None:
        self.size = size
        self._routes: OrderedDict[tuple[str, str], tuple[str, str]] = OrderedDict()
        self._pods: dict[str, tuple[Pod | None, float]] = {}

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
        """The pod's row as remembered (read again when older than POD_SECONDS; None: no
        such pod)."""
        known = self._pods.get(pod_id)
        if known is None or time.monotonic() >= known[1]:
            async with sessions() as db:
                row = await db.get(Pod, pod_id)
            if len(self._pods) >= self.size:
                self._pods.clear()  # pods number thousands at most: never in practice
            known = self._pods[pod_id] = (row, time.monotonic() + POD_SECONDS)
        return known[0]

    def forget_pods(self) -> None:
        self._pods.clear()

"""What one API process remembers of routings, so a read by id needs no database.

A server never moves between pods, so `(kind, top id) -> (pod id, project id)`
stays true for as long as the routing exists; entries are dropped when the
routing is marked deleting or stale, and a pod's 404 sends the request down
the database path again, which corrects anything another process changed.
Pods are remembered one by one, each row read again in the background once
`POD_SECONDS` old (`services.remembered`; a snapshot of every row, as before,
cost a read of 10,000 pods every two seconds). Both are bounded and per
process; a miss costs one query.
"""

from __future__ import annotations

from collections import OrderedDict

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cascade.db.models import Pod
from cascade.services.remembered import Remembered

POD_SECONDS = 2.0
POD_STALE_SECONDS = 60.0  # a row older than this (its pod unused) is read inline


class RouteCache:
    def __init__(self, size: int = 100_000) -> None:
        self.size = size
        self._routes: OrderedDict[tuple[str, str], tuple[str, str]] = OrderedDict()
        self._pods: Remembered[str, Pod | None] = Remembered(POD_SECONDS, POD_STALE_SECONDS)

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
        """The pod's row as remembered (None: no such pod)."""

        async def read() -> Pod | None:
            async with sessions() as db:
                return await db.get(Pod, pod_id)

        return await self._pods.get(pod_id, read)

    def forget_pods(self) -> None:
        self._pods.forget()

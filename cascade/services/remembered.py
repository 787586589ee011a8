"""Values one process keeps from the database, per key, served while a read brings them
up to date.

Why: a read by id (`GET /servers/{id}`) needs its pod's row and its pod's flavor names.
Kept a couple of seconds and then read again inline, a process serving many pods read
them on most requests (a pod's GETs come seconds apart), and the GET's cost grew with
the number of pods. Here a value is fresh for `fresh` seconds; after that the next use
still gets it at once and starts one read in the background, so the value is at most
one request behind; past `stale` seconds unused it is read inline, as a miss is. What
these values hold changes rarely and through the admin API, which makes the process
that changed them forget them at once (`forget`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")
LOG = logging.getLogger(__name__)


class Remembered(Generic[K, V]):
    def __init__(
        self,
        fresh: float,
        stale: float,
        size: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        self.fresh = fresh
        self.stale = stale
        self.size = size
        self._values: dict[K, tuple[V, float]] = {}  # key -> (value, read at)
        self._reading: dict[K, asyncio.Task[None]] = {}
        self._forgotten = 0  # how many times `forget` ran: a read begun before is dropped

    def fresh_value(self, key: K) -> tuple[V] | None:
        """The value while fresh (in a 1-tuple: the value may be None), else None."""
        found = self._values.get(key)
        if found is not None and self.clock() - found[1] < self.fresh:
            return (found[0],)
        return None

    async def many(
        self, keys: Iterable[K], read: Callable[[list[K]], Awaitable[dict[K, V]]], empty: V
    ) -> dict[K, V]:
        """The value of each key: fresh ones as kept, the others read in one go (`read` of
        the keys missing; a key it leaves out has `empty`) and kept."""
        found: dict[K, V] = {}
        missing = []
        for key in dict.fromkeys(keys):
            fresh = self.fresh_value(key)
            if fresh is None:
                missing.append(key)
            else:
                found[key] = fresh[0]
        if missing:
            read_now = await read(missing)
            for key in missing:
                found[key] = read_now.get(key, empty)
                self.put(key, found[key])
        return found

    def put(self, key: K, value: V) -> None:
        if len(self._values) >= self.size and key not in self._values:
            self._values.clear()  # keys are pods: thousands at most, never in practice
        self._values[key] = (value, self.clock())

    def forget(self, key: K | None = None) -> None:
        """`key`'s value (None: every value) read again on its next use."""
        self._forgotten += 1
        if key is None:
            self._values.clear()
        else:
            self._values.pop(key, None)

    async def get(
        self,
        key: K,
        read: Callable[[], Awaitable[V]],
        again: Callable[[], Awaitable[V]] | None = None,
    ) -> V:
        """`key`'s value: as kept while fresh; as kept, with `again` (default `read`: one
        that needs nothing of the request, which may be over when it runs) started in
        the background, while stale; read now otherwise."""
        found = self._values.get(key)
        if found is not None:
            age = self.clock() - found[1]
            if age < self.fresh:
                return found[0]
            if age < self.stale:
                if key not in self._reading:
                    later = self._read_again(key, again or read)
                    self._reading[key] = asyncio.create_task(later)
                return found[0]
        value = await read()
        self.put(key, value)
        return value

    async def _read_again(self, key: K, read: Callable[[], Awaitable[V]]) -> None:
        forgotten = self._forgotten
        try:
            value = await read()
            if forgotten == self._forgotten:
                self.put(key, value)
        except Exception:  # the stale value stays; the next use past `stale` reads inline
            LOG.warning("reading %r again failed", key, exc_info=True)
        finally:
            self._reading.pop(key, None)

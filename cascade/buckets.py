"""Token buckets by key and class: a rate with a burst, for what Cascade paces.

Each bucket holds up to its burst and refills at its rate; `take` spends one
token or says how long until there is one. Used for projects' requests at the
top (`api.ratelimit`) and Cascade's own calls to each pod service
(`pods.client`). No library of the OpenStack world keeps such buckets inside an
asyncio process (oslo.middleware has none; Nova and Neutron left rate limiting
to the proxy in front of them), so this is our own, in a few lines.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

BUCKETS = 100_000  # keys remembered at most (the least recently seen go first)


@dataclass(frozen=True)
class Rate:
    per_second: float
    burst: float


@dataclass
class Bucket:
    tokens: float
    updated: float


class Limiter:
    """Token buckets by (key, class): `take` spends a token or says how long until there
    is one; `reserve` spends one in any case (a debt the next ones wait for) and says
    how long to wait before using it."""

    def __init__(
        self,
        rates: dict[str, Rate],
        clock: Callable[[], float] = time.monotonic,
        size: int = BUCKETS,
    ) -> None:
        self.rates = {k: r for k, r in rates.items() if r.per_second > 0}
        self.clock = clock
        self.size = size
        self._buckets: OrderedDict[tuple[str, str], Bucket] = OrderedDict()

    @property
    def active(self) -> bool:
        return bool(self.rates)

    def take(self, key: str, kind: str) -> float:
        """0 when the request may go (a token spent), else the seconds until it could."""
        found = self._refilled(key, kind)
        if found is None:
            return 0.0
        bucket, rate = found
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / rate.per_second

    def reserve(self, key: str, kind: str) -> float:
        """A token spent now, owed if there is none: the seconds to wait before using it."""
        found = self._refilled(key, kind)
        if found is None:
            return 0.0
        bucket, rate = found
        bucket.tokens -= 1.0
        return max(-bucket.tokens, 0.0) / rate.per_second

    def _refilled(self, key: str, kind: str) -> tuple[Bucket, Rate] | None:
        """The bucket of (key, kind), refilled for the time since its last use (None: the
        class has no rate)."""
        rate = self.rates.get(kind)
        if rate is None:
            return None
        now = self.clock()
        full = max(rate.burst, 1.0)
        bucket = self._buckets.get((key, kind))
        if bucket is None:
            bucket = self._buckets[(key, kind)] = Bucket(full, now)
            while len(self._buckets) > self.size:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end((key, kind))
            bucket.tokens = min(full, bucket.tokens + (now - bucket.updated) * rate.per_second)
            bucket.updated = now
        return bucket, rate

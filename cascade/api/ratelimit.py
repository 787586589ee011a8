"""Per-project rate limits at the top: a token bucket per project and route class.

A request with a token (after `AuthMiddleware`) takes one token from its
project's bucket of its class: `read` (GET, HEAD, OPTIONS) or `write`
(anything else). Each bucket holds up to its burst and refills at its rate
(`[api] project_reads_per_second`, `project_read_burst`, and the same for
writes; a rate of 0 leaves that class unlimited). An empty bucket answers 429
with `Retry-After` (whole seconds until a token is back) in the error format
of the API of the path (Nova's and Cinder's `overLimit`, Neutron's
`HTTPTooManyRequests`, the admin API's `cascade.request.rate`), before any
pod or the database is asked, so one project's burst cannot take the
others' share of the API.

The buckets live in the process (no database round trip per request): with
N replicas behind a load balancer a project gets up to N times the rate,
which the operator divides by N. Nova and Neutron left rate limiting to the
proxy in front of them; no library of the OpenStack world keeps per-project
buckets inside an ASGI application (oslo.middleware has none), so this is
our own, in a few lines.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from cascade.api.boundary import error_body, send_json
from cascade.conf import ApiSection
from cascade.context import Context

READS = frozenset({"GET", "HEAD", "OPTIONS"})
BUCKETS = 100_000  # projects remembered at most (the least recently seen go first)


@dataclass(frozen=True)
class Rate:
    per_second: float
    burst: float


@dataclass
class Bucket:
    tokens: float
    updated: float


class Limiter:
    """Token buckets by (project, class); `take` spends one token or says how long until
    there is one."""

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

    def take(self, project: str, kind: str) -> float:
        """0 when the request may go (a token spent), else the seconds until it could."""
        rate = self.rates.get(kind)
        if rate is None:
            return 0.0
        now = self.clock()
        key = (project, kind)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = Bucket(max(rate.burst, 1.0), now)
            while len(self._buckets) > self.size:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(
                max(rate.burst, 1.0), bucket.tokens + (now - bucket.updated) * rate.per_second
            )
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / rate.per_second


def limiter_for(api: ApiSection) -> Limiter:
    return Limiter(
        {
            "read": Rate(api.project_reads_per_second, api.project_read_burst),
            "write": Rate(api.project_writes_per_second, api.project_write_burst),
        }
    )


class RateLimitMiddleware:
    """429 for a project past its rate (see the module's docstring)."""

    def __init__(self, app: ASGIApp, limiter: Limiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ctx = scope.get("state", {}).get("context") if scope["type"] == "http" else None
        if not self.limiter.active or not isinstance(ctx, Context) or ctx.project_id is None:
            await self.app(scope, receive, send)
            return
        kind = "read" if scope["method"] in READS else "write"
        wait = self.limiter.take(ctx.project_id, kind)
        if not wait:
            await self.app(scope, receive, send)
            return
        retry = max(1, math.ceil(wait))
        message = f"This project is over its rate of {kind} requests; retry in {retry} seconds."
        request_id = str(scope.get("state", {}).get("request_id", ""))
        body = error_body(scope["path"], 429, message, request_id)
        await send_json(send, 429, body, [(b"retry-after", str(retry).encode())])

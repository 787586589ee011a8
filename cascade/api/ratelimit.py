"""Per-project rate limits at the top: a token bucket per project and route class.

A request with a token (after `AuthMiddleware`) takes one token from its
project's bucket of its class (`buckets.Limiter`): `read` (GET, HEAD,
OPTIONS) or `write` (anything else). Each bucket holds up to its burst and
refills at its rate (`[api] project_reads_per_second`, `project_read_burst`,
and the same for writes; a rate of 0 leaves that class unlimited). An empty
bucket answers 429 with `Retry-After` (whole seconds until a token is back)
in the error format of the API of the path (Nova's and Cinder's `overLimit`,
Neutron's `HTTPTooManyRequests`, the admin API's `cascade.request.rate`),
before any pod or the database is asked, so one project's burst cannot take
the others' share of the API.

The buckets live in the process (no database round trip per request): with
N replicas behind a load balancer a project gets up to N times the rate,
which the operator divides by N.
"""

from __future__ import annotations

import math

from starlette.types import ASGIApp, Receive, Scope, Send

from cascade.api.boundary import error_body, send_json
from cascade.buckets import Limiter, Rate
from cascade.conf import ApiSection
from cascade.context import Context

READS = frozenset({"GET", "HEAD", "OPTIONS"})


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

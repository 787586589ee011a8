"""`/healthcheck` for load balancers, as oslo.middleware's healthcheck answers it.

- GET or HEAD /healthcheck, no token: 200 `OK` (text/plain) when Cascade's database
  answers a `SELECT 1` within `TIMEOUT`; 503 with the reason otherwise (`database: ...`).
- While the file named by `[api] healthcheck_disable_file` exists: 503 `DISABLED BY FILE`
  whatever the database says, so an operator drains a replica from its load balancer
  (`touch` the file, wait, restart, remove it) without stopping it.
- `Accept: application/json`: `{"detailed": false, "reasons": [...]}` instead of text.

Written here, not taken from oslo.middleware: that is WSGI (webob) middleware, and
cascade-api is ASGI; the answers are the same (its `disable_by_file` backend's text).
The pods are not part of it: a pod that is down must not take every replica out of the
load balancer (it has its own health, `/v1/pods`).
"""

from __future__ import annotations

import asyncio
import logging
import os

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

LOG = logging.getLogger(__name__)
PATH = "/healthcheck"
TIMEOUT = 2.0  # seconds the database has to answer
DISABLED = "DISABLED BY FILE"


async def _reasons(request: Request) -> list[str]:
    """Why this replica should take no requests; none when it is healthy."""
    disable_file = request.app.state.conf.api.healthcheck_disable_file
    if disable_file and os.path.exists(disable_file):
        return [DISABLED]
    try:
        async with asyncio.timeout(TIMEOUT):
            async with request.app.state.sessions() as db:
                await db.execute(text("SELECT 1"))
    except Exception as exc:  # any failure of the database is a reason, said as such
        LOG.warning("healthcheck: the database does not answer: %r", exc)
        return [f"database: {type(exc).__name__}"]
    return []


async def healthcheck(request: Request) -> Response:
    """200 `OK` or 503 with the reasons, as text or (asked for) JSON."""
    reasons = await _reasons(request)
    status = 503 if reasons else 200
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"detailed": False, "reasons": reasons}, status_code=status)
    return PlainTextResponse("\n".join(reasons) if reasons else "OK", status_code=status)


def routes() -> list[Route]:
    return [Route(PATH, healthcheck, methods=["GET", "HEAD"])]

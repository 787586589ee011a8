"""The database's connection pool exhausted: 503 with Retry-After, never a 500.

A request that waited `[database] pool_timeout` for a connection gets sqlalchemy's
pool `TimeoutError`; it is answered here once, in the error format of the API the
path belongs to (`boundary.error_body`: Nova's and Cinder's `serviceUnavailable`,
Neutron's `HTTPServiceUnavailable`, the admin API's `cascade.unavailable`). Nothing
was done for the request that needs undoing: it did not get its connection.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.boundary import encoded, error_body

LOG = logging.getLogger(__name__)
RETRY_AFTER = "2"  # seconds: connections come back as soon as requests end
MESSAGE = "The service is busy (no database connection was free in time); retry the request."


async def pool_exhausted(request: Request, exc: Exception) -> Response:
    """503, Retry-After, in the error format of the API of `request`'s path."""
    request_id = str(request.scope.get("state", {}).get("request_id", ""))
    LOG.warning("request %s: no database connection: %s", request_id, exc)
    body = error_body(request.url.path, 503, MESSAGE, request_id)
    return Response(
        encoded(body),
        status_code=503,
        headers={"Retry-After": RETRY_AFTER},
        media_type="application/json",
    )

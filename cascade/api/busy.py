"""The database's connection pool exhausted: 503 with Retry-After, never a 500.

A request that waited `[database] pool_timeout` for a connection gets sqlalchemy's
pool `TimeoutError`; it is answered here once, in the error format of the API the
path belongs to: Nova's and Cinder's fault body (`serviceUnavailable`), Neutron's
`NeutronError`, else the admin API's API-WG body. Nothing was done for the request
that needs undoing: it did not get its connection.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cascade.api.errors import ApiError, api_wg_body
from cascade.api.faults import Fault
from cascade.services.network.errors import NeutronError

LOG = logging.getLogger(__name__)
RETRY_AFTER = "2"  # seconds: connections come back as soon as requests end
MESSAGE = "The service is busy (no database connection was free in time); retry the request."


async def pool_exhausted(request: Request, exc: Exception) -> Response:
    """503, Retry-After, in the error format of the API of `request`'s path."""
    request_id = str(request.scope.get("state", {}).get("request_id", ""))
    LOG.warning("request %s: no database connection: %s", request_id, exc)
    headers = {"Retry-After": RETRY_AFTER}
    path = request.url.path
    if path.startswith(("/compute", "/volume")):
        body = Fault(503, MESSAGE).body()
    elif path.startswith("/networking"):
        body = NeutronError(MESSAGE, 503, "ServiceUnavailable").body()
    else:
        body = api_wg_body(ApiError(503, MESSAGE, "cascade.database.busy"), request_id)
    return JSONResponse(body, status_code=503, headers=headers)

"""GET /compute/v2.1/os-availability-zone: the top's availability zones.

One zone per top AZ that has pods; it is available when at least one of its
enabled pods is healthy (`up` at the last health check). Any authenticated
user may list them, as in Nova. The admin-only `/detail` (hosts per zone)
answers 501 until the hosts of every pod are aggregated.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cascade.api.compute.errors import ComputeError
from cascade.api.compute.microversion import echo_headers
from cascade.api.compute.versions import negotiated
from cascade.api.request import session
from cascade.services import pods as pod_service


async def index(request: Request) -> Response:
    version = await negotiated(request)
    async with session(request) as db:
        found = await pod_service.list_all(db)
    zones: dict[str, bool] = {}
    for pod in found:
        healthy = pod.enabled and pod.health_state == "up"
        zones[pod.az] = zones.get(pod.az, False) or healthy
    body = {
        "availabilityZoneInfo": [
            {"zoneName": az, "zoneState": {"available": up}, "hosts": None}
            for az, up in sorted(zones.items())
        ]
    }
    return JSONResponse(body, headers=echo_headers(version))


async def detail(request: Request) -> Response:
    version = await negotiated(request)
    raise ComputeError(
        501,
        "Cascade does not serve GET /os-availability-zone/detail of the Compute API yet.",
        echo_headers(version),
    )

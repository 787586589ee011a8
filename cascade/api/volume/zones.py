"""GET /os-availability-zone: the top's AZs (each with at least one enabled pod),
available when one of their pods is up, as Cinder shows its zones."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.request import session
from cascade.api.volume.common import negotiated, reply
from cascade.services import pods as pod_service
from cascade.services import scheduling


async def index(request: Request) -> Response:
    await negotiated(request)
    async with session(request) as db:
        pods = [p for p in await pod_service.list_all(db) if p.enabled]
    zones: dict[str, bool] = {}
    for pod in pods:
        zones[pod.az] = zones.get(pod.az, False) or scheduling.usable(pod)
    body = {
        "availabilityZoneInfo": [
            {"zoneName": az, "zoneState": {"available": up}} for az, up in sorted(zones.items())
        ]
    }
    return reply(body)

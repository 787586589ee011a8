"""GET /compute/v2.1/os-availability-zone and /detail: the top's availability zones.

One zone per top AZ that has pods; it is available when at least one of its
enabled pods is healthy (`up` at the last health check). Any authenticated
user may list them, as in Nova.

`/detail` is for admins (`os_compute_api:os-availability-zone:detail`,
Nova's 403 otherwise). Every pod's own detail is asked in parallel with
Cascade's service token (an admin of the top is not necessarily an admin of
each pod's project scope) and shown as the top's: a pod's AZ `pod_az`
becomes its top AZ, the hosts of all pods of a top AZ are that zone's hosts,
every pod's `internal` zone is one `internal` zone, and host names follow
`cascade.services.hosts` (`<host>@<pod>` only where several pods have that
name). Available zones come first, each sorted by name, as in Nova; a zone
that is not available has `hosts: null`. A pod that is down is left out
and named in `X-Cascade-Unavailable-Pods`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cascade.api.compute.services import (
    admin_calls,
    all_pods,
    answer_error,
    down_header,
    host_book,
)
from cascade.api.compute.versions import negotiated
from cascade.api.handlers import authorize, reply
from cascade.api.request import session
from cascade.services import hosts
from cascade.services import pods as pod_service


async def index(request: Request) -> Response:
    await negotiated(request)
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
    return JSONResponse(body)


async def detail(request: Request) -> Response:
    version = await negotiated(request)
    authorize(request, "os_compute_api:os-availability-zone:detail")
    pods = await all_pods(request)
    admin = admin_calls(request, version)
    answers, names = await asyncio.gather(
        admin.ask_all(pods, "/os-availability-zone/detail"),
        hosts.host_names(admin, pods, host_book(request)),
    )
    for answer in answers:
        if not answer.ok and not answer.down:
            raise answer_error(answer)
    merged = hosts.zone_hosts(answers, names)
    up: dict[str, bool] = {}
    for pod in pods:
        up[pod.az] = up.get(pod.az, False) or (pod.enabled and pod.health_state == "up")
    if hosts.INTERNAL_ZONE in merged:
        up.setdefault(hosts.INTERNAL_ZONE, merged[hosts.INTERNAL_ZONE].available)
    info: list[dict[str, Any]] = [
        {
            "zoneName": az,
            "zoneState": {"available": True},
            "hosts": merged[az].hosts if az in merged else {},
        }
        for az in sorted(az for az, available in up.items() if available)
    ]
    info += [
        {"zoneName": az, "zoneState": {"available": False}, "hosts": None}
        for az in sorted(az for az, available in up.items() if not available)
    ]
    down = [a.pod for a in answers if a.down]
    return reply({"availabilityZoneInfo": info}, headers=down_header(down))

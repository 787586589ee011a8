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
`cascade.services.compute.hosts` (`<host>@<pod>` only where several pods have that
name). Available zones come first, each sorted by name, as in Nova; a zone
that is not available has `hosts: null`. A pod that is down is left out
and named in `X-Cascade-Unavailable-Pods`.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cascade.api.compute.services import admin_calls, all_pods, errors_refused, host_book, listed
from cascade.api.compute.versions import negotiated
from cascade.api.handlers import authorize
from cascade.db.models import Pod
from cascade.services.compute import hosts


def _available(pods: list[Pod]) -> dict[str, bool]:
    """Each top AZ with pods, and whether one of its pods that take new resources is
    healthy."""
    zones: dict[str, bool] = {}
    for pod in pods:
        zones[pod.az] = zones.get(pod.az, False) or (pod.takes_new and pod.health_state == "up")
    return zones


async def index(request: Request) -> Response:
    """GET /os-availability-zone: 200 with the top's zones, without hosts."""
    await negotiated(request)
    body = {
        "availabilityZoneInfo": [
            {"zoneName": az, "zoneState": {"available": up}, "hosts": None}
            for az, up in sorted(_available(await all_pods(request)).items())
        ]
    }
    return JSONResponse(body)


async def detail(request: Request) -> Response:
    """GET /os-availability-zone/detail (admins): 200 with the top's zones and the hosts
    of every pod's, available zones first."""
    version = await negotiated(request)
    authorize(request, "os_compute_api:os-availability-zone:detail")
    pods = await all_pods(request)
    admin = admin_calls(request, version)
    answers, names = await asyncio.gather(
        admin.ask_all(pods, "/os-availability-zone/detail"),
        hosts.host_names(admin, pods, host_book(request)),
    )
    errors_refused(answers)
    merged = hosts.zone_hosts(answers, names)
    up = _available(pods)
    if hosts.INTERNAL_ZONE in merged:
        up.setdefault(hosts.INTERNAL_ZONE, merged[hosts.INTERNAL_ZONE].available)
    info = [
        {
            "zoneName": az,
            "zoneState": {"available": available},
            "hosts": (merged[az].hosts if az in merged else {}) if available else None,
        }
        for available in (True, False)
        for az in sorted(az for az, up_now in up.items() if up_now is available)
    ]
    return listed({"availabilityZoneInfo": info}, answers)

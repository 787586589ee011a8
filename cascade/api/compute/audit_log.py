"""/compute/v2.1/os-instance_usage_audit_log: the instance usage audit of every pod's
computes, as one cloud's (admin).

The caller must pass the top's policy (`os_compute_api:os-instance-usage-audit-log:
{list,show}`, admin by default; Nova's 403 otherwise); the pods are then asked
with Cascade's service token, in parallel.

- GET /os-instance_usage_audit_log: the last completed audit period;
  GET /os-instance_usage_audit_log/{before}: the one completed before that
  time (`%Y-%m-%d %H:%M:%S[.%f]`; anything else Nova's 400, before any pod
  is asked).
- The pods' reports are joined as Nova joins its computes' task logs: host
  counts, instances and errors summed, `hosts_not_run` and `log` over every
  pod's hosts (named as in os-services: `<host>@<pod>` where several pods
  have the name), `overall_status` worded as Nova words it over them all, the
  period as the first pod reports it. A pod that is down is left out and
  named in `X-Cascade-Unavailable-Pods`.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.compute.errors import ComputeError
from cascade.api.compute.services import (
    admin_calls,
    all_pods,
    errors_refused,
    host_book,
    listed,
)
from cascade.api.compute.versions import negotiated
from cascade.api.handlers import authorize
from cascade.services.compute import hosts
from cascade.versions import Version

RULE = "os_compute_api:os-instance-usage-audit-log:"
PATH = "/os-instance_usage_audit_log"
COUNTS = ("num_hosts", "num_hosts_done", "num_hosts_running", "num_hosts_not_run")
TOTALS = ("total_instances", "total_errors")


async def index(request: Request) -> Response:
    version = await negotiated(request)
    authorize(request, RULE + "list")
    return await _joined(request, version, PATH, "instance_usage_audit_logs")


async def show(request: Request) -> Response:
    version = await negotiated(request)
    authorize(request, RULE + "show")
    before = request.path_params["before"]
    try:
        datetime.strptime(before, "%Y-%m-%d %H:%M:%S.%f" if "." in before else "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise ComputeError(400, f"Invalid timestamp for date {before}") from None
    path = f"{PATH}/{quote(before, safe='')}"
    return await _joined(request, version, path, "instance_usage_audit_log")


async def _joined(request: Request, version: Version, path: str, key: str) -> Response:
    """Every pod's report at `path` (under `key`), joined as one cloud's."""
    pods = await all_pods(request)
    admin = admin_calls(request, version)
    answers, names = await asyncio.gather(
        admin.ask_all(pods, path), hosts.host_names(admin, pods, host_book(request))
    )
    errors_refused(answers)
    reports = [
        (a.pod, a.body[key])
        for a in answers
        if a.ok and isinstance(a.body, dict) and isinstance(a.body.get(key), dict)
    ]
    joined: dict[str, Any] = {}
    for pod, report in reports:
        if not joined:
            joined = {
                "period_beginning": report.get("period_beginning"),
                "period_ending": report.get("period_ending"),
                **dict.fromkeys(COUNTS + TOTALS, 0),
                "hosts_not_run": [],
                "log": {},
            }
        for name in COUNTS + TOTALS:
            value = report.get(name)
            joined[name] += value if isinstance(value, int) else 0
        joined["hosts_not_run"] += [
            names.shown(pod.name, str(host)) for host in report.get("hosts_not_run") or []
        ]
        log = report.get("log")
        for host, entry in (log if isinstance(log, dict) else {}).items():
            joined["log"][names.shown(pod.name, host)] = entry
    if joined:
        done, every = joined["num_hosts_done"], joined["num_hosts"]
        counted = "ALL" if done == every else f"{done} of {every}"
        joined["overall_status"] = f"{counted} hosts done. {joined['total_errors']} errors."
    return listed({key: joined}, answers)

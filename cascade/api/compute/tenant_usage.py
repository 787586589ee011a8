"""/compute/v2.1/os-simple-tenant-usage: usage reports over every pod, as one cloud's.

- GET /os-simple-tenant-usage (policy `os_compute_api:os-simple-tenant-usage:list`,
  admin by default): every tenant's usage; GET /os-simple-tenant-usage/{tenant}
  (`...:show`, the caller's own project, or any with `...:show:other_project`,
  admin by default): one tenant's. Refused, Nova's 403.
- The pods are asked with Cascade's service token, in pod order, as Nova asks
  its cells (`cascade.services.compute.usage`): a page of at most `limit`
  instances (Nova's max_limit, 1000, at most; from 2.40 the client's
  `limit`), started in the pod that has the `marker` (2.40+). The query
  (`start`, `end`, ...) is passed on as given, so each pod checks it and a
  pod's 400 is the answer. A tenant's usage is summed over the pods; server
  usages are listed with `detailed=1` (always in a tenant's report), as Nova.
- From 2.40 a full page has a `next` link at the top (`tenant_usages_links`,
  `tenant_usage_links`), its marker the page's last instance.
- A marker no pod has is Nova's 400; one that a pod that is down may have is
  503 naming it. A pod that is down is otherwise left out and named in
  `X-Cascade-Unavailable-Pods`.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.compute import forward
from cascade.api.compute.errors import ComputeError
from cascade.api.compute.services import admin_calls, all_pods, answer_error, listed, missing
from cascade.api.compute.versions import negotiated
from cascade.api.handlers import authorize
from cascade.db.models import Pod
from cascade.services.compute import hosts, usage
from cascade.versions import Version

PAGED = Version(2, 40)
MAX_LIMIT = 1000  # Nova's [api] max_limit default
RULE = "os_compute_api:os-simple-tenant-usage:"
PATH = "os-simple-tenant-usage"


async def index(request: Request) -> Response:
    version = await negotiated(request)
    authorize(request, RULE + "list")
    detailed = request.query_params.get("detailed", "0") == "1"
    pods = await all_pods(request)
    answers, marker = await _read(request, version, pods, f"/{PATH}")
    reports = [r for a in answers for r in hosts.items(a, "tenant_usages")]
    body: dict[str, Any] = {"tenant_usages": usage.joined(reports, detailed)}
    if version >= PAGED and marker is not None:
        body["tenant_usages_links"] = _links(request, PATH, marker)
    return listed(body, answers)


async def show(request: Request) -> Response:
    version = await negotiated(request)
    tenant = request.path_params["tenant_id"]
    authorize(request, RULE + "show", {"project_id": tenant})
    pods = await all_pods(request)
    path = f"{PATH}/{tenant}"
    answers, marker = await _read(request, version, pods, f"/{path}")
    reports = [
        a.body["tenant_usage"]
        for a in answers
        if isinstance(a.body, dict) and isinstance(a.body.get("tenant_usage"), dict)
    ]
    merged = usage.joined(reports, detailed=True)
    body: dict[str, Any] = {"tenant_usage": merged[0] if merged else {}}
    if version >= PAGED and marker is not None:
        body["tenant_usage_links"] = _links(request, path, marker)
    return listed(body, answers)


def _links(request: Request, path: str, marker: str) -> list[dict[str, str]]:
    return [{"rel": "next", "href": forward.next_link(request, path, marker)}]


def _limit(request: Request, version: Version) -> int:
    """The page's size: the client's `limit` from 2.40 (Nova's max_limit at most; the
    pods refuse one that is not an integer), else max_limit."""
    raw = request.query_params.get("limit") if version >= PAGED else None
    try:
        return MAX_LIMIT if raw is None else max(0, min(int(raw), MAX_LIMIT))
    except ValueError:
        return MAX_LIMIT


async def _read(
    request: Request, version: Version, pods: list[Pod], path: str
) -> tuple[list[hosts.Answer], str | None]:
    """The pods' reports that make the page, in pod order (each asked for what is left
    of it), and the page's last instance when the page is full (None otherwise)."""
    admin = admin_calls(request, version)
    marker = request.query_params.get("marker") if version >= PAGED else None
    params = [
        (k, v)
        for k, v in request.query_params.multi_items()
        if k not in ("limit", "marker", "detailed")
    ]
    left = _limit(request, version)
    answers: list[hosts.Answer] = []
    refused: list[hosts.Answer] = []
    last: str | None = None
    for pod in pods:
        if left <= 0:
            break
        asked = [*params, ("detailed", "1"), ("limit", str(left))]
        if marker is not None:
            asked.append(("marker", marker))
        answer = await admin.ask(pod, "GET", path, params=asked)
        if answer.down:
            answers.append(answer)  # left out, named
            continue
        if not answer.ok:
            if marker is not None and answer.status == 400:
                refused.append(answer)  # the marker is not this pod's (or the query is bad)
                continue
            raise answer_error(answer)
        marker = None  # found: the pods after it start from their beginning
        answers.append(answer)
        body = answer.body if isinstance(answer.body, dict) else {}
        if "tenant_usage" in body:
            counted = len(usage.server_usages(body["tenant_usage"]))
            links = body.get("tenant_usage_links")
        else:
            counted = sum(len(usage.server_usages(r)) for r in hosts.items(answer, "tenant_usages"))
            links = body.get("tenant_usages_links")
        left -= counted
        last = usage.next_marker(links) if left <= 0 else None
    if marker is not None:
        message = f"Marker {marker} could not be found."
        down = [a.pod for a in answers if a.down]
        if down:
            raise missing(message, down)  # 503: it may be theirs
        raise ComputeError(400, refused[0].message if refused else message)
    return answers, last

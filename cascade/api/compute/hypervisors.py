"""/compute/v2.1/os-hypervisors: the hypervisors of every pod, as one cloud's (admin).

The caller must pass the top's policy (Nova's rule names, admin by default;
Nova's 403 otherwise); the pods are then asked with Cascade's service token,
since an admin of the top is not necessarily an admin of each pod's project
scope. A pod that is down is left out of lists and named in
`X-Cascade-Unavailable-Pods`.

- GET /os-hypervisors and /detail: the pods' lists, asked in parallel and
  joined in pod order (pods by creation, each pod's hypervisors in its own
  order), as Nova joins its cells. From 2.33 the page is cut at `limit`
  (Nova's max_limit, 1000, at most) and a full page gets a `next` link in
  `hypervisors_links` at the top. The marker is a hypervisor id: the pod
  that knows it resumes after it and the pods after that one follow from
  their start (400 `marker [X] not found` when no pod knows it, 503 when a
  pod that is down might). From 2.53 `hypervisor_hostname_pattern` and
  `with_servers` are passed to every pod; a pattern `<text>@<pod>` asks
  only that pod, and 404 means no pod matched.
- `service.host` is shown as `cascade.services.compute.hosts` says: unchanged
  while unique across pods, `<host>@<pod>` where several pods have it.
  `hypervisor_hostname` is shown as the pod reports it.
- GET /os-hypervisors/{id} (and /uptime before 2.88): from 2.53 the id is a
  UUID, asked of every pod and answered by the one that has it (with
  `X-Cascade-Pod`). Before 2.53 ids are integers, which repeat across pods:
  the top numbers them as it numbers aggregates
  (`cascade.services.compute.aggregates.Numbering`: the pod's own id while
  one pod is registered; with several, pod position * 1,000,000 + the pod's
  id), in every list, show and list marker; an integer that names no pod's
  hypervisor is Nova's 404 (a marker Nova's 400).
- GET /os-hypervisors/statistics (before 2.88): every field summed over the
  pods that answered.
- GET /os-hypervisors/{pattern}/search and /servers (before 2.53): every
  pod's matches (a pattern `<text>@<pod>` asks only that pod); 404 when no
  pod has one.
- Routes a microversion removed (statistics and uptime from 2.88, search
  and servers from 2.53) answer Nova's bare 404.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.compute import forward
from cascade.api.compute.errors import ComputeError
from cascade.api.compute.services import (
    admin_calls,
    all_pods,
    answer_error,
    errors_refused,
    host_book,
    listed,
    missing,
    pod_reply,
    succeeded,
)
from cascade.api.compute.versions import negotiated
from cascade.api.handlers import authorize
from cascade.db.models import Pod
from cascade.services.compute import hosts
from cascade.services.compute.aggregates import Numbering
from cascade.versions import Version

PAGED = Version(2, 33)
UUID_IDS = Version(2, 53)
GONE = Version(2, 88)  # statistics and uptime removed, detail fields trimmed
MAX_LIMIT = 1000  # Nova's [api] max_limit default
RULE = "os_compute_api:os-hypervisors:"
PATTERN = "hypervisor_hostname_pattern"
KEY = "hypervisors"
# the fields Nova's statistics sums over compute nodes
STATISTICS = (
    "count",
    "vcpus_used",
    "local_gb_used",
    "memory_mb",
    "current_workload",
    "vcpus",
    "running_vms",
    "free_disk_gb",
    "disk_available_least",
    "local_gb",
    "free_ram_mb",
    "memory_mb_used",
)
Found = list[tuple[Pod, dict[str, Any]]]


async def _begin(request: Request, rule: str, until: Version | None = None) -> Version:
    """The request's microversion, `RULE + rule` authorized; a route the microversion
    removed (from `until`) is Nova's bare 404."""
    version = await negotiated(request)
    if until is not None and version >= until:
        raise ComputeError(404, "The resource could not be found.")
    authorize(request, RULE + rule)
    return version


def view(
    item: dict[str, Any], pod: Pod, names: hosts.HostNames, numbering: Numbering | None = None
) -> dict[str, Any]:
    """A pod's hypervisor as the top shows it: its service's host named at the top, and
    (before 2.53, `numbering`) its integer id numbered at the top."""
    shown = dict(item)
    number = shown.get("id")
    if numbering is not None and isinstance(number, int) and not isinstance(number, bool):
        top = numbering.top_id(pod, number)
        shown["id"] = number if top is None else top
    service = shown.get("service")
    if isinstance(service, dict) and isinstance(service.get("host"), str):
        shown["service"] = {**service, "host": names.shown(pod.name, service["host"])}
    return shown


def _decimal(text: str) -> bool:
    """Whether `text` is an integer id in ASCII digits (`str.isdigit` takes `²` too)."""
    return text.isascii() and text.isdigit()


def page_limit(request: Request) -> int:
    """`?limit=` as Nova reads it for a paged admin list: 400 unless a non-negative
    integer, at most MAX_LIMIT (also the default)."""
    raw = request.query_params.get("limit")
    if raw is None:
        return MAX_LIMIT
    try:
        value = int(raw)
    except ValueError:
        message = "Invalid input received: limit must be an integer"
        raise ComputeError(400, message) from None
    if value < 0:
        raise ComputeError(400, "Invalid input received: limit must be >= 0")
    return min(value, MAX_LIMIT)


def _pattern_pods(pods: list[Pod], pattern: str) -> tuple[list[Pod], str]:
    """The pods a hostname pattern asks, and the pattern they get."""
    bare, pod_name = hosts.split_pod(pattern, (p.name for p in pods))
    return ([p for p in pods if p.name == pod_name] if pod_name else pods), bare


def _matches(answers: list[hosts.Answer], pattern: str) -> Found:
    """Every pod's matches for a hostname pattern: a pod's 404 is no match."""
    errors_refused(answers, accepted=(404,))
    if answers and all(a.status == 404 for a in answers):
        message = f"No hypervisor matching '{pattern}' could be found."
        raise ComputeError(404, message)
    return [(a.pod, item) for a in answers for item in hosts.items(a, KEY)]


async def _read(
    admin: hosts.Admin,
    pods: list[Pod],
    path: str,
    params: list[tuple[str, str]],
    size: int | None,
    marker: str | None,
    held_by_first: bool = False,
) -> tuple[Found, list[hosts.Answer]]:
    """The hypervisors of `pods` in pod order after `marker`, `size` at most (None: all);
    also the answers that count (the pods the page is read from). `held_by_first`: the
    marker is the first pod's (a numbered integer id), no other pod is asked for it."""
    if size == 0:
        return [], []
    limit = [("limit", str(size))] if size is not None else []
    if marker is None:
        answers = await admin.ask_all(pods, path, params + limit)
    else:
        asked = pods[:1] if held_by_first else pods
        first = await admin.ask_all(asked, path, [*params, *limit, ("marker", marker)])
        held = next((n for n, a in enumerate(first) if a.ok), None)
        if held is None:
            for answer in first:
                if not answer.ok and not answer.down and "marker" not in answer.message:
                    raise answer_error(answer)
            down = [a.pod for a in first if a.down]
            if down:
                raise missing(f"marker [{marker}] not found.", down)
            raise ComputeError(400, f"marker [{marker}] not found")
        answers = [first[held]]
        left = None if size is None else size - len(hosts.items(first[held], KEY))
        if left is None or left > 0:
            more = [("limit", str(left))] if left is not None else []
            answers += await admin.ask_all(pods[held + 1 :], path, params + more)
    errors_refused(answers)
    found = [(a.pod, item) for a in answers for item in hosts.items(a, KEY)]
    return (found if size is None else found[:size]), answers


async def index(request: Request) -> Response:
    return await _list(request, detail=False)


async def detail(request: Request) -> Response:
    return await _list(request, detail=True)


async def _list(request: Request, detail: bool) -> Response:
    version = await _begin(request, "list-detail" if detail else "list")
    query = request.query_params
    pattern = query.get(PATTERN) if version >= UUID_IDS else None
    if pattern is not None and ("limit" in query or "marker" in query):
        raise ComputeError(
            400,
            "Paging over hypervisors with the hypervisor_hostname_pattern query parameter "
            "is not supported.",
        )
    paged = version >= PAGED and pattern is None
    size = page_limit(request) if paged else None
    marker = query.get("marker") if paged else None
    every = await all_pods(request)
    numbering = Numbering(every) if version < UUID_IDS else None
    read_from, held_by_first = every, False
    if marker is not None and numbering is not None:
        where = numbering.find(int(marker)) if _decimal(marker) else None
        if where is None:
            raise ComputeError(400, f"marker [{marker}] not found")
        read_from = every[every.index(where[0]) :]
        marker, held_by_first = str(where[1]), True
    params = [(k, v) for k, v in query.multi_items() if k not in ("limit", "marker")]
    admin = admin_calls(request, version)
    path = "os-hypervisors/detail" if detail else "os-hypervisors"
    names = hosts.host_names(admin, every, host_book(request), detail and size != 0)
    if pattern is not None:
        pods, bare = _pattern_pods(every, pattern)
        params = [(k, bare if k == PATTERN else v) for k, v in params]
        answers, shown = await asyncio.gather(admin.ask_all(pods, "/" + path, params), names)
        found = _matches(answers, pattern)
    else:
        (found, answers), shown = await asyncio.gather(
            _read(admin, read_from, "/" + path, params, size, marker, held_by_first), names
        )
    listed_ = [view(item, pod, shown, numbering) for pod, item in found]
    body: dict[str, Any] = {"hypervisors": listed_}
    if paged and size and len(found) == size:
        next_link = forward.next_link(request, path, str(listed_[-1]["id"]))
        body["hypervisors_links"] = [{"rel": "next", "href": next_link}]
    return listed(body, answers)


async def show(request: Request) -> Response:
    version = await _begin(request, "show")
    return await _by_id(request, version, "", detail=True)


async def uptime(request: Request) -> Response:
    version = await _begin(request, "uptime", until=GONE)
    return await _by_id(request, version, "/uptime", detail=False)


async def _by_id(request: Request, version: Version, suffix: str, detail: bool) -> Response:
    given = request.path_params["hypervisor_id"]
    not_found = f"Hypervisor with ID '{given}' could not be found."
    pods = await all_pods(request)
    admin = admin_calls(request, version)
    path = f"/os-hypervisors/{quote(given, safe='')}{suffix}"
    params = list(request.query_params.multi_items())
    if version >= UUID_IDS:
        if not hosts.is_uuid(given):
            raise ComputeError(400, f"Invalid uuid {given}")
        answers, names = await asyncio.gather(
            admin.ask_all(pods, path, params),
            hosts.host_names(admin, pods, host_book(request), detail),
        )
        held = next((a for a in answers if a.ok), None)
        if held is None:
            errors_refused(answers, accepted=(404,))
            raise missing(not_found, [a.pod for a in answers if a.down])
        hit, numbering = held, None
    else:
        numbering = Numbering(pods)
        where = numbering.find(int(given)) if _decimal(given) else None
        if where is None:
            raise ComputeError(404, not_found)
        pod, bottom = where
        path = f"/os-hypervisors/{bottom}{suffix}"
        hit, names = await asyncio.gather(
            admin.ask(pod, "GET", path, params=params),
            hosts.host_names(admin, pods, host_book(request), detail),
        )
        if hit.status == 404:
            raise ComputeError(404, not_found)
        succeeded(hit)
    body = hit.body
    if isinstance(body, dict) and isinstance(body.get("hypervisor"), dict):
        body = {**body, "hypervisor": view(body["hypervisor"], hit.pod, names, numbering)}
    return pod_reply(hit, body)


async def statistics(request: Request) -> Response:
    version = await _begin(request, "statistics", until=GONE)
    answers = await admin_calls(request, version).ask_all(
        await all_pods(request), "/os-hypervisors/statistics"
    )
    errors_refused(answers)
    sums: dict[str, int | float] = dict.fromkeys(STATISTICS, 0)
    for answer in answers:
        stats = answer.body.get("hypervisor_statistics") if isinstance(answer.body, dict) else None
        for key, value in (stats or {}).items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                sums[key] = sums.get(key, 0) + value
    return listed({"hypervisor_statistics": sums}, answers)


async def search(request: Request) -> Response:
    return await _by_pattern(request, "search")


async def servers(request: Request) -> Response:
    return await _by_pattern(request, "servers")


async def _by_pattern(request: Request, what: str) -> Response:
    version = await _begin(request, what, until=UUID_IDS)
    pattern = request.path_params["pattern"]
    every = await all_pods(request)
    pods, bare = _pattern_pods(every, pattern)
    path = f"/os-hypervisors/{quote(bare, safe='')}/{what}"
    answers = await admin_calls(request, version).ask_all(pods, path)
    numbering, plain = Numbering(every), hosts.HostNames.plain(every)
    found = [view(item, pod, plain, numbering) for pod, item in _matches(answers, pattern)]
    return listed({"hypervisors": found}, answers)

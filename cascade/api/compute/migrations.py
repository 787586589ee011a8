"""/compute/v2.1/os-migrations: every pod's migrations, as one cloud's (admin).

The caller must pass the top's policy (`os_compute_api:os-migrations:index`,
admin by default; Nova's 403 otherwise); the pods are then asked with
Cascade's service token, at the request's microversion, with its filters,
so each pod answers with the fields and checks of that microversion (2.23
`migration_type` and in-progress live migrations' `links`, 2.59 `uuid`,
2.66 `changes-before`, 2.80 `user_id`/`project_id` fields and filters).
A pod that is down is left out and named in `X-Cascade-Unavailable-Pods`.

- Before 2.59 the pods' lists are joined in pod order (Nova joins its cells
  so, unsorted).
- From 2.59 the list is merged newest first (`created_at`, then `id`, then
  pod order, descending as Nova sorts each cell) and paged at the top:
  `limit` (Nova's max_limit, 1000, at most) and `marker` (a migration's
  `uuid`; 400 `Marker X could not be found.` when no pod has it, 503 when a
  pod that is down might). Each pod is asked for a page of `limit`, or with
  a marker for its whole list (max_limit at most: the migrations after the
  marker in a pod that does not have it are found by their `created_at`). A
  full page has a `next` link at the top in `migrations_links`.
- Hosts (`source_compute`, `dest_compute`) are named as in os-services
  (`cascade.services.compute.hosts`); the `host` and `source_compute` filters
  take either form (`<host>@<pod>` asks only that pod). Server ids are the
  top's (a server keeps its pod's id); links point at the top, where a
  server's `migrations/{id}` is forwarded to its pod, whose id it is.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.compute import forward, server_views
from cascade.api.compute.errors import ComputeError
from cascade.api.compute.hypervisors import page_limit
from cascade.api.compute.services import (
    admin_calls,
    all_pods,
    errors_refused,
    host_book,
    listed,
    missing,
)
from cascade.api.compute.versions import negotiated
from cascade.api.handlers import authorize
from cascade.db.models import Pod
from cascade.services.compute import hosts
from cascade.versions import Version

PAGED = Version(2, 59)
MAX_LIMIT = 1000  # Nova's [api] max_limit default
RULE = "os_compute_api:os-migrations:index"
HOST_FILTERS = ("host", "source_compute")
HOST_FIELDS = ("source_compute", "dest_compute")


async def index(request: Request) -> Response:
    version = await negotiated(request)
    authorize(request, RULE)
    every = await all_pods(request)
    query = list(request.query_params.multi_items())
    pods, query = _host_filters(every, query)
    paged = version >= PAGED
    size = page_limit(request) if paged else None
    marker = request.query_params.get("marker") if paged else None
    params = [(k, v) for k, v in query if k not in ("limit", "marker")]
    if size is not None and marker is None:
        params.append(("limit", str(size)))
    admin = admin_calls(request, version)
    answers, names = await asyncio.gather(
        admin.ask_all(pods, "/os-migrations", params),
        hosts.host_names(admin, every, host_book(request)),
    )
    errors_refused(answers)
    found = [(a.pod, item) for a in answers for item in hosts.items(a, "migrations")]
    if paged:
        found.sort(key=lambda entry: _newest_first(entry, pods), reverse=True)
        if marker is not None:
            found = _after(found, marker, [a.pod for a in answers if a.down])
        found = found[:size]
    roots = {a.pod.id: await forward.pod_root(request, a.pod) for a in answers}
    top = forward.top_root(request)
    shown = [_view(item, pod, names, roots[pod.id], top) for pod, item in found]
    body: dict[str, Any] = {"migrations": shown}
    if paged and size and len(shown) == size:
        link = forward.next_link(request, "os-migrations", str(shown[-1].get("uuid")))
        body["migrations_links"] = [{"rel": "next", "href": link}]
    return listed(body, answers)


def _host_filters(
    pods: list[Pod], query: list[tuple[str, str]]
) -> tuple[list[Pod], list[tuple[str, str]]]:
    """The pods a host filter in `<host>@<pod>` form asks (that pod only), and the query
    they get, with the pod's own host names."""
    names = [p.name for p in pods]
    wanted: set[str] | None = None
    sent: list[tuple[str, str]] = []
    for key, value in query:
        if key in HOST_FILTERS:
            bare, pod_name = hosts.split_pod(value, names)
            if pod_name is not None:
                wanted = {pod_name} if wanted is None else wanted & {pod_name}
                value = bare
        sent.append((key, value))
    return ([p for p in pods if p.name in wanted] if wanted is not None else pods), sent


def _newest_first(entry: tuple[Pod, dict[str, Any]], pods: list[Pod]) -> tuple[str, int, int]:
    """Nova's order (`created_at`, `id`), the pods in reverse order for a tie (descending,
    the first pod's migration comes first)."""
    pod, item = entry
    number = item.get("id")
    return (
        str(item.get("created_at") or ""),
        number if isinstance(number, int) else 0,
        -pods.index(pod),
    )


def _after(
    found: list[tuple[Pod, dict[str, Any]]], marker: str, down: list[Pod]
) -> list[tuple[Pod, dict[str, Any]]]:
    """The migrations after the one whose uuid is `marker` (400 when none is; 503 when
    a pod that is down may have it)."""
    for n, (_, item) in enumerate(found):
        if str(item.get("uuid")) == marker:
            return found[n + 1 :]
    message = f"Marker {marker} could not be found."
    if down:
        raise missing(message, down)
    raise ComputeError(400, message)


def _view(
    item: dict[str, Any], pod: Pod, names: hosts.HostNames, root: str, top: str
) -> dict[str, Any]:
    """A pod's migration as the top shows it: hosts named at the top, links at the top."""
    shown = dict(item)
    for key in HOST_FIELDS:
        if isinstance(shown.get(key), str):
            shown[key] = names.shown(pod.name, shown[key])
    if "links" in shown:
        shown["links"] = server_views.rewrite_urls(shown["links"], root, top)
    return shown

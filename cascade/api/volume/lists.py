"""GET /volumes, /snapshots, /backups (and their /detail): every pod's objects as one list.

The pods the project has objects in or is bound to (every pod for an admin's
`all_tenants`; of the AZ, when `availability_zone` is filtered on; for a first
page in the default order with no filter, those of its newest objects, see
`routed.newest_pods`) are asked in parallel for their detailed list with the
caller's token, every filter as given and one total sort order (the
requested keys, then `created_at` and `id`, as Cinder completes them; `sort=k:dir,...` or the older
`sort_key`/`sort_dir`), then merged and cut at the limit (Cinder's
`osapi_max_limit`, 1000, at most). The non-detail lists show `id`, `name` and
`links` of the same objects. A marker is a top id: its pod resumes after it,
every other pod where the previous page left it (remembered per query) or,
not known, after the marker's place in the order (the pod is read from its
start). `with_count` (3.45+) is the sum of the pods' counts. A pod that is
down, answers 5xx or has not answered within `[pods] list_deadline` is left
out and named in `X-Cascade-Unavailable-Pods`; a
pod's 4xx (a bad filter) is the answer, with the pod named. Objects listed
without a routing get one.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from cascade.api import handlers
from cascade.api.request import context, session
from cascade.api.volume import fanout, views
from cascade.api.volume.common import (
    answered,
    caller_for,
    negotiated,
    original_url,
    pod_call,
    pod_error,
    project_of,
    reply,
)
from cascade.api.volume.errors import VolumeError
from cascade.api.volume.routed import locate
from cascade.db.models import Pod
from cascade.pods import volume as pod_volume
from cascade.pods.identities import independent
from cascade.services import listing, resources, scheduling
from cascade.services import pods as pod_service
from cascade.services import routed as routed_service
from cascade.services.compute import moves
from cascade.services.volume import volumes as volume_service
from cascade.versions import Version

MAX_LIMIT = 1000  # Cinder's osapi_max_limit default
PAGING = ("limit", "marker", "sort", "sort_key", "sort_dir", "offset", "with_count")


def _bad(message: str) -> VolumeError:
    return VolumeError(400, message)


def sort_of(request: Request) -> listing.SortSpec:
    """Cinder's `sort=k:dir,...` (or the older `sort_key`/`sort_dir`), completed by
    `created_at` and `id`."""
    query = request.query_params
    keys: list[str] = []
    dirs: list[str] = []
    if "sort" in query:
        if "sort_key" in query or "sort_dir" in query:
            raise _bad(
                "The 'sort_key' and 'sort_dir' parameters are deprecated and cannot be used "
                "with the 'sort' parameter.",
            )
        for part in query["sort"].split(","):
            key, _, direction = part.strip().partition(":")
            keys.append(key.strip())
            dirs.append(direction.strip() or "desc")
    else:
        keys = [k.strip() for k in query.getlist("sort_key") for k in k.split(",")]
        dirs = [d.strip() for d in query.getlist("sort_dir") for d in d.split(",")]
        dirs += ["desc"] * (len(keys) - len(dirs))
    try:
        return listing.sort_spec(
            keys, dirs, default_key="created_at", default_dir="desc", tie_keys=("created_at", "id")
        )
    except listing.BadSort:
        raise _bad(
            "Invalid input received: Unknown sort direction, must be 'desc' or 'asc'."
        ) from None


def _getter(key: str) -> listing.Getter:
    return lambda item: item.get(key)


async def _pods(request: Request, kind: str, newest: int) -> routed_service.Newest:
    """The pods to ask, those known to hold nothing of the page, and the batches the
    routing table gives (`newest` > 0: a project's first page of `newest` objects in
    the default order, no filter: only the pods of its newest objects, see
    `routed.newest_pods`)."""
    zone = request.query_params.get("availability_zone")
    ctx = context(request)
    scope = None if handlers.all_projects(request, ctx) else project_of(request)
    async with session(request) as db:
        found = routed_service.Newest(await routed_service.candidate_pods(db, scope, None), [], {})
        if scope is not None and newest > 0:
            found = await routed_service.newest_pods(db, scope, kind, newest, found.asked)
    found.asked.sort(key=lambda pod: pod.name)
    found.asked = [pod for pod in found.asked if zone is None or pod.az == zone]
    return found


async def _checking_pod(request: Request) -> list[Pod]:
    """A project with nothing in any pod, whose list has filters or a sort of its own:
    one shared pod that is up, asked all the same, so that a bad filter or sort key gets
    Cinder's own 400 (an empty page otherwise: the project has nothing there). Not an
    independent pod: asking it would make the project a project of that cloud."""
    async with session(request) as db:
        every = await pod_service.list_all(db)
    shared = [p for p in every if scheduling.usable(p) and not independent(p)]
    return sorted(shared, key=lambda pod: pod.name)[:1]


async def index(request: Request) -> Response:
    """GET /<collection> and /<collection>/detail: 200 with the merged page."""
    collection = request.url.path.rstrip("/").split("/")
    detail = collection[-1] == "detail"
    name = collection[-2] if detail else collection[-1]
    resource = volume_service.LISTED[name]
    kind = resource.kind
    version = await negotiated(request, resource.since)
    asked = handlers.int_param("limit", request.query_params.get("limit"))
    limit = MAX_LIMIT if asked is None else min(asked, MAX_LIMIT)
    # Cinder's bound (constants.DB_MAX_INT); past it the pods could not be asked for it
    offset = handlers.int_param("offset", request.query_params.get("offset"), 2**31 - 1) or 0
    spec = sort_of(request)
    order = listing.Order(
        spec, {k: _getter("name" if k == "display_name" else k) for k in spec.keys}
    )
    with_count = version >= Version(3, 45) and request.query_params.get(
        "with_count", ""
    ).lower() in ("true", "1", "yes", "on")
    filters = [(k, v) for k, v in request.query_params.multi_items() if k not in PAGING]
    newest_first = (
        not filters
        and not offset
        and not with_count
        and "marker" not in request.query_params
        and spec.keys == ("created_at", "id")
        and spec.dirs == ("desc", "desc")
    )
    newest = await _pods(request, kind, limit + offset if newest_first else 0)
    pods, untouched = newest.asked, newest.untouched
    if not pods and not newest_first and not untouched:
        pods = await _checking_pod(request)
    zone_pods = {p.pod_az for p in pods}
    filters = [
        (k, next(iter(zone_pods)) if k == "availability_zone" and len(zone_pods) == 1 else v)
        for k, v in filters
    ]
    base = [
        *filters,
        ("sort", ",".join(f"{k}:{d}" for k, d in zip(spec.keys, spec.dirs, strict=True))),
    ]
    if with_count:
        base.append(("with_count", "true"))
    want = limit + offset
    marker_id = request.query_params.get("marker")
    if limit == 0:  # as Cinder: an empty page, no pod asked
        return reply({name: []})
    query = json.dumps([name, sorted(filters), spec.keys, spec.dirs, project_of(request), want])
    marker_pod: Pod | None = None
    if marker_id is not None:
        marker_pod = (await locate(request, kind, marker_id, version)).pod

    caller = caller_for(request, version)
    state = request.app.state
    kept = await moves.of_pods(state.sessions, None, state.registry, [p.id for p in pods])

    @listing.once
    async def marker_item() -> dict[str, Any]:
        """The marker's object, from its pod (where the other pods resume)."""
        assert marker_pod is not None and marker_id is not None
        path = f"{resource.path}/{marker_id}"
        resp = await pod_call(request, marker_pod, caller, "GET", path)
        if resp.status_code != 200:
            raise pod_error(resp, marker_pod)
        item: dict[str, Any] = resp.json().get(resource.key, {})
        return item

    async def read(pod: Pod, marker: str | None, size: int) -> listing.Chunk:
        """The pod's detailed list after its own `marker`, at most `size` (`ReadPod`)."""
        params = [*base, ("limit", str(size))]
        if marker is not None:
            params.append(("marker", marker))
        resp = await fanout.ask(request, pod, caller, f"/{name}/detail", params)
        found = await answered(request, pod, resp)
        items = [i for i in found.get(name, []) if isinstance(i, dict)]
        if kind == volume_service.VOLUME:
            _moving(kept.get(pod.id, moves.NONE), items)
        return listing.Chunk(items, int(found.get("count", 0) or 0))

    found = await listing.read_pages(
        request.app.state.registry,
        pod_volume.SERVICE,
        pods,
        read,
        order,
        want,
        query,
        marker=marker_id,
        marker_pod=marker_pod,
        marker_item=marker_item,
        batches=newest.batches,
    )
    found.untouched = untouched
    merged = await found.merged()
    items = [item for _, item in merged[offset:]]
    await _route(request, resource, found.pages)
    if items and len(items) == limit:
        found.remember(merged)
    body: dict[str, Any] = {name: items if detail else [views.summary(resource, i) for i in items]}
    if items and len(items) >= limit and resource.links_key:
        body[resource.links_key] = [{"rel": "next", "href": _next(request, str(items[-1]["id"]))}]
    if with_count:
        body["count"] = found.count
    return reply(body, 200, found.headers())


def _moving(kept: moves.PodMoves, volumes: list[dict[str, Any]]) -> None:
    """The targets of volumes' moves (and what is left of a source once its volume moved)
    are never in a page."""
    for volume in volumes:
        if not kept.shown(volume):
            volume[listing.HIDDEN] = True


def _next(request: Request, last_id: str) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "marker"]
    params.append(("marker", last_id))
    return f"{original_url(request)}?{urlencode(params)}"


async def _route(
    request: Request, resource: resources.Resource, pages: list[listing.PodPage]
) -> None:
    """Objects listed without a routing get one (see `routed.heal`), in the project that
    owns them (`routed.owners`: their parent's, for attachments), else the one an
    admin's view shows, else the caller's."""
    project = project_of(request)
    found = [(p.pod.id, i) for p in pages for i in p.items if "id" in i and listing.HIDDEN not in i]
    if not found:
        return
    async with session(request) as db:
        owned = await routed_service.owners(db, resource.kind, [i for _, i in found])
        listed = [
            (str(i["id"]), pod_id, owner or str(i.get(resource.owner) or "") or project)
            for (pod_id, i), owner in zip(found, owned, strict=True)
        ]
        await routed_service.heal(db, resource.kind, listed)

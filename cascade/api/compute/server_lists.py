"""GET /servers and /servers/detail: every pod's servers as one list.

The pods the project has servers in or is bound to (every pod for an admin's
`all_tenants`; for a first page in the default order with no filter, those of
its newest servers, see `routed.newest_pods`) are asked in parallel, with the
caller's token, every filter as given and the same total sort order (the
requested keys, then `created_at` and the id, as Nova completes them); their
pages are merged and cut at the limit (Nova's `max_limit`, 1000, at most).
`servers_links` has a `next` link at the top when the page is full, as Nova
does.

A marker is a top server id: its pod resumes after it, and every other pod
where the previous page left it (remembered per query), or, when that is
not known, after the marker's place in the order (the pod is read from its
start). A pod that is down, answers 5xx or has not answered within `[pods]
list_deadline` is left out (named in `X-Cascade-Unavailable-Pods`); at 2.69+
the servers the routing table knows there are shown as Nova's UNKNOWN stubs.
A pod's 4xx (a bad filter) is the answer, with the pod named. Servers listed
without a routing get one.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from cascade.api import handlers
from cascade.api.compute import forward, server_views
from cascade.api.compute.errors import ComputeError
from cascade.api.compute.versions import negotiated
from cascade.api.handlers import authorize, int_param, reply
from cascade.api.request import session
from cascade.context import Context
from cascade.db.models import Pod
from cascade.services import listing, routed, routings
from cascade.services.compute import moves
from cascade.services.compute import servers as server_service
from cascade.services.route_cache import RouteCache
from cascade.versions import Version

MAX_LIMIT = 1000  # Nova's [api] max_limit default
PAGING = ("limit", "marker", "sort_key", "sort_dir")
# Nova's default order, as the pods are asked for it (`listing.SortSpec.query`)
DEFAULT_ORDER = [
    ("sort_key", "created_at"), ("sort_dir", "desc"), ("sort_key", "uuid"), ("sort_dir", "desc")
]  # fmt: skip


def _sort(request: Request, ctx: Context, version: Version) -> listing.SortSpec:
    keys = request.query_params.getlist("sort_key")
    dirs = request.query_params.getlist("sort_dir")
    ignored = set(server_views.IGNORED_SORT_KEYS)
    if version < Version(2, 73):
        ignored.add("locked")
    for key in list(keys):
        if key in ignored:
            if len(dirs) > keys.index(key):
                dirs.pop(keys.index(key))
            keys.remove(key)
        elif key in server_views.ADMIN_SORT_KEYS and not ctx.is_admin:
            raise ComputeError(403, f"Only administrators can sort servers by {key}")
    try:
        return listing.sort_spec(
            keys,
            dirs,
            default_key="created_at",
            default_dir="desc",
            tie_keys=("created_at", "uuid"),
        )
    except listing.BadSort as exc:
        raise ComputeError(400, str(exc)) from None


class Lister:
    """One list request: the query every pod gets, and how one pod is read."""

    def __init__(self, request: Request, ctx: Context, version: Version, size: int) -> None:
        self.request = request
        self.size = size
        self.spec = _sort(request, ctx, version)
        self.order = listing.Order(self.spec, server_views.getters())
        self.filters = [(k, v) for k, v in request.query_params.multi_items() if k not in PAGING]
        self.caller = forward.caller_for(request, version)
        # no filter, Nova's default order: the newest servers, which the routing table
        # knows where to find (`routed.newest_pods`)
        self.newest_first = not self.filters and self.spec.query() == DEFAULT_ORDER
        # a `flavor` filter names a top flavor: each pod filters by its own copy's id
        # (pod id -> the copy's id; None: the pod has no copy, so no such server)
        self.flavor_copies: dict[str, str | None] | None = None
        # servers moved into or out of the pods asked (`services.compute.moves`)
        self.moves: dict[str, moves.PodMoves] = {}

    async def translate_flavor(self, db: AsyncSession, pods: list[Pod]) -> None:
        wanted = [v for k, v in self.filters if k == "flavor"]
        if not wanted:
            return
        self.flavor_copies = {}
        for pod in pods:
            copy = await routings.find(db, "flavor", wanted[-1], pod.id)
            self.flavor_copies[pod.id] = copy.bottom_id if copy is not None else None

    async def read(self, pod: Pod, marker: str | None, limit: int) -> listing.Chunk:
        """The pod's servers after its own `marker`, at most `limit` (see listing.ReadPod)."""
        filters = self.filters
        if self.flavor_copies is not None:
            copy = self.flavor_copies.get(pod.id)
            if copy is None:
                return listing.Chunk([])
            filters = [(k, copy if k == "flavor" else v) for k, v in filters]
        params = filters + self.spec.query() + [("limit", str(limit))]
        kept = self.moves.get(pod.id, moves.NONE)
        if marker is not None:
            params.append(("marker", kept.pod_id(marker)))
        resp = await forward.listed(self.request, pod, self.caller, "/servers/detail", params)
        # links at the top already: decoding rewrites them (see server_views.pod_json)
        top = forward.top_root(self.request)
        root = await forward.pod_root(self.request, pod)
        text = kept.translated(resp.text)
        servers = [s for s in server_views.pod_json(text, root, top).get("servers", [])]
        for server in servers:
            if isinstance(server, dict) and not kept.shown(server):
                server[listing.HIDDEN] = True
        return listing.Chunk([s for s in servers if isinstance(s, dict)])


async def index(request: Request) -> Response:
    """GET /servers and /servers/detail: the merged page (see above)."""
    version = await negotiated(request)
    detail = request.url.path.endswith("/detail")
    rule = "os_compute_api:servers:detail" if detail else "os_compute_api:servers:index"
    ctx = authorize(request, rule)
    limit = int_param("limit", request.query_params.get("limit"))
    size = MAX_LIMIT if limit is None else min(limit, MAX_LIMIT)
    marker = request.query_params.get("marker")
    lister = Lister(request, ctx, version, size)
    registry = request.app.state.registry
    query = json.dumps(
        ["servers", ctx.project_id, ctx.user_id, sorted(lister.filters), lister.spec.query(), size]
    )
    all_projects = handlers.all_projects(request, ctx)
    async with session(request) as db:
        # a project's list asks the pods it has servers in or is bound to, not every pod
        scope = None if all_projects else ctx.project_id
        pods = await routed.candidate_pods(db, scope, server_service.SERVER)
        untouched: list[Pod] = []
        batches: dict[str, int] = {}
        if scope is not None and marker is None and lister.newest_first:
            # its first page in the default order: only the pods its newest servers are in
            newest = await routed.newest_pods(db, scope, server_service.SERVER, size, pods)
            pods, untouched, batches = newest.asked, newest.untouched, newest.batches
        await lister.translate_flavor(db, pods)
        state = request.app.state
        lister.moves = await moves.of_pods(state.sessions, db, registry, [p.id for p in pods])
        marker_pod, marker_item = await _marker_source(request, db, ctx, lister, marker)
        if size:
            found = await listing.read_pages(
                registry,
                "compute",
                pods,
                lister.read,
                lister.order,
                size,
                query,
                marker=marker,
                marker_pod=marker_pod,
                marker_item=marker_item,
                batches=batches,
            )
        else:  # limit=0: an empty page, no pod asked
            found = listing.Pages(lister.order, 0, registry.cache(listing.Cursors), query)
        found.untouched = untouched
        if found.unavailable and version >= Version(2, 69):
            project = None if all_projects else ctx.project_id
            await _add_stubs(db, lister, found, project, marker_item)
        shown = await found.merged()
        healed = [(page.pod, item) for page, item in shown if not page.stub]
        routes = registry.cache(RouteCache)
        await server_service.heal(db, server_service.SERVER, healed, routes)
        body: dict[str, Any] = {"servers": await _views(request, db, shown, detail)}
        if size and len(shown) == size:
            found.remember(shown)
            path = "servers/detail" if detail else "servers"
            href = forward.next_link(request, path, str(shown[-1][1]["id"]))
            body["servers_links"] = [{"rel": "next", "href": href}]
    return reply(body, headers=found.headers())


MarkerItem = Callable[[], Awaitable[dict[str, Any]]]


async def _marker_source(
    request: Request, db: AsyncSession, ctx: Context, lister: Lister, marker: str | None
) -> tuple[Pod | None, MarkerItem | None]:
    """The marker's pod, checked now (400 if unknown, as Nova), and its sort values read
    on demand (None, None: no marker)."""
    if marker is None:
        return None, None
    try:
        where = await server_service.locate(
            db, request.app.state.registry, lister.caller, marker, forward.scope(ctx)
        )
    except routed.NotFound:
        raise ComputeError(400, f"marker [{marker}] not found") from None

    @listing.once
    async def item() -> dict[str, Any]:
        registry = request.app.state.registry
        ask = server_service.ask_pod(registry, lister.caller, marker, server_service.SERVER)
        found = await ask(where.pod)
        # the marker's pod cannot show it: its routing still knows its id and creation time
        return found if found is not None else server_views.stub(where.routing)

    return where.pod, item


async def _add_stubs(
    db: AsyncSession,
    lister: Lister,
    found: listing.Pages,
    project_id: str | None,
    marker_item: MarkerItem | None,
) -> None:
    """Nova's down-cell rule (2.69+): the servers the routing table knows in a pod left
    out are shown as UNKNOWN stubs, in their place in the order."""
    rows = await server_service.routed_in(db, [p.id for p in found.unavailable], project_id)
    root = forward.top_root(lister.request)
    after = await marker_item() if marker_item is not None else None
    for pod in found.unavailable:
        stubs = [server_views.stub(r, root) for r in rows if r.pod_id == pod.id]
        stubs.sort(key=lister.order.key)
        if after is not None:
            stubs = listing.after(stubs, after, lister.order)
        found.pages.append(listing.PodPage(pod, stubs[: lister.size], stub=True))


async def _views(
    request: Request,
    db: AsyncSession,
    shown: list[tuple[listing.PodPage, dict[str, Any]]],
    detail: bool,
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = [item for _, item in shown]
    parts: dict[int, tuple[listing.PodPage, list[int]]] = {}
    for k, (page, _) in enumerate(shown):
        if not page.stub:
            parts.setdefault(id(page), (page, []))[1].append(k)
    # every shown pod's flavor names in one query, not one per pod
    pod_ids = [page.pod.id for page, _ in parts.values()]
    await server_service.remember_flavor_names(db, request.app.state.registry, pod_ids)
    for page, places in parts.values():
        # one rewrite per pod: its links, AZ and flavors at the top
        body = {"servers": [items[k] for k in places]}
        viewed = (await forward.top_view(request, db, page.pod, body, urls_done=True))["servers"]
        for k, item in zip(places, viewed, strict=True):
            items[k] = item
    if detail:
        return items
    return [
        {"id": item["id"], "status": "UNKNOWN", "links": item["links"]}
        if page.stub
        else {"id": item["id"], "name": item.get("name"), "links": item["links"]}
        for (page, _), item in zip(shown, items, strict=True)
    ]

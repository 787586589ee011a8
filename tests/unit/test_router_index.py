"""The application's router tries only the routes a path can match (`IndexedRouter`), and
picks what Starlette's full scan picks: for every declared path and method, for
methods a path does not have (405), for paths nothing declares (404) and for a trailing
slash too many."""

from __future__ import annotations

import re

import httpx
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Match, Route, Router

from cascade.api.routing import IndexedRouter

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _concrete(template: str) -> str:
    """A path the template matches: each parameter an id-like segment."""
    return re.sub(r"\{[^}:]+(:path)?\}", lambda m: "a/b" if m.group(1) else "x1", template)


def _scope(path: str, method: str) -> dict[str, object]:
    return {"type": "http", "path": path, "method": method, "root_path": "", "headers": []}


def _pick(routes: list[BaseRoute], path: str, method: str) -> BaseRoute | None:
    """What Starlette's scan hands the request to: the first full match, else the first
    partial one (the path's 405)."""
    partial = None
    for route in routes:
        match, _ = route.matches(_scope(path, method))
        if match is Match.FULL:
            return route
        if match is Match.PARTIAL and partial is None:
            partial = route
    return partial


def test_the_same_route_as_the_full_scan(app: Starlette) -> None:
    router = app.router
    assert isinstance(router, IndexedRouter)
    routes = router.routes
    paths = {_concrete(r.path) for r in routes if isinstance(r, Route)}
    paths |= {p + "/" for p in paths} | {"/", "/nowhere", "/compute/v2.1/nowhere/x"}
    tried = 0
    for path in sorted(paths):
        for method in METHODS:
            full = _pick(routes, path, method)
            indexed = _pick(router._candidates(path), path, method)
            assert indexed is full, (path, method)
            tried += 1
    assert tried > 1000  # every route of every API was tried


def test_candidates_are_few_and_keep_the_declared_order(app: Starlette) -> None:
    router = app.router
    assert isinstance(router, IndexedRouter)
    found = router._candidates("/compute/v2.1/servers/x1")
    assert 0 < len(found) < len(router.routes) // 4
    places = [router.routes.index(r) for r in found]
    assert places == sorted(places)
    # `/servers/detail` is declared before `/servers/{server_id}` and must stay so
    paths = [r.path for r in found if isinstance(r, Route)]
    assert paths.index("/compute/v2.1/servers/detail") < paths.index(
        "/compute/v2.1/servers/{server_id}"
    )


ODD = [
    ("GET", "/compute/v2.1/nowhere"),
    ("PATCH", "/compute/v2.1/flavors"),
    ("GET", "/v1/nowhere/at/all"),
    ("DELETE", "/v1/pods"),
    ("GET", "/v1/pods/"),
    ("GET", "/compute/v2.1/servers/detail/"),
    ("PUT", "/volume/v3/x1/volumes"),
    ("GET", "/network/v2.0/networks/x1/y"),
    ("GET", "/"),
]


async def test_unmatched_requests_answer_as_with_the_full_scan(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    """404s, 405s, 501s and slash redirects: the same status and Location either way."""
    token = {"X-Auth-Token": "admin-token"}

    async def answers() -> list[tuple[int, str | None]]:
        found = []
        for method, path in ODD:
            resp = await client.request(method, path, headers=token)
            found.append((resp.status_code, resp.headers.get("location")))
        return found

    indexed = await answers()
    app.router = Router(routes=app.router.routes, lifespan=app.router.lifespan_context)
    app.middleware_stack = None  # built again around the plain router
    assert await answers() == indexed
    assert {status for status, _ in indexed} >= {404, 405}

"""Routes declared as tables, as placement's `ROUTE_DECLARATIONS`: path -> method ->
handler. Order matters where paths overlap (`/servers/detail` before
`/servers/{server_id}`); a path whose method is not declared is 405. The application's
router (`IndexedRouter`) tries only the routes a path can match."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette._utils import get_route_path
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import Receive, Scope, Send

Handler = Callable[[Request], Awaitable[Response]]
Declarations = dict[str, dict[str, Handler]]
ALL = ("GET", "POST", "PUT", "PATCH", "DELETE")


def declared(
    prefix: str, table: Declarations, names: dict[str, str] | None = None
) -> list[BaseRoute]:
    """One route per path and method of `table`, under `prefix`; `names` names the GET
    route of a path (for `url_for`)."""
    return [
        Route(
            prefix + path,
            handler,
            methods=[method],
            name=(names or {}).get(path) if method == "GET" else None,
        )
        for path, methods in table.items()
        for method, handler in methods.items()
    ]


def every_method(handler: Handler, *methods: str) -> dict[str, Handler]:
    """`handler` for each of `methods` (default: all of them)."""
    return dict.fromkeys(methods or ALL, handler)


# how many leading path segments index the routes: `/compute/v2.1/servers/...` is told
# from every other API's routes by its first three
DEPTH = 3


def _literal_prefix(path: str) -> tuple[str, ...]:
    """A route path's leading segments before its first parameter, at most DEPTH."""
    prefix: list[str] = []
    for segment in path.split("/")[1 : DEPTH + 1]:
        if "{" in segment:
            break
        prefix.append(segment)
    return tuple(prefix)


class IndexedRouter(Router):
    """Starlette's router, which tries every route in turn (a regex each: with ~240
    routes, a tenth of a proxied GET's CPU), made to try only the routes whose literal
    start agrees with the request's path, in their declared order. The same answer as
    the full scan: a route left out cannot match. Anything unmatched (a 404, a 405 with
    no candidate, a trailing-slash redirect) goes through Starlette's own scan."""

    # built on first use, again should routes be added later
    _indexed: dict[tuple[str, ...], list[BaseRoute]] | None = None
    _indexed_count = -1

    def _index(self) -> dict[tuple[str, ...], list[BaseRoute]]:
        if self._indexed is not None and self._indexed_count == len(self.routes):
            return self._indexed
        buckets: dict[tuple[str, ...], list[int]] = {(): []}
        for k, route in enumerate(self.routes):
            # anything but a plain Route (mounts, hosts): a candidate for every request
            key = _literal_prefix(route.path) if isinstance(route, Route) else ()
            buckets.setdefault(key, []).append(k)
        indexed: dict[tuple[str, ...], list[BaseRoute]] = {}
        for key in buckets:
            # a request under `key` may match the routes of `key` and of its prefixes
            places = sorted(k for n in range(len(key) + 1) for k in buckets.get(key[:n], []))
            indexed[key] = [self.routes[k] for k in places]
        self._indexed = indexed
        self._indexed_count = len(self.routes)
        return indexed

    def _candidates(self, path: str) -> list[BaseRoute]:
        indexed = self._index()
        segments = tuple(path.split("/")[1 : DEPTH + 1])
        for n in range(len(segments), -1, -1):
            found = indexed.get(segments[:n])
            if found is not None:
                return found
        return []  # pragma: no cover  (the empty prefix is always indexed)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().app(scope, receive, send)
            return
        if "router" not in scope:
            scope["router"] = self
        partial: tuple[BaseRoute, Scope] | None = None
        for route in self._candidates(get_route_path(scope)):
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                scope["route"] = route
                scope.update(child_scope)
                await route.handle(scope, receive, send)
                return
            if match is Match.PARTIAL and partial is None:
                partial = (route, child_scope)
        if partial is not None:  # the path is known, the method is not: its 405
            route, child_scope = partial
            scope["route"] = route
            scope.update(child_scope)
            await route.handle(scope, receive, send)
            return
        await super().app(scope, receive, send)

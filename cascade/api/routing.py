"""Routes declared as tables, as placement's `ROUTE_DECLARATIONS`: path -> method ->
handler. Order matters where paths overlap (`/servers/detail` before
`/servers/{server_id}`); a path whose method is not declared is 405."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

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

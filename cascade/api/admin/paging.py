"""What the admin API's paged lists share: known query parameters, `limit`, the next link.

- a query parameter a list does not know is 400 (a typo must not widen a list);
- `limit` is an integer from 1 to MAX_LIMIT (default MAX_LIMIT), else 400;
- a full page carries `<name>_links` with a "next" link: the same query with
  `marker` set to the page's last id.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request

from cascade.api.errors import ApiError

MAX_LIMIT = 1000


def check_query(request: Request, known: Iterable[str]) -> None:
    unknown = sorted(set(request.query_params) - {*known, "limit", "marker"})
    if unknown:
        raise ApiError(
            400, f"unknown query parameter(s): {', '.join(unknown)}", "cascade.request.query"
        )


def limit(request: Request) -> int:
    raw = request.query_params.get("limit", str(MAX_LIMIT))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise ApiError(
            400, f"limit must be an integer from 1 to {MAX_LIMIT}", "cascade.request.query"
        )
    return int(raw)


def page_body(
    request: Request, name: str, items: list[dict[str, Any]], last_id: str | None, size: int
) -> dict[str, Any]:
    """`{name: items}`, with the next link when the page is full."""
    body: dict[str, Any] = {name: items}
    if last_id is not None and len(items) == size:
        query = {k: v for k, v in request.query_params.items() if k != "marker"}
        query["marker"] = last_id
        href = str(request.url.replace(query=urlencode(query)))
        body[f"{name}_links"] = [{"rel": "next", "href": href}]
    return body

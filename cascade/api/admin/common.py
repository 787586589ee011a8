"""What the admin API's handlers share: the policy check, the session and the services'
refusals as errors; rows shown whole; request bodies; paged lists.

Paged lists: a query parameter a list does not know is 400 (a typo must not
widen a list); `limit` is an integer from 1 to MAX_LIMIT (default MAX_LIMIT),
else 400; a full page carries `<name>_links` with a "next" link: the same
query with `marker` set to the page's last id.
"""

from __future__ import annotations

from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cascade.api.errors import ApiError
from cascade.api.request import authorize, json_body, session
from cascade.context import Context

MAX_LIMIT = 1000
# a service's exceptions and the admin API's answer to each: status and code
Refusals = Mapping[type[Exception], tuple[int, str]]
Row = TypeVar("Row")


@contextmanager
def answering(refusals: Refusals) -> Iterator[None]:
    """The service's exceptions in `refusals` raised as the errors said there."""
    try:
        yield
    except tuple(refusals) as exc:
        status, code = next(v for k, v in refusals.items() if isinstance(exc, k))
        raise ApiError(status, str(exc), code) from exc


@asynccontextmanager
async def acting(
    request: Request, rule: str, refusals: Refusals
) -> AsyncIterator[tuple[Context, AsyncSession]]:
    """The caller (403 unless policy `rule` allows them) and a session, the service's
    exceptions in `refusals` answered as said there."""
    ctx = authorize(request, rule)
    async with session(request) as db:
        with answering(refusals):
            yield ctx, db


def shown(row: object) -> dict[str, Any]:
    """Every column of `row` (the admin API shows its rows whole), times as ISO 8601."""
    values = {c.key: getattr(row, c.key) for c in inspect(row).mapper.column_attrs}
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}


def fields(body: Any, key: str, known: Collection[str]) -> dict[str, Any]:
    """The fields of a `{key: {...}}` body, which must all be `known` (400 otherwise)."""
    if not isinstance(body, dict) or set(body) != {key} or not isinstance(body[key], dict):
        raise ApiError(400, f'the body must be {{"{key}": {{...}}}}', "cascade.request.body")
    values: dict[str, Any] = body[key]
    unknown = sorted(set(values) - set(known))
    if unknown:
        message = f"unknown {key} field(s): {', '.join(unknown)}"
        raise ApiError(400, message, f"cascade.{key}.field")
    return values


def filters(request: Request, known: Collection[str]) -> dict[str, str | None]:
    """A paged list's filters from the query; 400 for a parameter the list does not know."""
    params = request.query_params
    unknown = sorted(set(params) - {*known, "limit", "marker", "sort_dir"})
    if unknown:
        raise ApiError(
            400, f"unknown query parameter(s): {', '.join(unknown)}", "cascade.request.query"
        )
    return {name: params.get(name) for name in known}


async def page(
    request: Request,
    name: str,
    refusals: Refusals,
    read: Callable[[AsyncSession, int, str | None, bool], Awaitable[Sequence[Row]]],
    view: Callable[[Row], dict[str, Any]],
) -> Response:
    """200 with `{name: [...]}`: the rows `read(db, limit, marker, newest_first)` gives
    (`sort_dir=asc`, the default: oldest first; `desc`: newest first), and the next link
    when the page is full."""
    raw = request.query_params.get("limit", str(MAX_LIMIT))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise ApiError(
            400, f"limit must be an integer from 1 to {MAX_LIMIT}", "cascade.request.query"
        )
    direction = request.query_params.get("sort_dir", "asc")
    if direction not in ("asc", "desc"):
        raise ApiError(400, "sort_dir must be one of asc, desc", "cascade.request.query")
    async with session(request) as db:
        with answering(refusals):
            marker = request.query_params.get("marker")
            found = await read(db, int(raw), marker, direction == "desc")
    body: dict[str, Any] = {name: [view(row) for row in found]}
    if found and len(found) == int(raw):
        query = {k: v for k, v in request.query_params.items() if k != "marker"}
        query["marker"] = body[name][-1]["id"]
        href = str(request.url.replace(query=urlencode(query)))
        body[f"{name}_links"] = [{"rel": "next", "href": href}]
    return JSONResponse(body)


Read = Callable[
    [AsyncSession, Mapping[str, str | None], int, str | None, bool], Awaitable[Sequence[Row]]
]


async def listing(
    request: Request,
    name: str,
    rule: str,
    table: Collection[str],
    refusals: Refusals,
    read: Read[Row],
    choices: Mapping[str, Collection[str]] | None = None,
    view: Callable[[Row], dict[str, Any]] = shown,
) -> Response:
    """A service's paged list (`page`) for a caller `rule` allows: its filters named in
    `table`, each of `choices` one of its values (400 otherwise)."""
    authorize(request, rule)
    wanted = filters(request, table)
    for key, allowed in (choices or {}).items():
        if wanted.get(key) not in (None, *allowed):
            message = f"{key} must be one of {', '.join(allowed)}"
            raise ApiError(400, message, "cascade.request.query")
    return await page(
        request,
        name,
        refusals,
        lambda db, limit, marker, newest: read(db, wanted, limit, marker, newest),
        view,
    )


async def optional_body(request: Request, key: str) -> Any:
    """The JSON body, or `{key: {}}` when the request has none (its fields are optional)."""
    empty = request.headers.get("content-length", "0") == "0"
    if empty and "transfer-encoding" not in request.headers:
        return {key: {}}
    return await json_body(request)

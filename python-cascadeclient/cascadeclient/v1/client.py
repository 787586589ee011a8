"""A small client of Cascade's admin API (`/v1`), on a keystoneauth session.

Every request goes through a session-like object (`Session`): in the CLI keystoneauth's
`Adapter`, which finds the endpoint (service type `cascade` in the catalog, or an
override) and signs each request with the caller's token; a fake in the unit tests.
Paths are relative to that endpoint: `/pods`, `/jobs/{id}/redo`.

A status of 400 or more raises keystoneauth's `HttpError` for it (`NotFound`,
`Conflict`, `Forbidden`...), its message the API's own `detail`.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from keystoneauth1 import exceptions

# the admin API's largest page (`limit` from 1 to 1000)
MAX_LIMIT = 1000
Row = dict[str, Any]


class Response(Protocol):
    """What the client reads of an answer (a `requests.Response` has it)."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def text(self) -> str: ...

    def json(self) -> Any: ...


class Session(Protocol):
    """keystoneauth's `Adapter.request`: `url` relative to the endpoint; `json`,
    `params` and `raise_exc` among the keyword arguments."""

    def request(self, url: str, method: str, **kwargs: Any) -> Response: ...


class Client:
    """Cascade's admin API at the session's endpoint."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        """`method` on `path`: the decoded JSON answer, None for a 204; HttpError for a
        status of 400 or more."""
        # keystoneauth's own error would carry the API-WG title ("Not Found") and drop
        # the detail OSC should print: the status is checked here instead
        kwargs: dict[str, Any] = {"raise_exc": False}
        if body is not None:
            kwargs["json"] = body
        if params:
            kwargs["params"] = dict(params)
        response = self.session.request(path, method, **kwargs)
        if response.status_code >= 400:
            raise error(response, method, path)
        return None if response.status_code == 204 else response.json()

    def list(
        self,
        path: str,
        key: str,
        filters: Mapping[str, str | None] | None = None,
        limit: int | None = None,
        marker: str | None = None,
    ) -> builtins.list[Row]:
        """GET `path` and the `<key>_links` "next" link of each full page, until the list
        ends or `limit` rows are in: `{key: [...]}` pages, rows in the API's order (oldest
        first; the filter `sort_dir=desc` newest first). Filters
        that are None are not sent; `marker` starts after that row (400 if unknown)."""
        params = {k: v for k, v in (filters or {}).items() if v is not None}
        if marker is not None:
            params["marker"] = marker
        found: builtins.list[Row] = []
        while True:
            if limit is not None:
                params["limit"] = str(min(limit - len(found), MAX_LIMIT))
            body = self.call("GET", path, params=params)
            found += body[key]
            link = next(
                (x["href"] for x in body.get(f"{key}_links", []) if x["rel"] == "next"), None
            )
            if link is None or (limit is not None and len(found) >= limit):
                return found
            # the link's query only: the host the API saw may not be the one called
            # (a load balancer, an endpoint override)
            params = dict(parse_qsl(urlsplit(link).query))

    def get(self, path: str, key: str) -> Row:
        """GET `path`: the answer's `key` (404 if unknown)."""
        found: Row = self.call("GET", path)[key]
        return found

    def create(self, path: str, key: str, fields: Mapping[str, Any]) -> Row:
        """POST `{key: fields}` to `path`: the answer's `key` (201 or 202)."""
        made: Row = self.call("POST", path, {key: dict(fields)})[key]
        return made

    def update(self, path: str, key: str, fields: Mapping[str, Any]) -> Row:
        """PATCH `path` with `{key: fields}`, the fields to change: the answer's `key`."""
        changed: Row = self.call("PATCH", path, {key: dict(fields)})[key]
        return changed

    def delete(self, path: str, params: Mapping[str, str] | None = None) -> None:
        """DELETE `path` (204)."""
        self.call("DELETE", path, params=params)

    def action(self, path: str, key: str, body: Mapping[str, Any] | None = None) -> Any:
        """POST `body` (none if None) to an action's `path`: the answer's `key` (a row, or
        rows for a repair of many findings)."""
        return self.call("POST", path, body)[key]


def error(response: Response, method: str, path: str) -> exceptions.ClientException:
    """keystoneauth's error for the status, its message the API's `detail` when the body
    has one (API-WG `{"errors": [{"title", "detail"}]}`)."""
    found = exceptions.from_response(response, method, path)  # type: ignore[arg-type]
    json_body = response.headers.get("Content-Type", "").startswith("application/json")
    if not isinstance(found, exceptions.HttpError) or not found.details or not json_body:
        return found
    return type(found)(
        message=found.details,
        details=found.details,
        response=found.response,
        request_id=found.request_id,
        url=path,
        method=method,
        http_status=found.http_status,
    )

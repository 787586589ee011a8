"""What every Networking handler needs: the caller, the JSON body with Neutron's 400,
and Neutron's JSON replies."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cascade.api.request import context, policy_of, read_body
from cascade.services.network.access import Caller
from cascade.services.network.errors import NeutronError

PREFIX = "/networking"


@asynccontextmanager
async def caller(request: Request) -> AsyncIterator[Caller]:
    """The caller's project and admin role with a database session for the request."""
    ctx = context(request)
    if ctx.project_id is None:
        raise NeutronError("The Networking API needs a project-scoped token.", 403, "HTTPForbidden")
    async with request.app.state.sessions() as db:
        yield Caller(db, request.app.state.conf.network, ctx.project_id, *policy_of(request, ctx))


async def json_body(request: Request) -> Any:
    """The decoded body; Neutron's 413 past the size limit, 400 when it is not JSON."""

    def too_large(limit: int) -> NeutronError:
        message = f"Request is too large: the limit is {limit} bytes."
        return NeutronError(message, 413, "HTTPRequestEntityTooLarge")

    raw = await read_body(request, too_large)
    try:
        return json.loads(raw)
    except ValueError:
        raise NeutronError("Malformed request body", 400, "MalformedRequestBody") from None


def reply(body: Any, status: int = 200) -> Response:
    if body is None:
        return Response(status_code=status)
    return JSONResponse(body, status_code=status)


def base_url(request: Request, path: str) -> str:
    """The top's URL of `path` under the Networking API (links point at the top)."""
    root = str(request.base_url).rstrip("/")
    return f"{root}{PREFIX}{path}"


def not_found() -> NeutronError:
    return NeutronError("The resource could not be found.", 404, "HTTPNotFound")

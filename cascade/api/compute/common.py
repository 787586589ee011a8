"""What every Compute handler needs: policy with Nova's 403, the JSON body with
Nova's 400/413, and replies that echo the microversion."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cascade.api.compute.errors import ComputeError
from cascade.api.compute.microversion import echo_headers
from cascade.api.request import context, read_body
from cascade.context import Context
from cascade.versions import Version

# the microversion headers of an answer: Nova's here, Cinder's for the volume API
Echo = Callable[[Version], dict[str, str]]


def authorize(request: Request, rule: str, version: Version, echo: Echo = echo_headers) -> Context:
    """The caller's context if policy `rule` allows it, else Nova's (and Cinder's) 403."""
    ctx = context(request)
    if not request.app.state.policy.allows(rule, ctx):
        raise ComputeError(403, f"Policy doesn't allow {rule} to be performed.", echo(version))
    return ctx


async def raw_body(request: Request, version: Version, echo: Echo = echo_headers) -> bytes:
    """The body's bytes; 413 past the configured size (read no further)."""

    def too_large(limit: int) -> ComputeError:
        message = f"Request is too large: the limit is {limit} bytes."
        return ComputeError(413, message, echo(version))

    return await read_body(request, too_large)


async def json_body(request: Request, version: Version, echo: Echo = echo_headers) -> Any:
    """The decoded JSON body; Nova's (and Cinder's) 400 `Malformed request body` when it
    is not JSON."""
    raw = await raw_body(request, version, echo)
    try:
        return json.loads(raw)
    except ValueError:  # not UTF-8, not JSON, or an integer past Python's digit limit
        raise ComputeError(400, "Malformed request body", echo(version)) from None


def reply(
    body: Any,
    version: Version,
    status: int = 200,
    headers: dict[str, str] | None = None,
    echo: Echo = echo_headers,
) -> Response:
    """A JSON answer (or an empty one for `body=None`) with the microversion echoed."""
    all_headers = {**echo(version), **(headers or {})}
    if body is None:
        return Response(status_code=status, headers=all_headers)
    return JSONResponse(body, status_code=status, headers=all_headers)


def int_param(
    name: str, raw: str | None, version: Version, echo: Echo = echo_headers
) -> int | None:
    """A non-negative integer query parameter, with Nova's (and Cinder's) 400 messages;
    None if absent."""
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ComputeError(400, f"{name} param must be an integer", echo(version)) from None
    if value < 0:
        raise ComputeError(400, f"{name} param must be positive", echo(version))
    return value

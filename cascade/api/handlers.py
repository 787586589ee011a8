"""What every Compute and Block Storage handler needs: policy with Nova's (and
Cinder's) 403, the JSON body with their 400/413, query integers, and replies."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.boundary import dumps
from cascade.api.faults import Fault as ComputeError
from cascade.api.request import context, read_body
from cascade.context import Context


def authorize(request: Request, rule: str, target: Mapping[str, Any] | None = None) -> Context:
    """The caller's context if policy `rule` allows it on `target` (the object's
    `project_id`, `user_id`; by default the caller's own), else Nova's (and Cinder's) 403."""
    ctx = context(request)
    if not request.app.state.policy.allows(rule, ctx, target):
        raise ComputeError(403, f"Policy doesn't allow {rule} to be performed.")
    return ctx


async def raw_body(request: Request) -> bytes:
    """The body's bytes; 413 past the configured size (read no further)."""

    def too_large(limit: int) -> ComputeError:
        return ComputeError(413, f"Request is too large: the limit is {limit} bytes.")

    return await read_body(request, too_large)


async def json_body(request: Request) -> Any:
    """The decoded JSON body; Nova's (and Cinder's) 400 `Malformed request body` when it
    is not JSON."""
    raw = await raw_body(request)
    try:
        return json.loads(raw)
    except ValueError:  # not UTF-8, not JSON, or an integer past Python's digit limit
        raise ComputeError(400, "Malformed request body") from None


def reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer (or an empty one for `body=None`); the negotiated microversion is
    echoed by `RequestIdMiddleware`."""
    if body is None:
        return Response(status_code=status, headers=headers)
    return Response(dumps(body), status, headers, media_type="application/json")


def all_projects(request: Request, ctx: Context) -> bool:
    """Whether an admin asked for every project's objects (`all_tenants`): given with no
    value, or any value but false/0/off/no, means yes, as in Nova and Cinder."""
    value = request.query_params.get("all_tenants")
    return (
        ctx.is_admin
        and value is not None
        and value.strip().lower() not in ("false", "0", "off", "no", "f", "n")
    )


def int_param(name: str, raw: str | None, maximum: int | None = None) -> int | None:
    """A non-negative integer query parameter, with Nova's (and Cinder's) 400 messages;
    None if absent. Past `maximum`, Cinder's `validate_integer` 400."""
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ComputeError(400, f"{name} param must be an integer") from None
    if value < 0:
        raise ComputeError(400, f"{name} param must be positive")
    if maximum is not None and value > maximum:
        raise ComputeError(400, f"Invalid input received: {name} must be <= {maximum}")
    return value

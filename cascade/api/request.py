"""What handlers need from a request: its context, its JSON body, a DB session, policy."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request

from cascade.api.errors import ApiError
from cascade.context import Context
from cascade.pods.client import Caller
from cascade.services.network.access import Allows

C = TypeVar("C", bound=Caller)


def context(request: Request) -> Context:
    ctx: Context = request.scope["state"]["context"]
    return ctx


def caller_of(kind: type[C], request: Request, version: object) -> C:
    """A pod call made for the request's caller (`kind`: the API's `Caller`): its token,
    project and user, the microversion, and the global request id (else the request's)."""
    ctx = context(request)
    state = request.scope.get("state", {})
    request_id = state.get("global_request_id") or state.get("request_id", "")
    return kind(ctx.token, str(version), str(request_id), ctx.project_id, ctx.user_id, ctx.is_admin)


def policy_of(request: Request, ctx: Context) -> tuple[bool, Allows]:
    """Whether the caller is an admin of the Networking API (policy `context_is_admin`,
    as Neutron decides it), and the caller's policy checks (a rule on a target: the
    object acted on; without one, the caller's own project)."""
    allows: Allows = request.app.state.policy.checker(ctx)

    return allows("context_is_admin"), allows


def authorize(request: Request, rule: str) -> Context:
    """The caller's context if policy `rule` allows it, else 403."""
    ctx = context(request)
    if not request.app.state.policy.allows(rule, ctx):
        raise ApiError(403, f"policy does not allow {rule} to this user", "cascade.forbidden")
    return ctx


async def read_body(request: Request, too_large: Callable[[int], Exception]) -> bytes:
    """The body's bytes, reading no further than `[api] max_body_bytes`: past it,
    `too_large(limit)` is raised (each API answers in its own error format)."""
    limit = request.app.state.conf.api.max_body_bytes
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise too_large(limit)
    return raw


def _too_large(limit: int) -> ApiError:
    return ApiError(413, f"the body is larger than {limit} bytes", "cascade.request.size")


async def json_body(request: Request) -> Any:
    """The decoded JSON body; 413 past the configured size, 400 if it is not JSON."""
    raw = await read_body(request, _too_large)
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, f"the body is not valid JSON: {exc}", "cascade.request.json") from exc


def session(request: Request) -> AsyncSession:
    """A new database session, to use as `async with session(request) as db`."""
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    return sessions()

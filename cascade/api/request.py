"""What handlers need from a request: its context, its JSON body, a DB session, policy."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from cascade.api.errors import ApiError
from cascade.context import Context
from cascade.services import pods as pod_service


def context(request: Request) -> Context:
    ctx: Context = request.scope["state"]["context"]
    return ctx


def policy_of(request: Request, ctx: Context) -> tuple[bool, Callable[[str], bool]]:
    """Whether the caller is an admin of the Networking API (policy `context_is_admin`,
    as Neutron decides it), and the caller's policy checks."""
    policy = request.app.state.policy

    def allows(rule: str) -> bool:
        return bool(policy.allows(rule, ctx))

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


@asynccontextmanager
async def session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessions() as db:
        yield db


ADVERTISED_SECONDS = 2.0  # how long one process reuses a microversion range it worked out
RangeOf = Callable[[Any, list[Any]], Awaitable[tuple[Any, Any]]]


async def advertised(request: Request, key: str, range_of: RangeOf) -> tuple[Any, Any]:
    """A service's microversion range, `range_of(registry, pods)`, kept per process under
    `key` for ADVERTISED_SECONDS: it changes only when pods are added, enabled or
    upgraded, and reading the pods on every request cost a query each time."""
    cached = request.app.state.advertised.get(key)
    if cached is not None and time.monotonic() < cached[2]:
        return cached[0], cached[1]
    async with session(request) as db:
        found = await pod_service.list_all(db)
    low, high = await range_of(request.app.state.registry, found)
    request.app.state.advertised[key] = (low, high, time.monotonic() + ADVERTISED_SECONDS)
    return low, high

"""Microversions, negotiated once per request for whichever API serves it.

Each API describes its rules once (`Microversions`: how it reads the version
from the headers, checks it against a range, and echoes it); `negotiated`
works the version out on the first call of a request (400/406 in the API's
own format), keeps it in the request's scope, and leaves the echo headers
there for `RequestIdMiddleware` to put on whatever the answer turns out to
be, replies and errors alike, as Nova and Cinder do.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import Headers
from starlette.requests import Request

from cascade.api.middleware import ECHO
from cascade.api.request import session
from cascade.pods.registry import PodRegistry
from cascade.versions import Version

ADVERTISED_SECONDS = 2.0  # how long one process reuses a range it worked out


@dataclass(frozen=True)
class Microversions:
    """One API's microversion rules."""

    service: str  # compute, volume: also the key of the range cache
    range_of: Callable[[AsyncSession, PodRegistry], Awaitable[tuple[Version, Version]]]
    requested: Callable[[Headers], str | None]
    negotiate: Callable[[str | None, Version, Version], Version]
    echo: Callable[[Version], dict[str, str]]


async def advertised(request: Request, api: Microversions) -> tuple[Version, Version]:
    """The range `api`'s requests negotiate against, kept per process for
    ADVERTISED_SECONDS: it changes only when pods are added, enabled or upgraded, and
    working it out costs a query over every pod (`services.versions`)."""
    cached = request.app.state.advertised.get(api.service)
    if cached is not None and time.monotonic() < cached[2]:
        return cached[0], cached[1]
    async with session(request) as db:
        low, high = await api.range_of(db, request.app.state.registry)
    request.app.state.advertised[api.service] = (low, high, time.monotonic() + ADVERTISED_SECONDS)
    return low, high


async def negotiated(request: Request, api: Microversions) -> Version:
    """The request's `api` microversion within the advertised range (the API's 400/406
    otherwise), worked out once per request."""
    state = request.scope.setdefault("state", {})
    key = f"microversion:{api.service}"
    known = state.get(key)
    if isinstance(known, Version):
        return known
    low, high = await advertised(request, api)
    version = api.negotiate(api.requested(request.headers), low, high)
    state[key] = version
    state[ECHO] = api.echo(version)
    return version

"""Microversions, negotiated once per request for whichever API serves it.

Each API describes its rules once (`Microversions`: how it reads the version
from the headers, checks it against a range, and echoes it); `negotiated`
works the version out on the first call of a request (400/406 in the API's
own format), keeps it in the request's scope, and leaves the echo headers
there for `RequestIdMiddleware` to put on whatever the answer turns out to
be, replies and errors alike, as Nova and Cinder do.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request

from cascade.api.middleware import ECHO
from cascade.api.request import advertised as request_advertised
from cascade.pods.registry import PodRegistry
from cascade.versions import Version


@dataclass(frozen=True)
class Microversions:
    """One API's microversion rules."""

    service: str  # compute, volume: also the key of the range cache
    range_of: Callable[[PodRegistry, list[Any]], Awaitable[tuple[Version, Version]]]
    requested: Callable[[Headers], str | None]
    negotiate: Callable[[str | None, Version, Version], Version]
    echo: Callable[[Version], dict[str, str]]


async def advertised(request: Request, api: Microversions) -> tuple[Version, Version]:
    """The range `api`'s requests negotiate against (see `request.advertised`)."""
    return await request_advertised(request, api.service, api.range_of)


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

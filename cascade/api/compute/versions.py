"""Compute API version documents (no token needed), and what is not served yet.

- GET /compute/ lists the API versions (only v2.1: Cascade serves no legacy v2);
- GET /compute/v2.1/ shows v2.1 with the microversion range Cascade
  advertises: what it implements and every enabled pod supports;
- any other /compute/v2.1/... path is negotiated (400/406 as Nova) and
  then answered 501 notImplemented: the resource is not served yet.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cascade.api import microversions
from cascade.api.compute.errors import ComputeError
from cascade.api.compute.microversion import echo_headers, negotiate, requested
from cascade.api.microversions import Microversions
from cascade.services.versions import compute_range
from cascade.versions import Version

UPDATED = "2013-07-23T11:33:21Z"  # Nova's date for v2.1, which clients do not parse


COMPUTE = Microversions("compute", compute_range, requested, negotiate, echo_headers)


async def advertised(request: Request) -> tuple[Version, Version]:
    """The range every request negotiates against (see `microversions.advertised`)."""
    return await microversions.advertised(request, COMPUTE)


async def negotiated(request: Request) -> Version:
    """The request's microversion within the advertised range (400/406 otherwise),
    negotiated once per request; every answer then echoes it."""
    return await microversions.negotiated(request, COMPUTE)


def _v21(request: Request, low: Version, high: Version) -> dict[str, Any]:
    href = str(request.base_url).rstrip("/") + "/compute/v2.1/"
    return {
        "id": "v2.1",
        "status": "CURRENT",
        "version": str(high),
        "min_version": str(low),
        "updated": UPDATED,
        "links": [{"rel": "self", "href": href}],
    }


async def root(request: Request) -> Response:
    low, high = await advertised(request)
    return JSONResponse({"versions": [_v21(request, low, high)]})


async def v21(request: Request) -> Response:
    low, high = await advertised(request)
    doc = _v21(request, low, high)
    doc["links"].append(
        {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"}
    )
    doc["media-types"] = [
        {"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}
    ]
    return JSONResponse({"version": doc})


async def not_served_yet(request: Request) -> Response:
    await negotiated(request)  # 400/406 come first
    path = "/" + request.path_params["path"]
    raise ComputeError(
        501, f"Cascade does not serve {request.method} {path} of the Compute API yet."
    )

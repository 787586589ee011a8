"""Compute API version documents (no token needed), and what is not served yet.

- GET /compute/ lists the API versions as Nova does: v2.0 (DEPRECATED, the
  legacy API, which Cascade does not serve beyond its version document) first,
  then v2.1;
- GET /compute/v2/ shows v2.0's document (Nova's, so that a client following
  the list's `self` links finds each);
- GET /compute/v2.1/ shows v2.1 with the microversion range Cascade
  advertises: what it implements and every enabled pod supports;
- any other /compute/v2.1/... path is negotiated (400/406 as Nova) and
  then answered 501 notImplemented: the resource is not served yet; one
  with an empty segment (an empty id, a trailing slash) is Nova's 404.
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
V20_UPDATED = "2025-07-04T12:00:00Z"  # Nova's date for the deprecated v2.0
DESCRIBED_BY = {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"}


COMPUTE = Microversions("compute", compute_range, requested, negotiate, echo_headers)


async def advertised(request: Request) -> tuple[Version, Version]:
    """The range every request negotiates against (see `microversions.advertised`)."""
    return await microversions.advertised(request, COMPUTE)


async def negotiated(request: Request) -> Version:
    """The request's microversion within the advertised range (400/406 otherwise),
    negotiated once per request; every answer then echoes it."""
    return await microversions.negotiated(request, COMPUTE)


def _v20(request: Request) -> dict[str, Any]:
    href = str(request.base_url).rstrip("/") + "/compute/v2/"
    return {
        "id": "v2.0",
        "status": "DEPRECATED",
        "version": "",
        "min_version": "",
        "updated": V20_UPDATED,
        "links": [{"rel": "self", "href": href}],
    }


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


def _detailed(doc: dict[str, Any], media_version: str) -> dict[str, Any]:
    """A version's own document: its list entry with Nova's `describedby` link and media
    type."""
    doc["links"].append(dict(DESCRIBED_BY))
    doc["media-types"] = [
        {
            "base": "application/json",
            "type": f"application/vnd.openstack.compute+json;version={media_version}",
        }
    ]
    return {"version": doc}


async def root(request: Request) -> Response:
    """GET /compute/: v2.0 then v2.1, in Nova's order (clients and tempest look at the
    first)."""
    low, high = await advertised(request)
    return JSONResponse({"versions": [_v20(request), _v21(request, low, high)]})


async def v20(request: Request) -> Response:
    """GET /compute/v2/: the deprecated v2.0's document, as Nova shows it."""
    return JSONResponse(_detailed(_v20(request), "2"))


async def v21(request: Request) -> Response:
    low, high = await advertised(request)
    return JSONResponse(_detailed(_v21(request, low, high), "2.1"))


async def not_served_yet(request: Request) -> Response:
    await negotiated(request)  # 400/406 come first
    path = "/" + request.path_params["path"]
    if "" in path[1:].split("/"):
        # an empty segment (`/os-simple-tenant-usage/`: an empty id) names nothing Nova
        # routes: its bare 404
        raise ComputeError(404, "The resource could not be found.")
    raise ComputeError(
        501, f"Cascade does not serve {request.method} {path} of the Compute API yet."
    )

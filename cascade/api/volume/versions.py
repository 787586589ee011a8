"""Block Storage version documents.

- GET /volume/ lists the API versions (300, no token needed, as Cinder): only v3;
- GET /volume/v3/ shows the same list (200, with a token), with the range Cascade
  advertises: what it implements and every enabled pod's Cinder supports.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cascade.api.volume.common import advertised, negotiated, reply

UPDATED = "2023-08-31T00:00:00Z"  # Cinder 29's date for v3


async def _document(request: Request) -> dict[str, Any]:
    low, high = await advertised(request)
    href = str(request.base_url).rstrip("/") + "/volume/v3/"
    return {
        "versions": [
            {
                "id": "v3.0",
                "status": "CURRENT",
                "version": str(high),
                "min_version": str(low),
                "updated": UPDATED,
                "links": [
                    {
                        "rel": "describedby",
                        "type": "text/html",
                        "href": "https://docs.openstack.org/",
                    },
                    {"rel": "self", "href": href},
                ],
                "media-types": [
                    {
                        "base": "application/json",
                        "type": "application/vnd.openstack.volume+json;version=3",
                    }
                ],
            }
        ]
    }


async def root(request: Request) -> Response:
    return JSONResponse(await _document(request), status_code=300)


async def v3(request: Request) -> Response:
    await negotiated(request)
    return reply(await _document(request))

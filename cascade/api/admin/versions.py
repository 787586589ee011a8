"""GET / : the admin API's version document (no token needed)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response


async def root(request: Request) -> Response:
    base = str(request.base_url).rstrip("/")
    return JSONResponse(
        {
            "versions": [
                {
                    "id": "v1",
                    "status": "CURRENT",
                    "links": [{"rel": "self", "href": f"{base}/v1/"}],
                }
            ]
        }
    )

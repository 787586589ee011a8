"""The Image API's version documents, Glance's own with their links onto the top.

- GET /image and /image/ (Glance's `/`: 300 Multiple Choices) and GET /image/versions
  (Glance's `/versions`: 200) list Glance's API versions, no token needed, as Glance
  answers them, each `href` rewritten from Glance's host to `<cascade url>/image/...`;
- Glance unreachable or not configured: 503 in Glance's format. An answer that is not
  JSON is relayed as it is.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.boundary import dumps
from cascade.api.image.links import rewrite_hrefs
from cascade.api.image.proxy import glance_of, relay, send, top_root


async def _document(request: Request, path: str) -> Response:
    answer = await send(request, path)
    if isinstance(answer, Response):
        return answer
    media_type = answer.headers.get("content-type", "")
    if "json" not in media_type:
        return relay(request, answer)
    try:
        body = await answer.aread()  # a few kB: Glance's list of versions
    finally:
        await answer.aclose()
    try:
        document = json.loads(body)
    except ValueError:
        return Response(body, answer.status_code, media_type=media_type)
    rewritten = rewrite_hrefs(document, glance_of(request).root, top_root(request))
    return Response(dumps(rewritten), answer.status_code, media_type="application/json")


async def root(request: Request) -> Response:
    """GET /image, /image/: Glance's `/` (300 Multiple Choices), links onto the top."""
    return await _document(request, "/")


async def versions(request: Request) -> Response:
    """GET /image/versions: Glance's `/versions` (200), links onto the top."""
    return await _document(request, "/versions")

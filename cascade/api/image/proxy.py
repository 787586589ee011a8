"""Every request under `/image/...` forwarded to the top's Glance, its answer relayed.

Nothing is held whole in memory: the client's body goes to Glance as it arrives (an
image upload of any size), Glance's answer comes back as Glance sends it (an image
download). The status, headers and body are Glance's own, errors included; only what
the top must change is: links onto the top (`Location`), hop-by-hop headers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from urllib.parse import quote

import httpx
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from cascade.api.image import headers, hooks
from cascade.api.image.errors import refusal
from cascade.api.image.glance import Glance
from cascade.api.image.links import to_top

LOG = logging.getLogger(__name__)

PREFIX = "/image"
# Glance's path of one image (`v2/images/{image_id}`), as the route's `path` holds it
_IMAGE = re.compile(r"v2/images/(?P<image_id>[^/]+)")


class Relayed(StreamingResponse):
    """Glance's answer `upstream` relayed as it arrives, with the headers `raw`; the
    upstream answer is closed when the relay ends, however it ends (all sent, the client
    gone, the task cancelled), so its connection goes back to the pool."""

    def __init__(self, upstream: httpx.Response, raw: headers.Raw) -> None:
        super().__init__(_body(upstream), upstream.status_code)
        self.raw_headers = raw
        self.upstream = upstream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.upstream.aclose()


async def _body(upstream: httpx.Response) -> AsyncIterator[bytes]:
    """The body as Glance sent it, undecoded: its `Content-Encoding` and `Content-Length`
    go with it. A body read already (by a transport that answers whole, as a test's fake
    Glance) is its content."""
    if upstream.is_stream_consumed:
        yield upstream.content
        return
    async for chunk in upstream.aiter_raw():
        yield chunk


def glance_of(request: Request) -> Glance:
    glance: Glance = request.app.state.glance
    return glance


def top_root(request: Request) -> str:
    """Where Glance's root is at the top: `<cascade url>/image`."""
    return str(request.base_url).rstrip("/") + PREFIX


def below_prefix(request: Request) -> str:
    """The request's path after `/image`, percent-encoded as the client sent it (an image
    tag or a metadefs name may hold anything a URL can)."""
    raw: bytes | None = request.scope.get("raw_path")
    path = raw.decode("latin-1") if raw else quote(request.scope["path"])
    return path[len(PREFIX) :]


def request_id(request: Request) -> str:
    """The id Glance logs the call under: the global request id, else the request's."""
    state = request.scope.get("state", {})
    return str(state.get("global_request_id") or state.get("request_id", ""))


def unreachable(request: Request, exc: httpx.TransportError) -> Response:
    LOG.warning("Glance unreachable in %s: %r", request_id(request), exc)
    why = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return refusal(503, f"The Image service is unavailable: Glance cannot be reached ({why}).")


def not_configured() -> Response:
    return refusal(503, "The Image service is unavailable: the top has no Glance configured.")


async def send(request: Request, path: str) -> httpx.Response | Response:
    """`request` sent to Glance's `path` (from `/`), its body streamed from the client;
    Glance's answer with its body unread, or the 503 to answer when Glance is not
    configured or cannot be reached."""
    glance = glance_of(request)
    if not glance.configured:
        return not_configured()
    raw = list(request.headers.raw)
    streamed = headers.has_body(raw)
    content: AsyncIterator[bytes] | None = request.stream() if streamed else None
    outgoing = glance.request(
        request.method,
        glance.url(path, request.scope.get("query_string", b"")),
        headers=headers.outbound(raw, request_id(request), streamed),
        content=content,
    )
    try:
        return await glance.client.send(outgoing, stream=True)
    except httpx.TransportError as exc:
        return unreachable(request, exc)
    except ClientDisconnect:
        # the client went away mid-upload: nobody reads this answer, Glance has dropped
        # the partial data with the connection
        LOG.info("client gone mid-body in %s", request_id(request))
        return refusal(400, "The client went away before its request body was received.")


def relay(request: Request, answer: httpx.Response) -> Relayed:
    """Glance's `answer` relayed to the client: its status, headers (`headers.inbound`:
    a `Location` onto the top) and body as it comes."""
    glance_root, root = glance_of(request).root, top_root(request)
    raw = headers.inbound(answer.headers.raw, lambda href: to_top(href, glance_root, root))
    return Relayed(answer, raw)


async def forward(request: Request) -> Response:
    """Any method on `/image/{path}`: sent to `<glance_url>/{path}?{query}` with the
    client's headers (`headers.outbound`) and body, and Glance's answer relayed: its
    status, its headers (`headers.inbound`: a `Location` onto the top) and its body, as
    they come. 503 in Glance's format when Glance is not configured or cannot be
    reached. A 204 to `DELETE /v2/images/{id}` calls `hooks.image_deleted` first."""
    answer = await send(request, below_prefix(request))
    if isinstance(answer, Response):
        return answer
    relayed = relay(request, answer)
    try:
        deleted = _IMAGE.fullmatch(request.path_params.get("path", ""))
        if request.method == "DELETE" and answer.status_code == 204 and deleted:
            await hooks.image_deleted(request, deleted.group("image_id"))
    except BaseException:
        await answer.aclose()  # never relayed: its connection back to the pool
        raise
    return relayed

"""One GET on a connection of its own, closed after the answer: a health probe's wire.

Why not aiohttp, as every other pod call: a connection made and closed for one
request costs aiohttp's connector (happy eyeballs, its pool's bookkeeping, the
session's request layer) about 0.9 ms of CPU, against 0.26 ms here, measured
with probes spread as the health check sends them (333 a second, the rate that
checks 10,000 pods every 30 s). The answer is parsed by httptools, the C parser
uvicorn serves Cascade's own API with (status, headers, a body sized, chunked or
ended by the close).
"""

from __future__ import annotations

import asyncio
import ssl

import httptools
import httpx

MAX_BYTES = 1 << 20  # a version document is a few KiB; a pod's answer beyond this is not
READ_BYTES = 65536
# headers the request line and the connection set here, not the caller's
OWN = frozenset({b"host", b"connection", b"content-length", b"transfer-encoding"})


class _Answer:
    """httptools' callbacks: what the answer says, as it is parsed."""

    def __init__(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = bytearray()
        self.headed = False
        self.complete = False

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.headed = True

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.complete = True


def _head(request: httpx.Request, user_agent: str) -> bytes:
    url = request.url
    lines = [b"GET " + url.raw_path + b" HTTP/1.1", b"Host: " + url.netloc]
    names = set()
    for name, value in request.headers.raw:
        lowered = name.lower()
        names.add(lowered)
        if lowered not in OWN:
            lines.append(name + b": " + value)
    if b"user-agent" not in names:
        lines.append(b"User-Agent: " + user_agent.encode())
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def get(request: httpx.Request, tls: ssl.SSLContext, user_agent: str) -> httpx.Response:
    """The body-less GET `request` on a new connection, closed after the answer. Its
    timeouts are the request's httpx ones (`connect`; `read` for each read). Errors
    are httpx's: `ConnectError`/`ConnectTimeout` (nothing was sent), `ReadError`/
    `ReadTimeout` (it was)."""
    url = request.url
    secure = url.scheme == "https"
    host = url.host
    port = url.port or (443 if secure else 80)
    limits = request.extensions.get("timeout", {})
    try:
        async with asyncio.timeout(limits.get("connect")):
            reader, writer = await asyncio.open_connection(
                host, port, ssl=tls if secure else None, server_hostname=host if secure else None
            )
    except TimeoutError as exc:
        message = f"connecting to {host}:{port} timed out"
        raise httpx.ConnectTimeout(message, request=request) from exc
    except OSError as exc:
        raise httpx.ConnectError(repr(exc), request=request) from exc
    answer = _Answer()
    parser = httptools.HttpResponseParser(answer)
    try:
        writer.write(_head(request, str(request.headers.get("user-agent", user_agent))))
        while not answer.complete:
            async with asyncio.timeout(limits.get("read")):
                data = await reader.read(READ_BYTES)
            if not data:
                if answer.headed:
                    break  # a body that ends with the connection
                raise httpx.RemoteProtocolError("closed before answering", request=request)
            parser.feed_data(data)
            if len(answer.body) > MAX_BYTES:
                raise httpx.ReadError(f"answer over {MAX_BYTES} bytes", request=request)
        status = parser.get_status_code()
    except TimeoutError as exc:
        raise httpx.ReadTimeout(f"no answer from {host}:{port} in time", request=request) from exc
    except (OSError, httptools.HttpParserError) as exc:
        raise httpx.ReadError(repr(exc), request=request) from exc
    finally:
        writer.close()
    content = bytes(answer.body)
    return httpx.Response(status, headers=answer.headers, content=content, request=request)

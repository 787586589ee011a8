"""HTTP/1.1 to the pods over asyncio streams, answers parsed by httptools: kept-alive
connections in a pool (`Pool`), and one GET on a connection of its own (`once`, a
health probe's wire).

Why not aiohttp, which every pod call went through before: its request layer and
connector cost a pod GET about 0.25 ms of CPU of the 0.33 ms the pod client spent on
it; writing the request here and parsing the answer with httptools (the C parser
uvicorn serves Cascade's own API with) costs about 0.08 ms (measured against the stub
pods, 32 calls in flight, uvloop). A merged list over 1,000 pods makes 1,000 calls,
and a proxied GET one, so that is a large part of either. A connection made and closed
for one request cost aiohttp's connector 0.9 ms against 0.26 ms here. What this wire
does not do (proxies, which `transport` leaves to aiohttp) it need not: pod calls send
no cookies and follow no redirect, and ask for no compression.

Errors are httpx's: `ConnectError`/`ConnectTimeout` (nothing was sent),
`ReadError`/`ReadTimeout`/`RemoteProtocolError` (it may have been). A kept-alive
connection the pod closed meanwhile fails the call as a `ReadError` (the pod client
sends a read once more, as it would have with aiohttp).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable
from dataclasses import dataclass

import httptools
import httpx

# seconds an idle connection is kept: httpx's default expiry, which pod calls had before
KEEPALIVE_SECONDS = 5.0
PROBE_MAX_BYTES = 1 << 20  # a version document is a few KiB; a probe's answer beyond this is not
READ_BYTES = 65536
# headers the request line and the connection set here, not the caller's
OWN = frozenset({b"host", b"connection", b"content-length", b"transfer-encoding"})
# methods whose requests carry no body (and so no length) unless given one
BODILESS = frozenset({b"GET", b"HEAD", b"DELETE", b"OPTIONS"})

Key = tuple[bool, str, int]  # https?, host, port


class _Answer:
    """httptools' callbacks: what the answer says, as it is parsed."""

    def __init__(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = bytearray()
        self.headed = False
        self.complete = False
        self.keep_alive = False
        self.parser = httptools.HttpResponseParser(self)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.headed = True

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.complete = True
        # asked here: once the message is over, the parser has forgotten it
        self.keep_alive = self.parser.should_keep_alive()

    def ends_at_close(self) -> bool:
        """Whether the body is the rest of the connection (neither sized nor chunked)."""
        return self.headed and not any(
            name.lower() in (b"content-length", b"transfer-encoding") for name, _ in self.headers
        )


def head(
    method: bytes,
    target: bytes,
    netloc: bytes,
    headers: Iterable[tuple[bytes, bytes]],
    user_agent: bytes,
    body: bytes,
    close: bool,
) -> bytes:
    """The request line and headers: the caller's (but those the connection sets: OWN),
    Host, a User-Agent unless given, the body's length when there is one or the method
    has one, and `Connection: close` for a one-off."""
    lines = [method + b" " + target + b" HTTP/1.1", b"Host: " + netloc]
    named_agent = False
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"user-agent":
            named_agent = True
        if lowered not in OWN:
            lines.append(name + b": " + value)
    if not named_agent:
        lines.append(b"User-Agent: " + user_agent)
    if body or method not in BODILESS:
        lines.append(b"Content-Length: %d" % len(body))
    if close:
        lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _key(url: httpx.URL) -> Key:
    secure = url.scheme == "https"
    return secure, url.host, url.port or (443 if secure else 80)


async def _connect(
    key: Key, tls: ssl.SSLContext, timeout: float | None, request: httpx.Request | None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    secure, host, port = key
    try:
        async with asyncio.timeout(timeout):
            return await asyncio.open_connection(
                host, port, ssl=tls if secure else None, server_hostname=host if secure else None
            )
    except TimeoutError as exc:
        message = f"connecting to {host}:{port} timed out"
        raise httpx.ConnectTimeout(message, request=request) from exc
    except OSError as exc:
        raise httpx.ConnectError(repr(exc), request=request) from exc


@dataclass(frozen=True, slots=True)
class Call:
    """A request as it goes on the wire: where (`key`), its bytes, and what the answer
    depends on. `request` is the httpx request it was made from (None for a call
    written without one, `transport.PodTransport.prepare`): errors name it."""

    key: Key
    data: bytes
    method: str
    connect_timeout: float | None
    read_timeout: float | None
    close: bool = False
    request: httpx.Request | None = None


def call_of(request: httpx.Request, body: bytes, user_agent: str, close: bool) -> Call:
    """`request` (its body read already) as a Call, with its httpx timeouts."""
    limits = request.extensions.get("timeout", {})
    url = request.url
    method = request.method.encode("ascii")
    agent = user_agent.encode()
    data = head(method, url.raw_path, url.netloc, request.headers.raw, agent, body, close)
    data += body
    return Call(
        _key(request.url),
        data,
        request.method,
        limits.get("connect"),
        limits.get("read"),
        close,
        request,
    )


@dataclass
class Read:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    reusable: bool  # the connection may carry another request

    def response(self, request: httpx.Request | None) -> httpx.Response:
        return httpx.Response(self.status, headers=self.headers, content=self.body, request=request)


async def _exchange(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    call: Call,
    max_bytes: int | None = None,
) -> Read:
    """The call's bytes written, the answer read. A HEAD's answer ends with its headers
    (the connection is not reused then: what follows is not parsed)."""
    request = call.request
    answer = _Answer()
    parser = answer.parser
    head_only = call.method == "HEAD"
    try:
        writer.write(call.data)
        if len(call.data) > READ_BYTES:
            async with asyncio.timeout(call.read_timeout):
                await writer.drain()
        while not (answer.complete or (head_only and answer.headed)):
            async with asyncio.timeout(call.read_timeout):
                chunk = await reader.read(READ_BYTES)
            if not chunk:
                if answer.ends_at_close():
                    break
                raise httpx.ReadError("the connection closed before an answer", request=request)
            parser.feed_data(chunk)
            if max_bytes is not None and len(answer.body) > max_bytes:
                raise httpx.ReadError(f"answer over {max_bytes} bytes", request=request)
        status = parser.get_status_code()
        reusable = answer.complete and not head_only and answer.keep_alive
    except TimeoutError as exc:
        _, host, port = call.key
        raise httpx.ReadTimeout(f"no answer from {host}:{port} in time", request=request) from exc
    except httptools.HttpParserError as exc:
        raise httpx.RemoteProtocolError(repr(exc), request=request) from exc
    except OSError as exc:
        raise httpx.ReadError(repr(exc), request=request) from exc
    return Read(status, answer.headers, bytes(answer.body), reusable)


async def once(request: httpx.Request, tls: ssl.SSLContext, user_agent: str) -> httpx.Response:
    """The body-less GET `request` on a new connection, closed after the answer (at most
    PROBE_MAX_BYTES). Its timeouts are the request's httpx ones (`connect`; `read` for
    each read)."""
    call = call_of(request, b"", user_agent, close=True)
    reader, writer = await _connect(call.key, tls, call.connect_timeout, request)
    try:
        read = await _exchange(reader, writer, call, PROBE_MAX_BYTES)
    finally:
        writer.close()
    return read.response(request)


@dataclass
class _Idle:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    since: float


class Pool:
    """Kept-alive connections per pod host, for any number of hosts: a call takes an
    idle one (or opens one), and gives it back when the answer allows. Connections
    idle for KEEPALIVE_SECONDS are closed (a pod's server closes idle ones itself after
    a few seconds), so 10,000 pods cost no socket once a merged list is over. How many
    calls a pod gets at once is the pod client's own limit, not the pool's."""

    def __init__(self, tls: ssl.SSLContext) -> None:
        self._tls = tls
        self._idle: dict[Key, list[_Idle]] = {}
        self._sweep: asyncio.TimerHandle | None = None

    def _take(self, key: Key, now: float) -> _Idle | None:
        """The most recently used idle connection still open and young enough."""
        kept = self._idle.get(key)
        while kept:
            conn = kept.pop()
            if (
                now - conn.since < KEEPALIVE_SECONDS
                and not conn.reader.at_eof()
                and not conn.writer.is_closing()
            ):
                return conn
            conn.writer.close()
        return None

    def _give_back(self, key: Key, conn: _Idle) -> None:
        self._idle.setdefault(key, []).append(conn)
        if self._sweep is None:
            loop = asyncio.get_running_loop()
            self._sweep = loop.call_later(KEEPALIVE_SECONDS, self._expire)

    def _expire(self) -> None:
        """Idle connections past KEEPALIVE_SECONDS closed; again later while any is left."""
        self._sweep = None
        now = asyncio.get_running_loop().time()
        for key in list(self._idle):
            kept = self._idle[key]
            young = [c for c in kept if now - c.since < KEEPALIVE_SECONDS]
            for conn in kept:
                if now - conn.since >= KEEPALIVE_SECONDS:
                    conn.writer.close()
            if young:
                self._idle[key] = young
            else:
                del self._idle[key]
        if self._idle:
            self._sweep = asyncio.get_running_loop().call_later(KEEPALIVE_SECONDS / 2, self._expire)

    def idle_connections(self) -> int:
        return sum(len(kept) for kept in self._idle.values())

    async def send(self, call: Call) -> Read:
        """`call` over a kept-alive connection (one closed after the answer for
        `call.close`)."""
        loop = asyncio.get_running_loop()
        conn = self._take(call.key, loop.time())
        if conn is None:
            reader, writer = await _connect(call.key, self._tls, call.connect_timeout, call.request)
        else:
            reader, writer = conn.reader, conn.writer
        try:
            read = await _exchange(reader, writer, call)
        except BaseException:  # cancelled too: a half-read answer leaves it unusable
            writer.close()
            raise
        if read.reusable and not call.close:
            self._give_back(call.key, _Idle(reader, writer, loop.time()))
        else:
            writer.close()
        return read

    async def aclose(self) -> None:
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        for kept in self._idle.values():
            for conn in kept:
                conn.writer.close()
        self._idle.clear()

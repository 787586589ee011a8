"""The wire under pod calls (`cascade.pods.transport`, `cascade.pods.wire`), against a real socket
on 127.0.0.1: what is sent and read back, and how aiohttp's failures reach the pod
client as httpx's (whether the request can have reached the pod decides the breaker's
and a create's next step)."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from cascade.conf import PodsSection
from cascade.pods.client import PodClient, PodUnavailable, tls_context
from cascade.pods.transport import PodTransport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes]:
    """The request line, headers (lower-cased names) and body of one HTTP/1.1 request."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    headers = {}
    for line in head[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return head[0], headers, body


def answer(status: int, body: bytes, extra: str = "") -> bytes:
    return (
        f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{extra}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def serve(handler: Handler) -> AsyncIterator[str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()


@pytest.fixture
async def transport() -> AsyncIterator[PodTransport]:
    made = PodTransport(tls_context())
    yield made
    await made.aclose()


def request(method: str, url: str, read: float = 5.0, **kwargs: object) -> httpx.Request:
    timeout = httpx.Timeout(read, connect=2.0).as_dict()
    return httpx.Request(method, url, extensions={"timeout": timeout}, **kwargs)  # type: ignore[arg-type]


async def test_a_call_sends_what_httpx_built_and_reads_the_answer(
    transport: PodTransport,
) -> None:
    """Method, encoded path and query, headers and body reach the pod as httpx built them;
    status, headers and body come back; the connection is kept for the next call."""
    seen: list[tuple[str, dict[str, str], bytes]] = []
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while True:
            try:
                seen.append(await read_request(reader))
            except asyncio.IncompleteReadError:
                break
            writer.write(answer(202, b'{"ok": true}', "X-Compute-Request-Id: req-1\r\n"))
            await writer.drain()
        writer.close()

    async for url in serve(handler):
        sent = request(
            "POST",
            f"{url}/v2.1/servers/a%2Fb?name=x%20y&tag=1&tag=2",
            headers={"X-Auth-Token": "tok", "OpenStack-API-Version": "compute 2.79"},
            json={"server": {"name": "é"}},
        )
        resp = await transport.handle_async_request(sent)
        again = await transport.handle_async_request(request("GET", f"{url}/"))
    assert resp.status_code == 202 and again.status_code == 202
    assert resp.json() == {"ok": True}
    assert resp.headers["x-compute-request-id"] == "req-1"
    line, headers, body = seen[0]
    assert line == "POST /v2.1/servers/a%2Fb?name=x%20y&tag=1&tag=2 HTTP/1.1"
    assert headers["x-auth-token"] == "tok"
    assert headers["openstack-api-version"] == "compute 2.79"
    assert headers["user-agent"] == "cascade"
    assert "accept-encoding" not in headers  # no compression asked of a pod
    assert json.loads(body) == {"server": {"name": "é"}}
    assert connections == 1


async def test_a_compressed_answer_is_decoded_once(transport: PodTransport) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(200, gzip.compress(b'{"servers": []}'), "Content-Encoding: gzip\r\n"))
        await writer.drain()
        writer.close()

    async for url in serve(handler):
        resp = await transport.handle_async_request(request("GET", f"{url}/servers"))
    assert resp.json() == {"servers": []}


async def test_no_listener_is_a_connect_error(transport: PodTransport) -> None:
    """Nothing was sent: the pod cannot have acted on it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(httpx.ConnectError):
        await transport.handle_async_request(request("GET", f"http://127.0.0.1:{port}/"))


async def test_a_pod_that_never_answers_is_a_read_timeout(transport: PodTransport) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    async for url in serve(handler):
        with pytest.raises(httpx.ReadTimeout):
            await transport.handle_async_request(request("GET", f"{url}/", read=0.2))


async def test_a_connection_dropped_mid_answer_is_a_read_error(
    transport: PodTransport,
) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{")
        await writer.drain()
        writer.close()

    async for url in serve(handler):
        with pytest.raises(httpx.ReadError):
            await transport.handle_async_request(request("GET", f"{url}/"))


async def test_a_pod_client_over_it_retries_a_read_once_and_counts_the_failure() -> None:
    """A GET whose connection drops is sent once more (a pooled connection the pod had
    closed); when that fails too, the pod is unavailable and its breaker counts it."""
    calls = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal calls
        await read_request(reader)
        calls += 1
        writer.close()

    client = PodClient("pod1", "compute", PodsSection())
    try:
        async for url in serve(handler):
            with pytest.raises(PodUnavailable, match="unreachable"):
                await client.request("GET", f"{url}/servers")
    finally:
        await client.aclose()
    assert calls == 2
    assert client.breaker.failures == 1


async def test_a_probe_closes_its_connection() -> None:
    """The health probe asks `Connection: close`: no idle socket per pod is left after it."""
    closed = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _, headers, _ = await read_request(reader)
        assert headers["connection"] == "close"
        writer.write(answer(200, b"{}"))
        await writer.drain()
        if not await reader.read():  # the client closed its end
            closed.set()
        writer.close()

    client = PodClient("pod1", "compute", PodsSection())
    try:
        async for url in serve(handler):
            assert (await client.probe(f"{url}/", 2.0)).status_code == 200
            await asyncio.wait_for(closed.wait(), 2.0)
    finally:
        await client.aclose()


async def test_calls_go_through_the_proxy_the_environment_names_unless_no_proxy_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HTTP_PROXY: the call goes to the proxy (with the pod's absolute URL); a host in
    NO_PROXY goes straight. Read from the environment once, not per call."""
    from cascade.pods import transport as module

    asked: list[str] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line, _, _ = await read_request(reader)
        asked.append(line)
        writer.write(answer(200, b"{}", "Connection: close\r\n"))
        await writer.drain()
        writer.close()

    async def pod(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(204, b"", "Connection: close\r\n"))
        await writer.drain()
        writer.close()

    for name in ("http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    async for proxy_url in serve(proxy):
        async for pod_url in serve(pod):
            monkeypatch.setenv("HTTP_PROXY", proxy_url)
            monkeypatch.setenv("NO_PROXY", "localhost")
            for cached in (module._environment_proxies, module.proxy_for):
                cached.cache_clear()
            made = PodTransport(tls_context())
            try:
                resp = await made.handle_async_request(request("GET", f"{pod_url}/v2.1/x"))
                assert resp.status_code == 200 and asked == [f"GET {pod_url}/v2.1/x HTTP/1.1"]
                straight = pod_url.replace("127.0.0.1", "localhost")
                resp = await made.handle_async_request(request("GET", f"{straight}/v2.1/y"))
                assert resp.status_code == 204 and len(asked) == 1
            finally:
                await made.aclose()
                for cached in (module._environment_proxies, module.proxy_for):
                    cached.cache_clear()


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 300 X\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
        b'\r\n6\r\n{"a": \r\n2\r\n1}\r\n0\r\n\r\n',
        b'HTTP/1.1 300 X\r\nContent-Type: application/json\r\n\r\n{"a": 1}',  # ends at close
    ],
)
async def test_a_probe_reads_a_chunked_answer_or_one_the_close_ends(
    transport: PodTransport, reply: bytes
) -> None:
    """A probe's own wire (`wire.once`): the request line, Host, the caller's headers
    and `Connection: close` are sent; a chunked body, or one ended by the close, is read."""
    seen: list[tuple[str, dict[str, str], bytes]] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await read_request(reader))
        writer.write(reply)
        await writer.drain()
        writer.close()

    async for url in serve(handler):
        probe = request("GET", f"{url}/v2.1/?x=%2F", headers={"X-Test": "1", "Connection": "close"})
        resp = await transport.handle_async_request(probe)
        assert resp.status_code == 300 and resp.json() == {"a": 1}
        line, headers, _ = seen[0]
        assert line == "GET /v2.1/?x=%2F HTTP/1.1"
        assert headers["host"] == url.removeprefix("http://")
        assert headers["x-test"] == "1" and headers["connection"] == "close"
        assert headers["user-agent"] == "cascade"


async def test_a_probe_that_gets_no_answer_or_no_connection_fails_as_httpx_would(
    transport: PodTransport,
) -> None:
    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    async for url in serve(hang):
        with pytest.raises(httpx.ReadTimeout):
            probe = request("GET", f"{url}/", read=0.2, headers={"Connection": "close"})
            await transport.handle_async_request(probe)
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(httpx.ConnectError):
        probe = request("GET", f"http://127.0.0.1:{port}/", headers={"Connection": "close"})
        await transport.handle_async_request(probe)


async def test_idle_connections_are_closed_after_the_keepalive(
    monkeypatch: pytest.MonkeyPatch, transport: PodTransport
) -> None:
    """A kept-alive connection serves the next call; once idle past KEEPALIVE_SECONDS it
    is closed (the pod sees its end), so many pods leave no socket behind."""
    from cascade.pods import wire

    monkeypatch.setattr(wire, "KEEPALIVE_SECONDS", 0.2)
    ended = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                await read_request(reader)
            except asyncio.IncompleteReadError:
                ended.set()
                break
            writer.write(answer(200, b"{}"))
            await writer.drain()

    async for url in serve(handler):
        await transport.handle_async_request(request("GET", f"{url}/a"))
        assert transport.idle_connections() == 1
        await asyncio.wait_for(ended.wait(), 2.0)
        assert transport.idle_connections() == 0


async def test_a_connection_the_pod_closed_is_not_used_again(transport: PodTransport) -> None:
    """The pod closes after each answer without saying so: the next call, once the close
    has arrived, goes over a new connection."""
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await read_request(reader)
        writer.write(answer(200, b"{}"))
        await writer.drain()
        writer.close()

    async for url in serve(handler):
        for _ in range(3):
            resp = await transport.handle_async_request(request("GET", f"{url}/a"))
            assert resp.status_code == 200
            await asyncio.sleep(0.05)
    assert connections == 3


@pytest.mark.parametrize(
    ("method", "reply", "body"),
    [
        ("HEAD", b"HTTP/1.1 200 X\r\nContent-Length: 10\r\n\r\n", b""),
        (
            "GET",
            b"HTTP/1.1 200 X\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
            b"{}",
        ),
        ("GET", b"HTTP/1.1 200 X\r\n\r\n{}", b"{}"),  # the body ends with the connection
        ("DELETE", b"HTTP/1.1 204 X\r\n\r\n", b""),
    ],
)
async def test_answers_without_a_sized_body(
    transport: PodTransport, method: str, reply: bytes, body: bytes
) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(reply)
        await writer.drain()
        if b"Length" not in reply and b"chunked" not in reply and b"204" not in reply:
            writer.close()
        else:
            await reader.read()  # kept open: the answer must end without the close

    async for url in serve(handler):
        resp = await asyncio.wait_for(
            transport.handle_async_request(request(method, f"{url}/a")), 2.0
        )
    assert resp.status_code in (200, 204) and resp.content == body


class _ThroughHttpx(httpx.AsyncBaseTransport):
    """The same wire, reached only through httpx requests (as any other transport is)."""

    def __init__(self, inner: PodTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.inner.handle_async_request(request)


async def test_a_call_written_straight_reaches_the_pod_as_httpx_would_send_it() -> None:
    """Body-less calls with plain URLs skip building an httpx request
    (`PodTransport.prepare`): the pod reads the same method, path, query and headers as
    from the httpx-built request; URLs with anything to escape go through httpx."""
    from urllib.parse import parse_qsl, unquote, urlsplit

    seen: list[tuple[str, str, list[tuple[str, str]], dict[str, str]]] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                line, headers, _ = await read_request(reader)
            except asyncio.IncompleteReadError:
                break
            method, target, _ = line.split(" ")
            parts = urlsplit(target)
            query = sorted(parse_qsl(parts.query, keep_blank_values=True))
            seen.append((method, unquote(parts.path), query, headers))
            writer.write(answer(200, b'{"ok": 1}'))
            await writer.drain()
        writer.close()

    straight = PodClient("pod1", "compute", PodsSection())
    own = PodTransport(tls_context())
    through = PodClient("pod1", "compute", PodsSection(), _ThroughHttpx(own))
    headers = {"X-Auth-Token": "tok", "OpenStack-API-Version": "compute 2.79"}
    params = [("sort_key", "created_at"), ("limit", 5), ("name", "a b+c/é&=")]
    try:
        async for url in serve(handler):
            calls = [
                ("GET", f"{url}/v2.1/servers/detail", params),
                ("DELETE", f"{url}/v2.1/servers/abc-1", None),
                ("GET", f"{url}/v2.1/servers/a%2Fb", None),
                ("GET", f"{url}/v2.1/servers/x y", None),
            ]
            for method, target, query in calls:
                for client in (straight, through):
                    resp = await client.request(method, target, headers=headers, params=query)
                    assert resp.status_code == 200 and resp.json() == {"ok": 1}
            assert straight._prepared("GET", calls[0][1], None, {"params": params}) is not None
            assert straight._prepared("GET", calls[2][1], None, {}) is None  # an escape
            assert straight._prepared("GET", calls[3][1], None, {}) is None  # a space
            assert straight._prepared("POST", calls[1][1], None, {"json": {}}) is None
    finally:
        await straight.aclose()
        await own.aclose()
    assert len(seen) == 8
    for sent, built in zip(seen[::2], seen[1::2], strict=True):
        assert sent == built
    assert seen[0][2] == sorted([("sort_key", "created_at"), ("limit", "5"), ("name", "a b+c/é&=")])
    assert seen[0][3]["user-agent"] == "cascade" and seen[0][3]["x-auth-token"] == "tok"


async def test_a_header_that_cannot_be_sent_is_refused_before_the_pod() -> None:
    from cascade.pods.client import Unsendable

    client = PodClient("pod1", "compute", PodsSection())
    try:
        with pytest.raises(Unsendable):
            await client.request("GET", "http://127.0.0.1:9/v2.1/", headers={"X-Name": "é"})
    finally:
        await client.aclose()

"""The aiohttp wire under pod calls (`cascade.pods.transport`), against a real socket
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
from cascade.pods.transport import AiohttpTransport

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
async def transport() -> AsyncIterator[AiohttpTransport]:
    made = AiohttpTransport(tls_context())
    yield made
    await made.aclose()


def request(method: str, url: str, read: float = 5.0, **kwargs: object) -> httpx.Request:
    timeout = httpx.Timeout(read, connect=2.0).as_dict()
    return httpx.Request(method, url, extensions={"timeout": timeout}, **kwargs)  # type: ignore[arg-type]


async def test_a_call_sends_what_httpx_built_and_reads_the_answer(
    transport: AiohttpTransport,
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


async def test_a_compressed_answer_is_decoded_once(transport: AiohttpTransport) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(200, gzip.compress(b'{"servers": []}'), "Content-Encoding: gzip\r\n"))
        await writer.drain()
        writer.close()

    async for url in serve(handler):
        resp = await transport.handle_async_request(request("GET", f"{url}/servers"))
    assert resp.json() == {"servers": []}


async def test_no_listener_is_a_connect_error(transport: AiohttpTransport) -> None:
    """Nothing was sent: the pod cannot have acted on it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(httpx.ConnectError):
        await transport.handle_async_request(request("GET", f"http://127.0.0.1:{port}/"))


async def test_a_pod_that_never_answers_is_a_read_timeout(transport: AiohttpTransport) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    async for url in serve(handler):
        with pytest.raises(httpx.ReadTimeout):
            await transport.handle_async_request(request("GET", f"{url}/", read=0.2))


async def test_a_connection_dropped_mid_answer_is_a_read_error(
    transport: AiohttpTransport,
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
            made = AiohttpTransport(tls_context())
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
    transport: AiohttpTransport, reply: bytes
) -> None:
    """A probe's own wire (`pods.oneshot`): the request line, Host, the caller's headers
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
    transport: AiohttpTransport,
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

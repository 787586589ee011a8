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

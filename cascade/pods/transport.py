"""The wire under every pod call, behind httpx's request and response types.

Calls go over `wire`'s kept-alive connections (asyncio streams, httptools), a health
probe (`Connection: close`) over a connection of its own; a call through a proxy
(HTTP(S)_PROXY, NO_PROXY) over aiohttp's, which speaks to proxies. Why not httpx's own
transport: a call through httpx's client and httpcore (h11 parses in pure Python,
and its pool scans every connection whenever a call starts or ends) cost this process
about 2 ms of CPU; through aiohttp 0.55 ms; through `wire` about 0.1 ms (measured
against the stub pods; `docs/benchmarks.md`, "Many pods"). A list over 1,000 pods
makes 1,000 calls, so that is most of its cost. The rest of Cascade keeps httpx's
`Request` and `Response` (and the unit tests their `httpx.MockTransport` pods): only
the bytes on the wire go another way.

One transport serves every pod of the process: idle connections are kept per host and
closed after KEEPALIVE_SECONDS, so 10,000 pods cost no socket once a merged list is
over. How many calls a pod gets at once is the pod client's own limit, not the pool's.
"""

from __future__ import annotations

import functools
import re
import ssl
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import aiohttp
import httpx
from multidict import CIMultiDict
from yarl import URL

from cascade.pods import wire
from cascade.pods.wire import KEEPALIVE_SECONDS

# calls `prepare` writes itself: those without a body
BODILESS = frozenset({"GET", "DELETE"})
# a URL whose every character httpx sends as it is: a host name or address, a port, a
# path of unreserved characters and sub-delimiters (no query, fragment or escape)
PLAIN_URL = re.compile(
    r"(https?)://([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(?::([0-9]{1,5}))?"
    r"(/[A-Za-z0-9\-._~!$&'()*+,;=:@/]*)?"
)
Params = Mapping[str, Any] | Sequence[tuple[str, Any]]

# what aiohttp would add on its own: we ask for no compression (pods sit near the top, and
# compressing costs both ends CPU) and name ourselves in the pods' logs
USER_AGENT = "cascade"


@functools.cache
def _environment_proxies() -> dict[str, str]:
    """The proxies HTTP(S)_PROXY name, read once a process (as httpx's clients did when
    they were made; the environment of a running server does not change)."""
    return urllib.request.getproxies_environment()


@functools.lru_cache(maxsize=65536)
def proxy_for(scheme: str, host: str) -> str | None:
    """The proxy a pod call to `host` goes through (None: straight), as HTTP(S)_PROXY
    and NO_PROXY say. Why not aiohttp's `trust_env`: it reads the environment (and
    ~/.netrc) again for every request, which was 0.4 ms of CPU a call, more than the
    call itself."""
    proxies = _environment_proxies()
    proxy = proxies.get(scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    return proxy


class PodTransport(httpx.AsyncBaseTransport):
    """httpx requests sent over `wire` (or, through a proxy, one aiohttp session made in
    the running loop on first use). Timeouts are the request's httpx ones (`connect`,
    and `read` for each read); errors are httpx's (`ConnectError`/`ConnectTimeout`:
    nothing was sent; `ReadTimeout`, `ReadError`: it may have been)."""

    def __init__(self, tls: ssl.SSLContext) -> None:
        self._tls = tls
        self._pool = wire.Pool(tls)
        # through a proxy: [pooled, one connection a call] (a call that asks `Connection:
        # close`, a health probe, so no idle socket per pod is left after it)
        self._sessions: list[aiohttp.ClientSession | None] = [None, None]

    def _client(self, close: bool) -> aiohttp.ClientSession:
        made = self._sessions[close]
        if made is None or made.closed:
            connector = aiohttp.TCPConnector(
                limit=0,
                limit_per_host=0,
                ssl=self._tls,
                force_close=close,
                keepalive_timeout=None if close else KEEPALIVE_SECONDS,
            )
            made = self._sessions[close] = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,  # httpx's Response decodes what the pod encoded
                cookie_jar=aiohttp.DummyCookieJar(),
                skip_auto_headers=("Accept-Encoding", "User-Agent"),
                trust_env=False,  # HTTP(S)_PROXY and NO_PROXY: `proxy_for`
            )
            # aiohttp sends an idempotent request (PUT and DELETE too) again when its
            # connection drops; the pod client decides what is sent again (reads only,
            # once), as with any transport. No public switch: tests/unit/
            # test_pod_transport.py counts the sends, should the attribute go.
            made._retry_connection = False
        return made

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        close = request.headers.get("connection", "").lower() == "close"
        proxy = proxy_for(request.url.scheme, request.url.host)
        if proxy is None:
            if close and request.method == "GET" and not body:
                return await wire.once(request, self._tls, USER_AGENT)  # a health probe
            call = wire.call_of(request, body, USER_AGENT, close)
            return (await self._pool.send(call)).response(request)
        limits = request.extensions.get("timeout", {})
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=limits.get("connect"), sock_read=limits.get("read")
        )
        headers = CIMultiDict(
            (k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw
        )
        headers.setdefault("User-Agent", USER_AGENT)
        try:
            async with self._client(close).request(
                request.method,
                URL(str(request.url), encoded=True),  # httpx's URL is encoded already
                headers=headers,
                data=body or None,
                timeout=timeout,
                allow_redirects=False,
                proxy=proxy,
            ) as resp:
                content = await resp.read()
                status, raw = resp.status, list(resp.raw_headers)
        except aiohttp.ConnectionTimeoutError as exc:
            raise httpx.ConnectTimeout(repr(exc), request=request) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(repr(exc), request=request) from exc
        except TimeoutError as exc:  # aiohttp's read timeouts are TimeoutErrors too
            raise httpx.ReadTimeout(repr(exc), request=request) from exc
        except aiohttp.InvalidURL as exc:
            raise httpx.InvalidURL(repr(exc)) from exc
        except aiohttp.ClientError as exc:
            raise httpx.ReadError(repr(exc), request=request) from exc
        return httpx.Response(status, headers=raw, content=content, request=request)

    def prepare(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        params: Params | None,
        timeout: httpx.Timeout,
    ) -> wire.Call | None:
        """A body-less call written straight from its parts, without an httpx request:
        building one (its URL parsed, its parameters merged) cost a pod GET 40-60 us of
        CPU, a list over 1,000 pods as much in milliseconds. Only for what needs no
        encoding decision httpx would make differently: a plain URL (no query, no
        percent sign, nothing to escape), parameters of strings and integers (each
        percent-encoded whole), ASCII header values, no proxy. None otherwise: the
        caller builds the httpx request, as for every other call."""
        method = method.upper()
        if method not in BODILESS:
            return None
        found = PLAIN_URL.fullmatch(url)
        if found is None:
            return None
        scheme, host, port, path = found.groups()
        if proxy_for(scheme, host.strip("[]")) is not None:
            return None
        target = path or "/"
        if params:
            pairs = params.items() if isinstance(params, Mapping) else params
            encoded = []
            for name, value in pairs:
                if isinstance(value, bool) or not isinstance(value, str | int):
                    return None  # httpx spells True, None and lists its own way
                encoded.append(f"{quote(name, safe='')}={quote(str(value), safe='')}")
            target += "?" + "&".join(encoded)
        secure = scheme == "https"
        default = 443 if secure else 80
        number = int(port) if port else default
        netloc = host if number == default else f"{host}:{number}"  # as httpx writes it
        try:
            fields = [
                (name.encode("ascii"), value.encode("ascii")) for name, value in headers.items()
            ]
        except UnicodeEncodeError:
            return None  # httpx refuses it: let it say so
        for field, text in fields:
            if field.lower() in wire.OWN or b"\r" in text or b"\n" in text:
                return None  # the connection's own headers, or a value that cannot be sent
        data = wire.head(
            method.encode(),
            target.encode(),
            netloc.encode(),
            fields,
            USER_AGENT.encode(),
            b"",
            False,
        )
        return wire.Call(
            (secure, host.strip("[]"), number), data, method, timeout.connect, timeout.read
        )

    async def send(self, call: wire.Call) -> httpx.Response:
        """A prepared call over a kept-alive connection (its response has no request)."""
        return (await self._pool.send(call)).response(None)

    def idle_connections(self) -> int:
        """Kept-alive connections not in use (not counting a proxy's)."""
        return self._pool.idle_connections()

    async def aclose(self) -> None:
        await self._pool.aclose()
        for k, made in enumerate(self._sessions):
            if made is not None:
                self._sessions[k] = None
                await made.close()

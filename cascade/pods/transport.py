"""The wire under every pod call: aiohttp's connection pool behind httpx's request and
response types.

Why not httpx's own transport: a call through httpx's client and httpcore (h11 parses
in pure Python, and its pool scans every connection whenever a call starts or ends)
costs this process about 2 ms of CPU; the same call through aiohttp's connector and C
parser, wrapped in httpx's types here, about 0.55 ms (measured against the stub pods,
eight calls in flight; `docs/benchmarks.md`, "Many pods"). A list over 1,000 pods makes
1,000 calls, so that is most of its cost. The rest of Cascade keeps httpx's `Request`
and `Response` (and the unit tests their `httpx.MockTransport` pods): only the bytes on
the wire go through aiohttp.

One transport serves every pod of the process: aiohttp keeps idle connections per host
and closes them after KEEPALIVE_SECONDS (a pod's server closes idle ones itself after a
few seconds), so 10,000 pods cost no socket once a merged list is over. How many calls
a pod gets at once is the pod client's own limit, not the pool's.
"""

from __future__ import annotations

import functools
import ssl
import urllib.request

import aiohttp
import httpx
from multidict import CIMultiDict
from yarl import URL

from cascade.pods import oneshot

# seconds an idle connection is kept: httpx's default expiry, which pod calls had before
KEEPALIVE_SECONDS = 5.0
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


class AiohttpTransport(httpx.AsyncBaseTransport):
    """httpx requests sent over one aiohttp session (made in the running loop on first
    use). Timeouts are the request's httpx ones (`connect`, and `read` for each read);
    aiohttp's errors become httpx's (`ConnectError`/`ConnectTimeout`: nothing was sent;
    `ReadTimeout`, `ReadError`: it may have been)."""

    def __init__(self, tls: ssl.SSLContext) -> None:
        self._tls = tls
        # [pooled, one connection a call]: a call that asks `Connection: close` (a health
        # probe) goes over a connection of its own (`oneshot`), or through a proxy over
        # the second session, so no idle socket per pod is left after it (aiohttp keeps a
        # connection unless the pod's answer says close)
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
        if close and request.method == "GET" and not body and proxy is None:
            return await oneshot.get(request, self._tls, USER_AGENT)  # a health probe
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

    async def aclose(self) -> None:
        for k, made in enumerate(self._sessions):
            if made is not None:
                self._sessions[k] = None
                await made.close()

"""The top's own Glance (`[image] glance_url`), where the Image API's requests go."""

from __future__ import annotations

from collections.abc import AsyncIterable
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx

from cascade.conf import ImageSection

# Glance answers a data upload once it has stored the last byte, and a slow store (or a
# large image's checksum) can take a while after the last read: reads and writes may
# each wait minutes, opening a connection may not
TIMEOUT = httpx.Timeout(connect=5.0, read=300.0, write=300.0, pool=10.0)
# every upload or download in flight holds a connection for as long as it lasts; past
# this many at once a request waits `TIMEOUT.pool`, then is answered 503
LIMITS = httpx.Limits(max_connections=500, max_keepalive_connections=50)


class Glance:
    """Glance at `conf.glance_url`, over one httpx client for the process: made on first
    use (in the running loop), closed by `aclose` (the application's lifespan).
    `transport` replaces the network (unit tests put a fake Glance there)."""

    def __init__(
        self, conf: ImageSection, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.root = conf.glance_url.rstrip("/")
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    @property
    def configured(self) -> bool:
        """Whether there is a Glance to forward to (`[image] glance_url` is set)."""
        return bool(self.root)

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            # redirects are Glance's answer to the client, not something to follow here;
            # a cookie Glance might set is the client's, never kept for the next caller
            self._client = httpx.AsyncClient(
                transport=self._transport,
                timeout=TIMEOUT,
                limits=LIMITS,
                follow_redirects=False,
                cookies=CookieJar(DefaultCookiePolicy(allowed_domains=[])),
            )
        return self._client

    def request(
        self,
        method: str,
        url: httpx.URL,
        headers: list[tuple[bytes, bytes]],
        content: AsyncIterable[bytes] | None,
    ) -> httpx.Request:
        """The request to send with exactly `headers` (and the framing httpx writes:
        `Host`, `Content-Length` or chunked): not the client's `build_request`, which
        would add httpx's own `Accept`, `Accept-Encoding` and `User-Agent` where the
        caller sent none (and Glance's answer would then be to something else)."""
        return httpx.Request(
            method, url, headers=headers, content=content, extensions={"timeout": TIMEOUT.as_dict()}
        )

    def url(self, path: str, query: bytes) -> httpx.URL:
        """Glance's URL of `path` (percent-encoded as the client sent it, from `/`) with the
        client's `query` as it came."""
        url = httpx.URL(self.root + path)
        return url.copy_with(query=query) if query else url

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

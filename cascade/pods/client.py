"""One client per pod service, with the limits every pod call goes through.

A concurrency limit and a pace per pod service, timeouts, one retry of idempotent
reads on connection errors, and a circuit breaker. Errors towards the caller are
`PodUnavailable` (unreachable, timed out, or refused by the breaker); a pod's own
HTTP answer, even a 5xx, is returned. The breaker opens on connection failures,
timeouts and 502/503/504, not on 500s.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
import time
from dataclasses import dataclass
from typing import Any, TypedDict
from urllib.parse import urlsplit

import httpx

from cascade import metrics
from cascade.buckets import Limiter, Rate
from cascade.conf import PodsSection
from cascade.pods.breaker import Breaker
from cascade.pods.transport import PodTransport
from cascade.pods.wire import Call

LOG = logging.getLogger(__name__)
BREAKER_REFUSED = "refused by the circuit breaker after repeated failures"


SAFE_TO_RETRY = frozenset({"GET", "HEAD", "OPTIONS"})
# what a call may carry (`_prepared` writes those without a body itself)
CALL_OPTIONS = frozenset({"params", "headers", "json", "content"})
# answers that mean the pod's service (or the proxy in front of it) cannot serve anyone
UNWELL = frozenset({502, 503, 504})


class PodUnavailable(Exception):
    """The pod did not answer. `sent` False: the request never reached it (refused by the
    breaker, no connection made), so it cannot have acted on it; True: it may have (a
    create's caller must then look for what it may have made). `why`, the metrics'
    reason: `unreachable`, `timeout` or `breaker`."""

    def __init__(
        self, pod: str, service: str, reason: str, sent: bool = True, why: str = "unreachable"
    ) -> None:
        super().__init__(f"pod {pod} ({service}) is unavailable: {reason}")
        self.pod = pod
        self.service = service
        self.reason = reason
        self.sent = sent
        self.why = why


CLOSE = {"Connection": "close"}
CALL = "call"  # the class of a pod call in its pacing bucket
# seconds a probe's timeout may run late before the lateness is this process's own
BUSY_LAG = 1.0
# no connection was made: the request never reached the pod
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class Unsendable(ValueError):
    """A call httpx will not build from what the caller sent (a control character in an
    id that became part of the URL, a header value that is not ASCII): the caller's
    input is wrong, not the pod, and nothing was sent."""


def tls_context() -> ssl.SSLContext:
    """The TLS settings every pod client shares: httpx's defaults (certifi's CAs, or
    SSL_CERT_FILE / SSL_CERT_DIR), read once. Each client reading them itself costs about
    28 ms and 0.5 MiB; a client per pod service of 10,000 pods would cost minutes of CPU
    and gigabytes."""
    return httpx.create_ssl_context()


class PodClient:
    """Every call to one pod service: at most `[pods] max_concurrency` at once, paced at
    `[pods] max_rate`, through its breaker, over `transport` (the process's one
    `PodTransport` unless a test gives its own; the client then owns one itself)."""

    def __init__(
        self,
        pod: str,
        service: str,
        conf: PodsSection,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.pod = pod
        self.service = service
        self.breaker = Breaker(conf.breaker_failures, conf.breaker_reset_seconds)
        self._timeout = httpx.Timeout(conf.timeout, connect=conf.connect_timeout)
        self._owned = transport is None
        self._transport = transport if transport is not None else PodTransport(tls_context())
        # the process's own wire: plain calls are written straight to it (`prepare`)
        self._wire = self._transport if isinstance(self._transport, PodTransport) else None
        # our own semaphore rather than a pool's limit: the pool is shared by every pod
        self._slots = asyncio.Semaphore(max(1, conf.max_concurrency))
        self._in_flight = 0
        # `[pods] max_rate`: the pod service's calls paced, bursts of one second's worth
        self._pace = Limiter({CALL: Rate(conf.max_rate, max(conf.max_rate, 1.0))})

    async def aclose(self) -> None:
        if self._owned:
            await self._transport.aclose()

    def _build(
        self,
        method: str,
        url: str,
        *,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> httpx.Request:
        """The call as httpx builds it (`params`, `json`, `content`, `headers`), with the
        client's timeouts (`timeout`: one bound for every phase instead)."""
        limits = self._timeout if timeout is None else httpx.Timeout(timeout)
        return httpx.Request(method, url, extensions={"timeout": limits.as_dict()}, **kwargs)

    async def _exchange(self, request: httpx.Request, auth: httpx.Auth | None) -> httpx.Response:
        """The request sent (again as `auth`'s flow asks: a renewed token after a 401),
        the answer read whole. What httpx's client would do, without the rest of its
        client layer (cookies, redirects, event hooks), which costs a pod call about a
        third of its CPU and which pod calls never use."""
        if auth is None:
            return await self._transport.handle_async_request(request)
        flow = auth.async_auth_flow(request)
        request = await flow.__anext__()
        while True:
            resp = await self._transport.handle_async_request(request)
            try:
                request = await flow.asend(resp)
            except StopAsyncIteration:
                return resp

    def _prepared(
        self, method: str, url: str, auth: httpx.Auth | None, options: dict[str, Any]
    ) -> tuple[PodTransport, Call] | None:
        """The call written straight for the process's wire when it can be (a body-less
        call with the caller's token: `PodTransport.prepare`); None: through httpx."""
        wire = self._wire
        if wire is None or auth is not None or not set(options) <= CALL_OPTIONS:
            return None
        if options.get("json") is not None or options.get("content"):
            return None
        headers = options.get("headers") or {}
        call = wire.prepare(method, url, headers, options.get("params"), self._timeout)
        return None if call is None else (wire, call)

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        if not self.breaker.allow():
            metrics.POD_CALL_ERRORS.labels(self.pod, self.service, "breaker").inc()
            raise PodUnavailable(self.pod, self.service, BREAKER_REFUSED, False, "breaker")
        probe = self.breaker.probing  # this request is the half-open breaker's probe
        attempts = 2 if method.upper() in SAFE_TO_RETRY else 1
        self._in_flight += 1
        in_flight = metrics.POD_CALLS_IN_FLIGHT.labels(self.pod, self.service)
        in_flight.inc()
        started = time.monotonic()
        # the request's line in the log (its ids on it: `cascade.logs`): reads at DEBUG,
        # a list merged over 1,000 pods would write 1,000 lines at INFO
        level = logging.DEBUG if method.upper() in SAFE_TO_RETRY else logging.INFO
        try:
            wait = self._pace.reserve(self.service, CALL)
            if wait:
                await asyncio.sleep(wait)
            resp = await self._send(method, url, probe, attempts, **kwargs)
        except PodUnavailable as exc:
            took = time.monotonic() - started
            LOG.log(level, 'pod %s %s "%s %s" failed: %s time: %.4f', self.pod, self.service,
                    method, url, exc.reason, took)  # fmt: skip
            metrics.POD_CALL_SECONDS.labels(self.pod, self.service).observe(took)
            metrics.POD_CALL_ERRORS.labels(self.pod, self.service, exc.why).inc()
            raise
        finally:
            self._in_flight -= 1
            in_flight.dec()
        took = time.monotonic() - started
        LOG.log(level, 'pod %s %s "%s %s" status: %d time: %.4f', self.pod, self.service,
                method, url, resp.status_code, took)  # fmt: skip
        metrics.POD_CALL_SECONDS.labels(self.pod, self.service).observe(took)
        if resp.status_code >= 500:
            metrics.POD_CALL_ERRORS.labels(self.pod, self.service, "status_5xx").inc()
        return resp

    async def _send(
        self,
        method: str,
        url: str,
        probe: bool,
        attempts: int,
        auth: httpx.Auth | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        prepared = self._prepared(method, url, auth, kwargs)
        for attempt in range(1, attempts + 1):
            try:
                async with self._slots:
                    if prepared is not None:
                        resp = await prepared[0].send(prepared[1])
                    else:
                        resp = await self._exchange(self._build(method, url, **kwargs), auth)
            except asyncio.CancelledError:
                # a fan-out past its deadline: no answer either way (it counts the failure);
                # a probe cancelled must not leave the breaker waiting for its answer for ever
                if probe:
                    self.breaker.abandon()
                raise
            except (httpx.InvalidURL, UnicodeEncodeError) as exc:
                if probe:
                    self.breaker.abandon()  # not sent: says nothing of the pod
                raise Unsendable(f"the request cannot be sent to a pod: {exc}") from exc
            except httpx.TimeoutException as exc:
                self.breaker.failure()
                sent = not isinstance(exc, NOT_SENT)
                timed_out = f"timed out ({exc!r})"
                raise PodUnavailable(self.pod, self.service, timed_out, sent, "timeout") from exc
            except httpx.TransportError as exc:
                if attempt < attempts:
                    continue  # a read on a dropped pooled connection: once more
                self.breaker.failure()
                sent = not isinstance(exc, NOT_SENT)
                raise PodUnavailable(
                    self.pod, self.service, f"unreachable ({exc!r})", sent
                ) from exc
            # The breaker counts what says the pod is unwell, not what one caller asked
            # of it: a 500 answers that request (often a bad one no other caller sends),
            # so one member's requests cannot shut the pod for every project.
            if resp.status_code in UNWELL:
                self.breaker.failure()
            else:
                self.breaker.success()
            return resp
        raise AssertionError("unreachable")  # pragma: no cover

    async def probe(self, url: str, timeout: float) -> httpx.Response:
        """GET `url` for the health check, whatever the breaker says, within `timeout`
        seconds; the breaker follows: opened at once when the pod service does not answer
        (or answers 5xx), closed when it does."""
        self._in_flight += 1
        loop = asyncio.get_running_loop()
        due = loop.time() + timeout
        try:
            # the whole answer within `timeout` (httpx's timeouts bound each read only)
            async with asyncio.timeout(timeout):
                # a fresh connection closed after the answer: a probe every interval
                # would otherwise leave one idle socket per pod service, which the pod
                # closes long before the next probe could use it
                async with self._slots:
                    request = self._build("GET", url, timeout=timeout, headers=CLOSE)
                    resp = await self._exchange(request, None)
        except TimeoutError as exc:
            if loop.time() - due > BUSY_LAG:
                # this process was too busy to read the answer in time (the timeout
                # itself ran that late): it says nothing of the pod
                raise PodUnavailable(self.pod, self.service, "not read in time") from exc
            self.breaker.trip()
            silent = f"no answer in {timeout:g} s"
            raise PodUnavailable(self.pod, self.service, silent, why="timeout") from exc
        except httpx.TransportError as exc:
            self.breaker.trip()
            raise PodUnavailable(self.pod, self.service, repr(exc)) from exc
        finally:
            self._in_flight -= 1
        if resp.status_code >= 500:
            self.breaker.trip()
        else:
            self.breaker.success()
        return resp


class CallOptions(TypedDict, total=False):
    """What a call to a pod may carry besides its method and URL."""

    json: Any
    content: bytes | None
    params: Any
    headers: dict[str, str] | None


@dataclass(frozen=True)
class Caller:
    """Who a pod call is made for: the token (None: Cascade's own, see `calls.pod_request`),
    the microversion and the request id. Each API's subclass names its version."""

    token: str | None
    version: str
    request_id: str
    # the top project and user the call is made for (an independent pod's call with a
    # token is made in the project standing for it: `pods.calls`)
    project_id: str | None = None
    user_id: str | None = None
    # whether the top's policy takes the caller for an admin (`context_is_admin`): in an
    # independent pod the call is then made by a user with `admin` there
    admin: bool = False

    def version_headers(self) -> dict[str, str]:
        return {}

    def headers(self) -> dict[str, str]:
        headers = {**self.version_headers(), "Accept": "application/json"}
        if self.token is not None:
            headers["X-Auth-Token"] = self.token
        if self.request_id:
            headers["X-OpenStack-Request-ID"] = self.request_id
        return headers


@functools.lru_cache(maxsize=65536)
def api_root(endpoint_url: str, version_part: str) -> str:
    """What an API's links start with: the endpoint without its `version_part` (`/v2`,
    `/v3`) and what follows, with a trailing slash. Kept per endpoint: every answer of a
    pod is rewritten with it (a list over 1,000 pods split 1,000 URLs)."""
    parts = urlsplit(endpoint_url)
    path = parts.path
    cut = path.find(version_part)
    if cut >= 0:
        path = path[:cut]
    return f"{parts.scheme}://{parts.netloc}{path.rstrip('/')}/"

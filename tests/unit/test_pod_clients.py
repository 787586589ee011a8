"""Pod clients: circuit breaker, safe retries, endpoint discovery, health checks."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from cascade.conf import KeystoneSection, PodsSection
from cascade.db.models import Pod
from cascade.identity import TokenValidator
from cascade.pods.breaker import Breaker
from cascade.pods.calls import pod_request
from cascade.pods.client import PodClient, PodUnavailable, Unsendable
from cascade.pods.registry import PodRegistry, region_endpoints
from cascade.pods.volume import SERVICE as volume_service
from cascade.services.health import check_pod

CONF = PodsSection(breaker_failures=2, breaker_reset_seconds=10)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_probes_and_closes() -> None:
    clock = Clock()
    breaker = Breaker(failures=2, reset_seconds=10, clock=clock)
    breaker.failure()
    assert breaker.allow() and breaker.state == "closed"
    breaker.failure()
    assert breaker.state == "open" and not breaker.allow()
    clock.now += 10
    assert breaker.state == "half-open"
    assert breaker.allow() and not breaker.allow()  # one probe at a time
    breaker.failure()
    assert breaker.state == "open"  # the probe failed: open again at once
    clock.now += 10
    assert breaker.allow()
    breaker.success()
    assert breaker.state == "closed" and breaker.allow()


def flaky(failures: int, status: int = 200) -> tuple[httpx.MockTransport, list[str]]:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if len(calls) <= failures:
            raise httpx.ConnectError("reset", request=request)
        return httpx.Response(status, json={})

    return httpx.MockTransport(handler), calls


async def test_reads_are_retried_once_writes_never() -> None:
    transport, calls = flaky(1)
    client = PodClient("pod1", "compute", CONF, transport)
    assert (await client.request("GET", "http://pod/")).status_code == 200
    assert calls == ["GET", "GET"]

    transport, calls = flaky(1)
    client = PodClient("pod1", "compute", CONF, transport)
    with pytest.raises(PodUnavailable) as caught:
        await client.request("POST", "http://pod/servers", json={})
    assert calls == ["POST"]
    assert "pod pod1 (compute) is unavailable: unreachable" in str(caught.value)


async def test_breaker_refuses_a_dead_pod_without_calling_it() -> None:
    transport, calls = flaky(100)
    client = PodClient("pod2", "network", CONF, transport)
    for _ in range(2):
        with pytest.raises(PodUnavailable):
            await client.request("POST", "http://pod/")
    with pytest.raises(PodUnavailable) as caught:
        await client.request("POST", "http://pod/")
    assert "circuit breaker" in caught.value.reason
    assert len(calls) == 2


async def test_each_call_without_an_answer_is_counted_by_its_reason() -> None:
    """`cascade_pod_call_errors_total{reason}`: a connection refused is `unreachable`, a
    pod too slow to answer `timeout`, a call the open breaker refuses `breaker`."""

    def count(reason: str) -> float:
        labels = {"pod": "podm", "service": "compute", "reason": reason}
        return REGISTRY.get_sample_value("cascade_pod_call_errors_total", labels) or 0.0

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    before = {r: count(r) for r in ("unreachable", "timeout", "breaker")}
    refused, _ = flaky(100)
    client = PodClient("podm", "compute", CONF, refused)
    with pytest.raises(PodUnavailable) as caught:
        await client.request("POST", "http://pod/")
    assert caught.value.why == "unreachable" and count("unreachable") == before["unreachable"] + 1
    client._transport = httpx.MockTransport(slow)
    with pytest.raises(PodUnavailable) as caught:
        await client.request("POST", "http://pod/")
    assert caught.value.why == "timeout" and count("timeout") == before["timeout"] + 1
    with pytest.raises(PodUnavailable) as caught:  # two failures: the breaker is open
        await client.request("POST", "http://pod/")
    assert caught.value.why == "breaker" and count("breaker") == before["breaker"] + 1
    assert count("unreachable") == before["unreachable"] + 1


async def test_a_pod_5xx_is_returned_and_counted() -> None:
    transport, _ = flaky(0, status=503)
    client = PodClient("pod1", "compute", CONF, transport)
    assert (await client.request("GET", "http://pod/")).status_code == 503
    assert client.breaker.failures == 1


CATALOG: list[dict[str, Any]] = [
    {
        "type": "compute",
        "endpoints": [
            {"interface": "public", "region_id": "pod1", "url": "http://c1:8774/v2.1"},
            {"interface": "internal", "region_id": "pod1", "url": "http://internal/"},
            {"interface": "public", "region_id": "pod2", "url": "http://c2:8774/v2.1"},
        ],
    },
    {
        "type": "network",
        "endpoints": [
            {"interface": "public", "region_id": "pod1", "url": "http://n1:9696"},
        ],
    },
]


def test_region_endpoints_are_the_public_ones_of_the_region() -> None:
    assert region_endpoints(CATALOG, "pod1") == {
        "compute": "http://c1:8774/v2.1",
        "network": "http://n1:9696",
    }
    assert region_endpoints(CATALOG, "pod9") == {}


class FixedCatalog(TokenValidator):
    async def catalog(self) -> list[dict[str, Any]]:
        return CATALOG


def pod(name: str) -> Pod:
    return Pod(
        id=name,
        name=name,
        region_name=name,
        az="az",
        pod_az="az",
        enabled=True,
        weight=1,
        tags=[],
        health_state="unknown",
        created_at=datetime.now(UTC),
    )


async def health_with(handler: Any, name: str) -> Any:
    registry = PodRegistry(CONF, FixedCatalog(KeystoneSection()), httpx.MockTransport(handler))
    try:
        return await check_pod(registry, pod(name))
    finally:
        await registry.aclose()


async def test_health_up_degraded_down() -> None:
    def all_ok(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"versions": []})

    def network_down(request: httpx.Request) -> httpx.Response:
        if request.url.host == "n1":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(300, json={})

    up = await health_with(all_ok, "pod1")
    assert up.state == "up" and up.error is None and up.latency_ms is not None
    degraded = await health_with(network_down, "pod1")
    assert degraded.state == "degraded" and "pod1 (network)" in degraded.error
    down = await health_with(all_ok, "pod9")
    assert down.state == "down" and "no endpoints for region pod9" in down.error


class CountingTokens(TokenValidator):
    """Service tokens numbered in the order they are issued (token-1, token-2, ...)."""

    def __init__(self) -> None:
        super().__init__(KeystoneSection())
        self.issued = 0

    async def service_token(self, renew: bool = False) -> str:
        if renew or not self.issued:
            self.issued += 1
        return f"token-{self.issued}"


POD1 = Pod(id="p1", name="pod1", region_name="pod1")


async def test_a_call_as_cascade_renews_a_refused_service_token_once() -> None:
    seen: list[tuple[str, str, bytes]] = []

    def pod(request: httpx.Request) -> httpx.Response:
        token = request.headers["X-Auth-Token"]
        seen.append((request.method, token, request.content))
        accepted = {"token-2"} if request.url.path != "/never" else set()
        return httpx.Response(200 if token in accepted or token == "user" else 401, json={})

    tokens = CountingTokens()
    registry = PodRegistry(CONF, tokens, httpx.MockTransport(pod))
    try:
        # no token in the caller's headers: Cascade's own, renewed once on a 401, body resent
        ok = await pod_request(registry, POD1, "compute", "POST", "http://n1/x", {}, json=[1])
        assert ok.status_code == 200
        assert seen == [("POST", "token-1", b"[1]"), ("POST", "token-2", b"[1]")]
        # refused again after the renewal: the 401 is the answer, no loop
        seen.clear()
        never = await pod_request(registry, POD1, "compute", "GET", "http://n1/never", {})
        assert never.status_code == 401 and [t for _, t, _ in seen] == ["token-2", "token-3"]
        # a user's own token is never replaced by Cascade's
        seen.clear()
        user = await pod_request(
            registry, POD1, "compute", "GET", "http://n1/x", {"X-Auth-Token": "user"}
        )
        assert user.status_code == 200 and [t for _, t, _ in seen] == ["user"]
    finally:
        await registry.aclose()


def test_a_watched_breaker_is_probed_by_the_health_check_alone() -> None:
    clock = Clock()
    breaker = Breaker(failures=2, reset_seconds=10, clock=clock)
    breaker.watch(30)
    breaker.trip()  # one failed check opens it at once
    assert breaker.state == "open" and not breaker.allow()
    clock.now += 10
    assert breaker.state == "half-open" and not breaker.allow()  # no request probes it
    breaker.success()  # the check answered
    assert breaker.allow()
    breaker.trip()
    clock.now += 31  # the checks stopped: requests probe again
    assert breaker.allow() and not breaker.allow()
    breaker.abandon()  # the probe was cancelled: another may go
    assert breaker.allow()


def hanging(hung: str) -> Any:
    """A pod whose service at host `hung` accepts requests and never answers."""

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == hung:
            await asyncio.sleep(3600)
        return httpx.Response(200, json={"versions": []})

    return handler


async def test_a_hanging_service_is_refused_after_one_check_and_let_in_when_back() -> None:
    conf = PodsSection(breaker_failures=3, list_deadline=0.2)
    registry = PodRegistry(
        conf, FixedCatalog(KeystoneSection()), httpx.MockTransport(hanging("n1"))
    )
    try:
        health = await check_pod(registry, pod("pod1"), watch=60)
        assert health.state == "degraded" and "pod1 (network)" in str(health.error)
        network = registry.client("pod1", "network")
        with pytest.raises(PodUnavailable) as caught:
            await network.request("GET", "http://n1:9696/v2.0/networks")
        assert "circuit breaker" in caught.value.reason  # at once, not after a deadline
        assert registry.client("pod1", "compute").breaker.state == "closed"
        registry.transport = httpx.MockTransport(hanging("none"))
        registry._clients.clear()  # the pod is back (a new transport: new clients)
        network = registry.client("pod1", "network")
        network.breaker.trip()
        assert (await check_pod(registry, pod("pod1"), watch=60)).state == "up"
        assert network.breaker.state == "closed"
    finally:
        await registry.aclose()


async def test_the_volume_check_probes_the_breaker_cinder_calls_go_through() -> None:
    catalog = [
        {
            "type": "volumev3",
            "endpoints": [
                {"interface": "public", "region_id": "pod1", "url": "http://v1:8776/v3/p"}
            ],
        }
    ]

    class VolumeCatalog(TokenValidator):
        async def catalog(self) -> list[dict[str, Any]]:
            return catalog

    registry = PodRegistry(
        PodsSection(list_deadline=0.2),
        VolumeCatalog(KeystoneSection()),
        httpx.MockTransport(hanging("v1")),
    )
    try:
        assert (await check_pod(registry, pod("pod1"))).state == "down"
        assert registry.client("pod1", volume_service).breaker.state == "open"
    finally:
        await registry.aclose()


async def test_a_probe_cancelled_by_its_caller_leaves_the_breaker_usable() -> None:
    """A request cancelled while it was the half-open breaker's probe (its client went
    away, a deadline passed): the breaker does not wait for its answer for ever."""
    clock = Clock()
    client = PodClient("pod2", "compute", CONF, httpx.MockTransport(hanging("c2")))
    client.breaker = Breaker(failures=2, reset_seconds=10, clock=clock)
    client.breaker.trip()
    clock.now += 10  # half-open: the next request is the probe
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(client.request("GET", "http://c2/servers"), 0.1)
    assert client.breaker.allow()  # another request may probe
    await client.aclose()


async def test_an_unavailable_pod_says_whether_the_request_reached_it() -> None:
    def read_fails(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")

    transport, _ = flaky(100)  # connection refused: never sent
    client = PodClient("pod2", "compute", CONF, transport)
    with pytest.raises(PodUnavailable) as caught:
        await client.request("POST", "http://pod/servers", json={})
    assert caught.value.sent is False
    with pytest.raises(PodUnavailable) as caught:
        await client.request("POST", "http://pod/servers", json={})
    with pytest.raises(PodUnavailable) as caught:  # the breaker is open now
        await client.request("POST", "http://pod/servers", json={})
    assert "circuit breaker" in caught.value.reason and caught.value.sent is False
    client = PodClient("pod2", "compute", CONF, httpx.MockTransport(read_fails))
    with pytest.raises(PodUnavailable) as caught:  # it may have been acted on
        await client.request("POST", "http://pod/servers", json={})
    assert caught.value.sent is True


async def test_a_probe_that_cannot_be_sent_leaves_the_breaker_usable() -> None:
    clock = Clock()
    client = PodClient("pod2", "compute", CONF, httpx.MockTransport(hanging("none")))
    client.breaker = Breaker(failures=2, reset_seconds=10, clock=clock)
    client.breaker.trip()
    clock.now += 10  # half-open: the next request is the probe
    with pytest.raises(Unsendable):
        await client.request("GET", "http://c2/servers/\x00")
    assert client.breaker.allow()  # it said nothing of the pod: another request may probe
    await client.aclose()


async def test_calls_to_a_pod_service_are_paced_at_its_max_rate() -> None:
    """`[pods] max_rate` 10: a burst of 10 goes at once, the next ones wait their turn
    (0.1 s each), and none is refused."""
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={}))
    client = PodClient("pod1", "compute", dataclasses.replace(CONF, max_rate=10.0), transport)
    started = time.monotonic()
    answers = [await client.request("GET", "http://n1/servers") for _ in range(12)]
    assert [a.status_code for a in answers] == [200] * 12
    assert time.monotonic() - started >= 0.15  # the 11th waited 0.1 s, the 12th 0.2 s
    await client.aclose()


async def test_a_probe_this_process_was_too_busy_to_read_does_not_trip_the_breaker() -> None:
    """The probe's timeout fires seconds late (the event loop was blocked): the pod is not
    blamed; a timeout on time trips the breaker as before."""

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.3)
        return httpx.Response(200, json={})

    client = PodClient("pod1", "compute", CONF, httpx.MockTransport(slow))
    await client.request("GET", "http://n1/")  # its pool made: the probe waits at once

    async def block() -> None:
        time.sleep(1.3)  # noqa: ASYNC251 - the busy process this test is about

    blocker = asyncio.create_task(block())
    with pytest.raises(PodUnavailable, match="not read in time"):
        await client.probe("http://n1/", 0.05)
    await blocker
    assert client.breaker.state == "closed"
    with pytest.raises(PodUnavailable, match="no answer"):
        await client.probe("http://n1/", 0.05)
    assert client.breaker.state == "open"
    await client.aclose()

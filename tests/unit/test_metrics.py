"""`GET /metrics` (prometheus_client): scraped before and after a known workload, the
counters it should move moved; state (jobs, breakers) read at the scrape."""

from __future__ import annotations

import dataclasses

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette

from cascade.jobs import queue
from tests.unit.conftest import FakeKeystone
from tests.unit.fakenova import FakeCloud, register

pytestmark = pytest.mark.fake_pods
MEMBER = {"X-Auth-Token": "member-token"}
DETAIL = "/compute/v2.1/servers/detail"


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics by (name, sorted labels)."""
    resp = await client.get("/metrics")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain; version=")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(resp.text)
        for s in family.samples
    }


def value(
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_a_list_moves_the_request_pod_and_fanout_figures(
    client: httpx.AsyncClient, keystone: FakeKeystone, cloud: FakeCloud
) -> None:
    await register(client, keystone, cloud)  # two pods, the member bound to both
    before = await scrape(client)
    for _ in range(3):
        assert (await client.get(DETAIL, headers=MEMBER)).status_code == 200
    after = await scrape(client)
    request = {"api": "compute", "route": "/compute/v2.1/servers/detail", "method": "GET"}
    name = "cascade_api_requests_total"
    assert (
        value(after, name, **request, status="200") - value(before, name, **request, status="200")
        == 3
    )
    seconds = "cascade_api_request_duration_seconds_count"
    assert value(after, seconds, **request) - value(before, seconds, **request) == 3
    for pod in ("pod1", "pod2"):
        calls = "cascade_pod_call_duration_seconds_count"
        moved = value(after, calls, pod=pod, service="compute") - value(
            before, calls, pod=pod, service="compute"
        )
        assert moved >= 3, pod
        assert value(after, "cascade_pod_breaker_open", pod=pod, service="compute") == 0
    asked = value(after, "cascade_fanout_pods_asked_total") - value(
        before, "cascade_fanout_pods_asked_total"
    )
    assert asked >= 6
    # an id in the path is not a series of its own: the route's template is
    await client.get("/compute/v2.1/servers/nope", headers=MEMBER)
    routes = {dict(labels).get("route") for (n, labels) in (await scrape(client)) if n == name}
    assert "/compute/v2.1/servers/{server_id}" in routes and not any(
        r and "nope" in r for r in routes
    )


async def test_a_pod_that_fails_counts_its_errors(
    client: httpx.AsyncClient, keystone: FakeKeystone, cloud: FakeCloud
) -> None:
    await register(client, keystone, cloud)
    before = await scrape(client)
    cloud.pods["n2"].down = True
    assert (await client.get(DETAIL, headers=MEMBER)).status_code == 200  # pod2 left out
    after = await scrape(client)
    errors = "cascade_pod_call_errors_total"
    moved = sum(
        value(after, errors, pod="pod2", service="compute", reason=r)
        - value(before, errors, pod="pod2", service="compute", reason=r)
        for r in ("unreachable", "timeout", "breaker")
    )
    assert moved >= 1
    left_out = value(after, "cascade_fanout_pods_left_out_total") - value(
        before, "cascade_fanout_pods_left_out_total"
    )
    assert left_out >= 1


async def test_the_job_queue_is_read_at_the_scrape(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    async with app.state.sessions() as db:
        await queue.enqueue(db, "metrics.test", "r1", None, {})
        await queue.enqueue(db, "metrics.test", "r2", None, {})
        await db.commit()
    found = await scrape(client)
    assert value(found, "cascade_jobs", type="metrics.test", status="queued") == 2
    assert value(found, "cascade_jobs_ready") >= 2
    assert value(found, "cascade_job_oldest_ready_age_seconds") >= 0


async def test_metrics_can_be_turned_off(client: httpx.AsyncClient, app: Starlette) -> None:
    conf = app.state.conf
    app.state.conf = dataclasses.replace(conf, api=dataclasses.replace(conf.api, metrics=False))
    assert (await client.get("/metrics")).status_code == 404

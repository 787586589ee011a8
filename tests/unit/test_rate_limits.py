"""Per-project rate limits at the top (`api.ratelimit`): token buckets by project and
route class, and the 429 each API answers with."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from cascade.app import create_app
from cascade.buckets import Limiter, Rate
from cascade.conf import ApiSection, Conf, DatabaseSection, KeystoneSection
from cascade.db.migrate import upgrade
from tests.unit.conftest import FakeKeystone, no_pods
from tests.unit.test_pod_clients import Clock

MEMBER = {"X-Auth-Token": "member-token"}
OTHER = {"X-Auth-Token": "other-token"}
ADMIN = {"X-Auth-Token": "admin-token"}


def test_a_bucket_allows_its_burst_then_its_rate() -> None:
    clock = Clock()
    limiter = Limiter({"read": Rate(2.0, 3.0)}, clock)
    assert [limiter.take("p1", "read") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("p1", "read") == pytest.approx(0.5)  # one token in half a second
    assert limiter.take("p2", "read") == 0.0  # another project has its own bucket
    assert limiter.take("p1", "write") == 0.0  # a class without a rate is not limited
    clock.now += 0.5
    assert limiter.take("p1", "read") == 0.0
    assert limiter.take("p1", "read") > 0
    clock.now += 60  # refilled up to the burst, no further
    assert [limiter.take("p1", "read") for _ in range(4)][-1] > 0


def test_the_buckets_kept_are_bounded() -> None:
    limiter = Limiter({"read": Rate(1.0, 1.0)}, Clock(), size=2)
    for project in ("a", "b", "c"):
        limiter.take(project, "read")
    assert limiter.take("a", "read") == 0.0  # forgotten, so full again
    assert limiter.take("c", "read") > 0


@pytest.fixture
async def limited(tmp_path: Path, keystone: FakeKeystone) -> AsyncIterator[httpx.AsyncClient]:
    """An app whose projects may write 2 at once and 0.5 a second (reads unlimited)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'cascade.sqlite'}"
    await upgrade(url)
    api = dataclasses.replace(ApiSection(), project_writes_per_second=0.5, project_write_burst=2)
    conf = Conf(
        api=api,
        database=DatabaseSection(connection=url),
        keystone=KeystoneSection(auth_url="http://keystone.test/v3", password="x"),
    )
    app = create_app(
        conf,
        keystone_transport=httpx.MockTransport(keystone),
        pod_transport=httpx.MockTransport(no_pods),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cascade.test") as client:
        yield client
    await app.state.registry.aclose()
    await app.state.engine.dispose()


async def test_a_project_past_its_rate_gets_429_in_each_apis_format(
    limited: httpx.AsyncClient,
) -> None:
    body = {"keypair": {"name": "k1"}}
    for _ in range(2):  # the burst: answered, whatever the answer is
        resp = await limited.post("/compute/v2.1/os-keypairs", json=body, headers=MEMBER)
        assert resp.status_code != 429
    resp = await limited.post("/compute/v2.1/os-keypairs", json=body, headers=MEMBER)
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "2"
    assert resp.json()["overLimit"]["code"] == 429
    assert "over its rate of write requests" in resp.json()["overLimit"]["message"]
    resp = await limited.post("/networking/v2.0/networks", json={"network": {}}, headers=MEMBER)
    assert resp.status_code == 429
    assert resp.json()["NeutronError"]["type"] == "HTTPTooManyRequests"
    # admin-token is a member of the same project (p1): the same bucket
    resp = await limited.post("/v1/pods", json={"pod": {}}, headers=ADMIN)
    assert resp.status_code == 429
    assert resp.json()["errors"][0]["code"] == "cascade.request.rate"
    # reads are another class (unlimited here), another project another bucket
    assert (await limited.get("/compute/v2.1/os-keypairs", headers=MEMBER)).status_code == 200
    resp = await limited.post("/compute/v2.1/os-keypairs", json=body, headers=OTHER)
    assert resp.status_code != 429


def test_a_reservation_waits_its_turn_instead_of_being_refused() -> None:
    """What paces Cascade's own calls to a pod: past the burst, each call is owed the
    next token and waits for it, one after another."""
    limiter = Limiter({"call": Rate(10.0, 2.0)}, Clock())
    waits = [limiter.reserve("pod1", "call") for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.0, 0.1, 0.2, 0.3])

"""POST /os-server-external-events: each event goes to its server's pod, as Cascade."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from tests.unit.fakenova import FakeCloud

pytestmark = pytest.mark.fake_pods

ADMIN = {"X-Auth-Token": "admin-token"}
MEMBER = {"X-Auth-Token": "member-token"}
URL = "/compute/v2.1/os-server-external-events"


def sent(cloud: FakeCloud, host: str) -> list[list[str]]:
    """The server ids of each batch of events pod `host` received."""
    return [
        [e["server_uuid"] for e in json.loads(r.content)["events"]]
        for r in cloud.pods[host].requests
        if r.url.path.endswith("/os-server-external-events")
    ]


async def test_events_reach_the_pod_of_their_server(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    one = pods.pods["n1"].add_server("a")["id"]
    two = pods.pods["n2"].add_server("b")["id"]
    events = [
        {"name": "network-vif-plugged", "server_uuid": two, "tag": "port-1"},
        {"name": "volume-extended", "server_uuid": one, "tag": "vol-1"},
    ]
    resp = await client.post(URL, json={"events": events}, headers=ADMIN)
    assert resp.status_code == 200, resp.text
    assert resp.json()["events"] == [{**e, "status": "completed", "code": 200} for e in events]
    assert sent(pods, "n1") == [[one]] and sent(pods, "n2") == [[two]]
    assert resp.headers["OpenStack-API-Version"] == "compute 2.1"


async def test_an_unknown_server_fails_its_event_only(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    one = pods.pods["n1"].add_server("a")["id"]
    nobody = str(uuid.uuid4())
    events = [
        {"name": "network-changed", "server_uuid": nobody},
        {"name": "network-changed", "server_uuid": one},
    ]
    resp = await client.post(URL, json={"events": events}, headers=ADMIN)
    assert resp.status_code == 207, resp.text
    assert [(e["status"], e["code"]) for e in resp.json()["events"]] == [
        ("failed", 404),
        ("completed", 200),
    ]
    assert sent(pods, "n1") == [[one]] and sent(pods, "n2") == []


async def test_a_pod_that_is_down_fails_its_events_and_is_named(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    one = pods.pods["n1"].add_server("a")["id"]
    two = pods.pods["n2"].add_server("b")["id"]
    assert (await client.get("/compute/v2.1/servers", headers=ADMIN)).status_code == 200
    pods.pods["n2"].down = True
    events = [{"name": "network-changed", "server_uuid": s} for s in (one, two)]
    resp = await client.post(URL, json={"events": events}, headers=ADMIN)
    assert resp.status_code == 207
    assert [e["code"] for e in resp.json()["events"]] == [200, 503]
    assert resp.headers["X-Cascade-Unavailable-Pods"] == "pod2"


@pytest.mark.parametrize(
    "body",
    [{}, {"events": []}, {"events": "x"}, {"events": [{"name": "network-changed"}]}, []],
)
async def test_bad_bodies_and_members_are_refused_before_any_pod(
    client: httpx.AsyncClient, pods: FakeCloud, body: object
) -> None:
    resp = await client.post(URL, json=body, headers=ADMIN)
    assert resp.status_code == 400 and "badRequest" in resp.json()
    one = pods.pods["n1"].add_server("a")["id"]
    events = {"events": [{"name": "network-changed", "server_uuid": one}]}
    member = await client.post(URL, json=events, headers=MEMBER)
    assert member.status_code == 403 and "forbidden" in member.json()
    assert sent(pods, "n1") == [] and sent(pods, "n2") == []

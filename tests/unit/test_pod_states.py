"""Pod states: a pod in maintenance serves what it hosts and takes nothing new."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from cascade.conf import SchedulingSection
from cascade.db.engine import now
from cascade.db.models import Flavor
from cascade.services import scheduling
from tests.unit.fakenova import FakeCloud, add_pod, route
from tests.unit.test_scheduling_bindings import schedule

ADMIN = {"X-Auth-Token": "admin-token"}
MEMBER = {"X-Auth-Token": "member-token"}


async def _state(client: httpx.AsyncClient, pod_id: str, state: str) -> httpx.Response:
    return await client.patch(f"/v1/pods/{pod_id}", json={"pod": {"state": state}}, headers=ADMIN)


async def test_a_pod_in_maintenance_takes_no_new_resources(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    conf = SchedulingSection()
    first = await add_pod(client, "first", "az1")
    second = await add_pod(client, "second", "az1")
    assert (await schedule(app, "p1", "az1", conf)).id == second
    resp = await _state(client, second, "maintenance")
    assert resp.status_code == 200, resp.text
    pod = resp.json()["pod"]
    assert pod["state"] == "maintenance" and pod["enabled"] is True
    assert pod["health"]["maintenance"] is True
    assert (await schedule(app, "p1", "az1", conf)).id == first  # rebound elsewhere
    bind = {"binding": {"project_id": "p9", "az": "az1", "pod_id": second}}
    refused = await client.post("/v1/bindings", json=bind, headers=ADMIN)
    assert refused.status_code == 409 and "in state maintenance" in refused.text
    await _state(client, first, "maintenance")
    with pytest.raises(scheduling.NoPodForAz):
        await schedule(app, "p2", "az1", conf)
    back = await _state(client, second, "active")
    assert back.json()["pod"]["health"]["maintenance"] is False
    assert (await schedule(app, "p2", "az1", conf)).id == second


async def test_pod_states_an_admin_cannot_set(client: httpx.AsyncClient) -> None:
    pod = await add_pod(client, "pod1", "az1")
    draining = await _state(client, pod, "draining")
    assert draining.status_code == 400 and "/drain" in draining.text
    assert (await _state(client, pod, "asleep")).status_code == 400
    made = await client.post(
        "/v1/pods",
        json={"pod": {"name": "p", "region_name": "p", "az": "az2", "state": "maintenance"}},
        headers=ADMIN,
    )
    assert made.status_code == 201 and made.json()["pod"]["state"] == "maintenance"


@pytest.mark.fake_pods
async def test_what_a_pod_in_maintenance_hosts_keeps_working(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    server = pods.pods["n1"].add_server("kept")["id"]
    await route(app, "server", server, "pod1", "p1", "2026-01-01T00:00:00Z")
    listed = (await client.get("/v1/pods", headers=ADMIN)).json()["pods"]
    pod1 = next(p["id"] for p in listed if p["name"] == "pod1")
    await _state(client, pod1, "maintenance")
    shown = await client.get(f"/compute/v2.1/servers/{server}", headers=MEMBER)
    assert shown.status_code == 200 and shown.json()["server"]["name"] == "kept"
    assert [
        s["id"]
        for s in (await client.get("/compute/v2.1/servers", headers=MEMBER)).json()["servers"]
    ] == [server]
    zones = (await client.get("/compute/v2.1/os-availability-zone", headers=MEMBER)).json()
    assert {z["zoneName"]: z["zoneState"]["available"] for z in zones["availabilityZoneInfo"]}[
        "az1"
    ] is False
    async with app.state.sessions() as db:
        db.add(Flavor(id="42", name="m1.nano", ram=128, vcpus=1, disk=1, created_at=now()))
        await db.commit()
    body = {"server": {"name": "new", "flavorRef": "42", "availability_zone": "az1"}}
    refused = await client.post("/compute/v2.1/servers", json=body, headers=MEMBER)
    assert refused.status_code == 503 and "neither in maintenance" in refused.text
    assert len(pods.pods["n1"].servers) == 1

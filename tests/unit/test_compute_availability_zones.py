"""GET /compute/v2.1/os-availability-zone: top AZs and whether a healthy pod serves them."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette

from cascade.db.models import Pod
from tests.unit.fakenova import add_pod

ADMIN = {"X-Auth-Token": "admin-token"}
MEMBER = {"X-Auth-Token": "member-token"}


async def set_health(app: Starlette, pod_id: str, state: str) -> None:
    async with app.state.sessions() as db:
        pod = await db.get(Pod, pod_id)
        assert pod is not None
        pod.health_state = state
        await db.commit()


async def test_zones_are_available_when_an_enabled_pod_is_up(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await set_health(app, await add_pod(client, "a", "az1"), "up")
    await add_pod(client, "b", "az2")  # never checked yet: unknown
    await set_health(app, await add_pod(client, "c", "az3", enabled=False), "up")
    resp = await client.get("/compute/v2.1/os-availability-zone", headers=MEMBER)
    assert resp.status_code == 200
    zones = {
        z["zoneName"]: z["zoneState"]["available"] for z in resp.json()["availabilityZoneInfo"]
    }
    assert zones == {"az1": True, "az2": False, "az3": False}
    assert all(z["hosts"] is None for z in resp.json()["availabilityZoneInfo"])
    assert resp.headers["openstack-api-version"] == "compute 2.1"


async def test_detail_is_for_admins_and_a_token_is_needed(client: httpx.AsyncClient) -> None:
    # the hosts per zone are tested with fake pods in test_compute_admin_hosts.py
    resp = await client.get("/compute/v2.1/os-availability-zone/detail", headers=MEMBER)
    assert resp.status_code == 403
    assert "os-availability-zone:detail" in resp.json()["forbidden"]["message"]
    resp = await client.get("/compute/v2.1/os-availability-zone/detail", headers=ADMIN)
    assert resp.json() == {"availabilityZoneInfo": []}  # no pods, no zones
    assert (await client.get("/compute/v2.1/os-availability-zone")).status_code == 401

"""os-assisted-volume-snapshots: sent to the pod of the volume (and so of its server)."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from cascade.db.models import Pod
from cascade.services import routed
from tests.unit.fakenova import FakeCloud

pytestmark = pytest.mark.fake_pods

ADMIN = {"X-Auth-Token": "admin-token"}
MEMBER = {"X-Auth-Token": "member-token"}
URL = "/compute/v2.1/os-assisted-volume-snapshots"


def asked(cloud: FakeCloud, host: str) -> list[httpx.Request]:
    return [r for r in cloud.pods[host].requests if "assisted" in r.url.path]


def create_body(volume_id: str, snapshot_id: str) -> dict[str, object]:
    info = {"snapshot_id": snapshot_id, "type": "qcow2", "new_file": "new_file"}
    return {"snapshot": {"volume_id": volume_id, "create_info": info}}


async def test_a_routed_volumes_snapshot_goes_to_its_pod_only(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    volume_id, snapshot_id = str(uuid.uuid4()), str(uuid.uuid4())
    pods.pods["n2"].attached.add(volume_id)
    async with app.state.sessions() as db:
        pod2 = next(p for p in (await db.scalars(select(Pod))).all() if p.name == "pod2")
        await routed.record(db, volume_id, pod2.id, "p1", kind="volume")
    resp = await client.post(URL, json=create_body(volume_id, snapshot_id), headers=ADMIN)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"snapshot": {"id": snapshot_id, "volumeId": volume_id}}
    assert resp.headers["x-cascade-pod"] == "pod2"
    info = json.dumps({"volume_id": volume_id})
    resp = await client.delete(f"{URL}/{snapshot_id}", params={"delete_info": info}, headers=ADMIN)
    assert resp.status_code == 204, resp.text
    assert asked(pods, "n1") == [] and len(asked(pods, "n2")) == 2
    assert {r.headers["x-auth-token"] for r in asked(pods, "n2")} == {"service-token"}


async def test_an_unrouted_volume_is_asked_of_the_pods_in_order(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    volume_id, snapshot_id = str(uuid.uuid4()), str(uuid.uuid4())
    pods.pods["n2"].attached.add(volume_id)
    resp = await client.post(URL, json=create_body(volume_id, snapshot_id), headers=ADMIN)
    assert (resp.status_code, resp.headers["x-cascade-pod"]) == (200, "pod2")
    nowhere = str(uuid.uuid4())
    resp = await client.post(URL, json=create_body(nowhere, snapshot_id), headers=ADMIN)
    assert resp.status_code == 400
    message = resp.json()["badRequest"]["message"]
    assert message.startswith(f"No volume Block Device Mapping with id {nowhere}.")


@pytest.mark.parametrize(
    ("method", "query", "body", "token", "status"),
    [
        ("POST", {}, {"snapshot": {}}, ADMIN, 400),
        ("POST", {}, {"snapshot": {"volume_id": "v", "create_info": {}}}, MEMBER, 403),
        ("DELETE", {}, None, ADMIN, 400),
        ("DELETE", {"delete_info": "not json"}, None, ADMIN, 400),
        ("DELETE", {"delete_info": "{}"}, None, ADMIN, 400),
        ("DELETE", {"delete_info": '{"volume_id": "v"}'}, None, MEMBER, 403),
    ],
)
async def test_refusals_come_before_any_pod_is_asked(
    client: httpx.AsyncClient,
    pods: FakeCloud,
    method: str,
    query: dict[str, str],
    body: object,
    token: dict[str, str],
    status: int,
) -> None:
    url = URL if method == "POST" else f"{URL}/{uuid.uuid4()}"
    resp = await client.request(method, url, params=query, json=body, headers=token)
    assert resp.status_code == status, resp.text
    assert asked(pods, "n1") == asked(pods, "n2") == []

"""Nova's volume proxies (`/os-volumes`, `/os-snapshots`) at the top, answered from the
top's own Block Storage: two pods as in `test_volume_hosts` (pod1 is the fake Cinder
c1 in az1, pod2 is c2 in az2)."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from cascade.api.volume import lists
from cascade.db.models import Pod
from cascade.services import routed
from cascade.services.compute import volume_proxy as views
from tests.unit import test_volume_hosts
from tests.unit.fakecinder import FakeCinder

novas, cinders = test_volume_hosts.novas, test_volume_hosts.cinders
pod_handler, cloud2 = test_volume_hosts.pod_handler, test_volume_hosts.cloud2

V21 = "/compute/v2.1"
MEMBER = {"X-Auth-Token": "member-token"}  # a member of p1
OTHER = {"X-Auth-Token": "other-token"}  # a member of p2
ADMIN = {"X-Auth-Token": "admin-token"}  # an admin of p1
AT_2_36 = {**MEMBER, "OpenStack-API-Version": "compute 2.36"}
NO_SUCH = "8a8d7e66-0d4b-4b43-9a2f-1c3c35b0c0de"
VOLUME_KEYS = {
    "id",
    "status",
    "size",
    "availabilityZone",
    "createdAt",
    "attachments",
    "displayName",
    "displayDescription",
    "volumeType",
    "snapshotId",
    "metadata",
}


def fault(answer: httpx.Response) -> tuple[int, str]:
    """A Nova error: its status and message (and the body's code agrees)."""
    (body,) = answer.json().values()
    assert body["code"] == answer.status_code
    return answer.status_code, str(body["message"])


async def _create(client: httpx.AsyncClient, **given: object) -> dict[str, object]:
    answer = await client.post(f"{V21}/os-volumes", json={"volume": given}, headers=MEMBER)
    assert answer.status_code == 200, answer.text
    made: dict[str, object] = answer.json()["volume"]
    assert answer.headers["Location"].endswith(f"/os-volumes/{made['id']}")
    return made


async def test_a_volume_is_made_shown_listed_and_deleted_as_nova_shows_them(
    client: httpx.AsyncClient, cloud2: dict[str, FakeCinder]
) -> None:
    made = await _create(client, size=1, display_name="v", availability_zone="az2")
    assert set(made) == VOLUME_KEYS
    assert made["displayName"] == "v" and made["availabilityZone"] == "az2"
    assert made["attachments"] == [{}] and made["metadata"] == {}
    # made in pod2 (the AZ's), through the top's Block Storage
    assert list(cloud2["c2"].volumes) == [made["id"]] and not cloud2["c1"].volumes
    shown = await client.get(f"{V21}/os-volumes/{made['id']}", headers=MEMBER)
    assert shown.status_code == 200, shown.text
    assert shown.json()["volume"]["id"] == made["id"]
    assert set(shown.json()["volume"]) == VOLUME_KEYS
    for path in ("/os-volumes", "/os-volumes/detail"):
        listed = await client.get(f"{V21}{path}", headers=MEMBER)
        assert listed.status_code == 200, listed.text
        assert [v["id"] for v in listed.json()["volumes"]] == [made["id"]]
    # another project sees none of them
    theirs = await client.get(f"{V21}/os-volumes", headers=OTHER)
    assert theirs.json() == {"volumes": []}
    gone = await client.delete(f"{V21}/os-volumes/{made['id']}", headers=MEMBER)
    assert gone.status_code == 202, gone.text
    assert [r.method for r in cloud2["c2"].requests if r.method == "DELETE"] == ["DELETE"]


async def test_lists_are_merged_across_pods_with_limit_and_offset(
    client: httpx.AsyncClient, cloud2: dict[str, FakeCinder]
) -> None:
    ids = {
        str((await _create(client, size=1, availability_zone=az))["id"])
        for az in ("az1", "az2", "az1")
    }
    listed = await client.get(f"{V21}/os-volumes/detail", headers=MEMBER)
    everything = [v["id"] for v in listed.json()["volumes"]]
    assert set(everything) == ids and len(everything) == 3
    page = await client.get(f"{V21}/os-volumes?limit=2&offset=1", headers=MEMBER)
    assert [v["id"] for v in page.json()["volumes"]] == everything[1:3]
    bad = await client.get(f"{V21}/os-volumes?limit=x", headers=MEMBER)
    assert fault(bad)[0] == 400


async def test_a_bad_size_or_key_is_novas_400(
    client: httpx.AsyncClient, cloud2: dict[str, FakeCinder]
) -> None:
    for given in ({"size": "abc"}, {"size": 0}, {"size": ""}, {}, {"size": 1, "name": "x"}):
        answer = await client.post(f"{V21}/os-volumes", json={"volume": given}, headers=MEMBER)
        assert fault(answer)[0] == 400, given
    assert not cloud2["c1"].volumes and not cloud2["c2"].volumes


async def test_unknown_or_blank_ids_are_novas_404(
    client: httpx.AsyncClient, cloud2: dict[str, FakeCinder]
) -> None:
    for volume_id in (NO_SUCH, "not-a-uuid"):
        shown = await client.get(f"{V21}/os-volumes/{volume_id}", headers=MEMBER)
        assert fault(shown) == (404, f"Volume {volume_id} could not be found.")
        gone = await client.delete(f"{V21}/os-volumes/{volume_id}", headers=MEMBER)
        assert fault(gone) == (404, f"Volume {volume_id} could not be found.")
        snap = await client.get(f"{V21}/os-snapshots/{volume_id}", headers=MEMBER)
        assert fault(snap) == (404, f"Snapshot {volume_id} could not be found.")
    for path in ("/os-volumes/", "/os-snapshots/"):
        assert fault(await client.get(V21 + path, headers=MEMBER))[0] == 404
        assert fault(await client.delete(V21 + path, headers=MEMBER))[0] == 404
    from_nothing = await client.post(
        f"{V21}/os-volumes", json={"volume": {"size": 1, "snapshot_id": NO_SUCH}}, headers=MEMBER
    )
    assert fault(from_nothing) == (404, f"Snapshot {NO_SUCH} could not be found.")


async def test_the_proxies_are_gone_at_2_36(
    client: httpx.AsyncClient, cloud2: dict[str, FakeCinder]
) -> None:
    for method, path in (
        ("GET", "/os-volumes"),
        ("GET", "/os-volumes/detail"),
        ("GET", f"/os-volumes/{NO_SUCH}"),
        ("DELETE", f"/os-volumes/{NO_SUCH}"),
        ("GET", "/os-snapshots"),
        ("GET", f"/os-snapshots/{NO_SUCH}"),
    ):
        answer = await client.request(method, V21 + path, headers=AT_2_36)
        assert fault(answer) == (404, "The resource could not be found."), path
    made = await client.post(f"{V21}/os-volumes", json={"volume": {"size": 1}}, headers=AT_2_36)
    assert fault(made)[0] == 404
    assert not cloud2["c1"].volumes and not cloud2["c2"].volumes


async def test_snapshots_are_listed_and_shown_as_nova_shows_them(
    app: Starlette, client: httpx.AsyncClient, cloud2: dict[str, FakeCinder]
) -> None:
    made = await _create(client, size=1, availability_zone="az2")
    (pod_volume,) = cloud2["c2"].volumes
    snapshot_id = str(uuid.uuid4())
    cloud2["c2"].snapshots[snapshot_id] = {
        "id": snapshot_id,
        "volume_id": pod_volume,
        "status": "available",
        "size": 1,
        "name": "s",
        "description": None,
        "created_at": "2026-01-01T00:00:00.000000",
        "os-extended-snapshot-attributes:project_id": "p1",
    }
    async with app.state.sessions() as db:
        pod = await db.scalar(select(Pod).where(Pod.name == "pod2"))
        assert pod is not None
        await routed.record(db, snapshot_id, pod.id, "p1", kind="snapshot")
    wanted = {
        "id": snapshot_id,
        "volumeId": made["id"],
        "status": "available",
        "size": 1,
        "createdAt": "2026-01-01T00:00:00.000000",
        "displayName": "s",
        "displayDescription": None,
    }
    for path in ("/os-snapshots", "/os-snapshots/detail"):
        listed = await client.get(V21 + path, headers=MEMBER)
        assert listed.status_code == 200, listed.text
        assert listed.json() == {"snapshots": [wanted]}


def test_an_attached_volume_shows_its_first_attachment_as_nova() -> None:
    vol = {
        "id": "v",
        "attachments": [
            {"server_id": "s1", "device": "/dev/vdb", "attachment_id": "a1"},
            {"server_id": "s2", "device": "/dev/vdc", "attachment_id": "a2"},
        ],
        "volume_type": "lvm",
        "metadata": {"k": "v"},
    }
    shown = views.volume_view(vol)
    assert shown["attachments"] == [
        {"id": "v", "volumeId": "v", "serverId": "s1", "device": "/dev/vdb"}
    ]
    assert shown["volumeType"] == "lvm" and shown["metadata"] == {"k": "v"}
    no_device = views.volume_view({"id": "v", "attachments": [{"server_id": "s1"}]})
    assert no_device["attachments"] == [{"id": "v", "volumeId": "v", "serverId": "s1"}]


def test_create_bodies_are_cinderclients() -> None:
    given = {"display_name": "n", "display_description": "d", "metadata": {"a": "b"}}
    assert views.volume_create_body(given, "2") == {
        "volume": {"size": "2", "metadata": {"a": "b"}, "name": "n", "description": "d"}
    }
    assert views.snapshot_create_body({"volume_id": "v"}, True) == {
        "snapshot": {"volume_id": "v", "force": True, "name": None, "description": None}
    }


async def test_a_snapshot_is_made_shown_listed_and_deleted_as_nova_shows_them(
    client: httpx.AsyncClient, cloud2: dict[str, FakeCinder]
) -> None:
    volume = await _create(client, size=1, availability_zone="az2")
    body = {"snapshot": {"volume_id": volume["id"], "display_name": "s", "force": "true"}}
    made = await client.post(f"{V21}/os-snapshots", json=body, headers=MEMBER)
    assert made.status_code == 200, made.text
    snapshot = made.json()["snapshot"]
    assert set(snapshot) == {
        "id",
        "volumeId",
        "status",
        "size",
        "createdAt",
        "displayName",
        "displayDescription",
    }
    assert snapshot["volumeId"] == volume["id"] and snapshot["displayName"] == "s"
    (asked,) = [
        r for r in cloud2["c2"].requests if r.method == "POST" and "snapshots" in str(r.url)
    ]
    assert json.loads(asked.content)["snapshot"]["force"] is True
    shown = await client.get(f"{V21}/os-snapshots/{snapshot['id']}", headers=MEMBER)
    assert shown.status_code == 200, shown.text
    assert shown.json() == {"snapshot": snapshot}
    listed = await client.get(f"{V21}/os-snapshots/detail", headers=MEMBER)
    assert [s["id"] for s in listed.json()["snapshots"]] == [snapshot["id"]]
    gone = await client.delete(f"{V21}/os-snapshots/{snapshot['id']}", headers=MEMBER)
    assert gone.status_code == 202, gone.text
    assert not cloud2["c2"].snapshots
    again = await client.get(f"{V21}/os-snapshots/{snapshot['id']}", headers=MEMBER)
    assert fault(again) == (404, f"Snapshot {snapshot['id']} could not be found.")


async def test_a_snapshot_body_nova_refuses_is_its_400(
    client: httpx.AsyncClient, cloud2: dict[str, FakeCinder]
) -> None:
    for given in ({}, {"volume_id": NO_SUCH, "force": "maybe"}, {"volume_id": NO_SUCH, "x": 1}):
        answer = await client.post(f"{V21}/os-snapshots", json={"snapshot": given}, headers=MEMBER)
        assert fault(answer)[0] == 400, given
    assert not cloud2["c1"].requests and not cloud2["c2"].requests


async def test_cinders_refusals_are_novas(
    client: httpx.AsyncClient, cloud2: dict[str, FakeCinder]
) -> None:
    nowhere = {"volume": {"size": 1, "availability_zone": "nowhere"}}
    answer = await client.post(f"{V21}/os-volumes", json=nowhere, headers=MEMBER)
    status, message = fault(answer)
    assert status == 400 and message.startswith("Invalid input received: ")
    assert "nowhere" in message and "(HTTP 400)" in message
    # the top's quota: Cinder's 413 is Nova's 403 with Cinder's message
    quota = {"quota_set": {"volumes": 0}}
    put = await client.put("/volume/v3/os-quota-sets/p1", json=quota, headers=ADMIN)
    assert put.status_code == 200, put.text
    over = await client.post(f"{V21}/os-volumes", json={"volume": {"size": 1}}, headers=MEMBER)
    status, message = fault(over)
    assert status == 403 and "Maximum number of volumes allowed (0)" in message
    assert not cloud2["c1"].volumes and not cloud2["c2"].volumes


async def test_a_list_follows_the_top_s_next_links_as_cinderclient(
    client: httpx.AsyncClient, cloud2: dict[str, FakeCinder], monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = {str((await _create(client, size=1, availability_zone="az1"))["id"]) for _ in range(5)}
    monkeypatch.setattr(lists, "MAX_LIMIT", 2)  # the top's pages: 2, 2, 1
    page = await client.get("/volume/v3/volumes/detail", headers=MEMBER)
    assert len(page.json()["volumes"]) == 2 and page.json()["volumes_links"]
    listed = await client.get(f"{V21}/os-volumes", headers=MEMBER)
    assert listed.status_code == 200, listed.text
    assert {v["id"] for v in listed.json()["volumes"]} == ids
    assert len(listed.json()["volumes"]) == 5

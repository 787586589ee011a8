"""cascade-api's admin pods API with a fake Keystone in-process and a real SQLite database."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.unit.conftest import FakeKeystone
from tests.unit.fakenova import FakeCloud

ADMIN = {"X-Auth-Token": "admin-token"}
POD1 = {"pod": {"name": "pod1", "region_name": "pod1", "az": "az1"}}


def error(resp: httpx.Response) -> dict[str, Any]:
    body = resp.json()
    assert list(body) == ["errors"]
    (err,) = body["errors"]
    assert err["status"] == resp.status_code
    assert err["request_id"] == resp.headers["x-openstack-request-id"]
    return dict(err)


async def test_version_document_needs_no_token(client: httpx.AsyncClient) -> None:
    resp = await client.get("/")
    assert resp.status_code == 200
    assert resp.json()["versions"][0]["id"] == "v1"
    assert resp.headers["x-openstack-request-id"].startswith("req-")


@pytest.mark.parametrize("headers", [{}, {"X-Auth-Token": "bogus"}])
async def test_missing_or_invalid_token_is_401(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    resp = await client.get("/v1/pods", headers=headers)
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == 'Keystone uri="http://keystone.test"'
    assert resp.json()["error"]["code"] == 401
    assert resp.headers["x-openstack-request-id"].startswith("req-")


async def test_members_are_refused(client: httpx.AsyncClient) -> None:
    resp = await client.get("/v1/pods", headers={"X-Auth-Token": "member-token"})
    assert resp.status_code == 403
    assert error(resp)["code"] == "cascade.forbidden"


async def test_pod_lifecycle(client: httpx.AsyncClient) -> None:
    resp = await client.post("/v1/pods", json=POD1, headers=ADMIN)
    assert resp.status_code == 201
    pod = resp.json()["pod"]
    assert resp.headers["location"] == f"http://cascade.test/v1/pods/{pod['id']}"
    assert pod["pod_az"] == "az1" and pod["enabled"] is True and pod["weight"] == 1
    assert pod["tags"] == [] and pod["health"]["state"] == "unknown"

    listed = (await client.get("/v1/pods", headers=ADMIN)).json()["pods"]
    assert [p["id"] for p in listed] == [pod["id"]]

    changed = await client.patch(
        f"/v1/pods/{pod['id']}", json={"pod": {"enabled": False, "tags": ["gpu"]}}, headers=ADMIN
    )
    assert changed.status_code == 200
    assert changed.json()["pod"]["enabled"] is False
    assert changed.json()["pod"]["tags"] == ["gpu"]
    shown = (await client.get(f"/v1/pods/{pod['id']}", headers=ADMIN)).json()["pod"]
    assert shown["tags"] == ["gpu"] and shown["updated_at"] is not None

    assert (await client.delete(f"/v1/pods/{pod['id']}", headers=ADMIN)).status_code == 204
    gone = await client.get(f"/v1/pods/{pod['id']}", headers=ADMIN)
    assert gone.status_code == 404
    assert error(gone)["code"] == "cascade.pod.not_found"


async def test_duplicate_name_or_region_is_409(client: httpx.AsyncClient) -> None:
    assert (await client.post("/v1/pods", json=POD1, headers=ADMIN)).status_code == 201
    again = {"pod": {"name": "other", "region_name": "pod1", "az": "az1"}}
    resp = await client.post("/v1/pods", json=again, headers=ADMIN)
    assert resp.status_code == 409
    assert error(resp)["code"] == "cascade.pod.duplicate"
    assert len((await client.get("/v1/pods", headers=ADMIN)).json()["pods"]) == 1


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"pod": {"name": "p", "region_name": "r"}}, "missing pod field(s): az"),
        ({"pod": {**POD1["pod"], "colour": "red"}}, "unknown pod field(s): colour"),
        ({"pod": {**POD1["pod"], "weight": "9"}}, "'weight' must be an integer"),
        ({"pod": {**POD1["pod"], "weight": True}}, "'weight' must be an integer"),
        ({"pod": {**POD1["pod"], "weight": -1}}, "'weight' must be 0 or more"),
        ({"pod": {**POD1["pod"], "name": ""}}, "1 to 255 characters"),
        ({"pod": {**POD1["pod"], "tags": [1]}}, "list of non-empty strings"),
        ({"name": "pod1"}, 'the body must be {"pod": {...}}'),
        ([], 'the body must be {"pod": {...}}'),
    ],
)
async def test_bad_bodies_are_400_and_create_nothing(
    client: httpx.AsyncClient, body: Any, detail: str
) -> None:
    resp = await client.post("/v1/pods", json=body, headers=ADMIN)
    assert resp.status_code == 400
    assert detail in error(resp)["detail"]
    assert (await client.get("/v1/pods", headers=ADMIN)).json()["pods"] == []


async def test_malformed_and_oversized_bodies(client: httpx.AsyncClient) -> None:
    resp = await client.post("/v1/pods", content=b"{not json", headers=ADMIN)
    assert resp.status_code == 400
    assert error(resp)["code"] == "cascade.request.json"
    big = json.dumps({"pod": {**POD1["pod"], "tags": ["x" * 100] * 100}})
    resp = await client.post("/v1/pods", content=big.encode(), headers=ADMIN)
    assert resp.status_code == 413


async def test_token_validations_are_cached(
    client: httpx.AsyncClient, keystone: FakeKeystone
) -> None:
    for _ in range(5):
        assert (await client.get("/v1/pods", headers=ADMIN)).status_code == 200
    assert keystone.validations == 1


async def test_keystone_down_is_503_not_401(
    client: httpx.AsyncClient, keystone: FakeKeystone
) -> None:
    keystone.down = True
    resp = await client.get("/v1/pods", headers=ADMIN)
    assert resp.status_code == 503
    assert "cannot validate the token" in resp.json()["error"]["message"]


@pytest.mark.fake_pods
async def test_show_has_breakers_and_capacity(client: httpx.AsyncClient, pods: FakeCloud) -> None:
    """A pod's show reads its capacity from its Nova's hypervisor statistics, and lists the
    breaker of each pod service this process has called, in the list too."""
    listed = (await client.get("/v1/pods", headers=ADMIN)).json()["pods"]
    assert "capacity" not in listed[0]
    pod = listed[0]
    shown = (await client.get(f"/v1/pods/{pod['id']}", headers=ADMIN)).json()["pod"]
    assert shown["capacity"] == {"ram_mb": 4096, "free_ram_mb": 3072, "free_disk_gb": 40}
    assert shown["health"]["breakers"]["compute"] == "closed"
    listed = (await client.get("/v1/pods", headers=ADMIN)).json()["pods"]
    assert listed[0]["health"]["breakers"]["compute"] == "closed"

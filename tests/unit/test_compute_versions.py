"""Compute version documents and microversion negotiation, with fake pods."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from cascade.versions import Version
from tests.unit.conftest import FakeKeystone, PodHandler

ADMIN = {"X-Auth-Token": "admin-token"}
RANGES = {"c1": ("2.1", "2.100"), "c2": ("2.3", "2.95")}


@pytest.fixture
def pod_handler() -> PodHandler:
    def handler(request: httpx.Request) -> httpx.Response:
        low, high = RANGES[request.url.host]
        return httpx.Response(200, json={"version": {"min_version": low, "version": high}})

    return handler


@pytest.fixture
async def two_pods(client: httpx.AsyncClient, keystone: FakeKeystone) -> httpx.AsyncClient:
    keystone.catalog = [
        {
            "type": "compute",
            "endpoints": [
                {"interface": "public", "region_id": f"pod{n}", "url": f"http://c{n}:8774/v2.1"}
                for n in (1, 2)
            ],
        }
    ]
    for n in (1, 2):
        body = {"pod": {"name": f"pod{n}", "region_name": f"pod{n}", "az": f"az{n}"}}
        assert (await client.post("/v1/pods", json=body, headers=ADMIN)).status_code == 201
    return client


async def test_without_pods_the_range_is_what_cascade_implements(
    client: httpx.AsyncClient,
) -> None:
    resp = await client.get("/compute/")
    assert resp.status_code == 200
    _, doc = resp.json()["versions"]
    assert (doc["id"], doc["min_version"], doc["version"]) == ("v2.1", "2.1", "2.104")
    assert doc["links"][0]["href"] == "http://cascade.test/compute/v2.1/"


async def test_the_range_is_what_every_enabled_pod_supports(two_pods: httpx.AsyncClient) -> None:
    doc = (await two_pods.get("/compute/v2.1/")).json()["version"]
    assert (doc["min_version"], doc["version"]) == ("2.3", "2.95")
    assert doc["media-types"][0]["base"] == "application/json"
    # a disabled pod no longer narrows the range
    pod2 = (await two_pods.get("/v1/pods", headers=ADMIN)).json()["pods"][1]
    await two_pods.patch(f"/v1/pods/{pod2['id']}", json={"pod": {"enabled": False}}, headers=ADMIN)
    doc = (await two_pods.get("/compute/v2.1")).json()["version"]
    assert (doc["min_version"], doc["version"]) == ("2.1", "2.100")


@pytest.mark.parametrize(
    ("headers", "status", "fault", "message"),
    [
        (
            {"OpenStack-API-Version": "compute 9.9"},
            406,
            "computeFault",
            "Version 9.9 is not supported by the API. Minimum is 2.3 and maximum is 2.95.",
        ),
        ({"X-OpenStack-Nova-API-Version": "2.2"}, 406, "computeFault", "Minimum is 2.3"),
        (
            {"OpenStack-API-Version": "compute 2.x"},
            400,
            "badRequest",
            "API Version String 2.x is of invalid format. Must be of format MajorNum.MinorNum.",
        ),
    ],
)
async def test_unsupported_or_malformed_versions(
    two_pods: httpx.AsyncClient, headers: dict[str, str], status: int, fault: str, message: str
) -> None:
    resp = await two_pods.get("/compute/v2.1/flavors", headers={**ADMIN, **headers})
    assert resp.status_code == status
    assert resp.json()[fault]["code"] == status
    assert message in resp.json()[fault]["message"]


@pytest.mark.parametrize(
    ("headers", "echoed"),
    [
        ({}, "2.3"),
        ({"OpenStack-API-Version": "compute latest"}, "2.95"),
        ({"OpenStack-API-Version": "volume 3.5, compute 2.60"}, "2.60"),
        ({"X-OpenStack-Nova-API-Version": "2.10"}, "2.10"),
    ],
)
async def test_resources_not_served_yet_say_so_with_the_version_echoed(
    two_pods: httpx.AsyncClient, headers: dict[str, str], echoed: str
) -> None:
    resp = await two_pods.get("/compute/v2.1/os-no-such-thing", headers={**ADMIN, **headers})
    assert resp.status_code == 501
    assert "does not serve GET /os-no-such-thing" in resp.json()["notImplemented"]["message"]
    assert resp.headers["openstack-api-version"] == f"compute {echoed}"
    assert resp.headers["x-openstack-nova-api-version"] == echoed
    assert "OpenStack-API-Version" in resp.headers["vary"]


async def test_compute_resources_need_a_token(two_pods: httpx.AsyncClient) -> None:
    assert (await two_pods.get("/compute/v2.1/servers")).status_code == 401


def test_versions_compare_as_numbers() -> None:
    assert Version.parse("2.10") > Version.parse("2.9")
    for bad in ("2", "2.x", "02.1", "2.1.1", ""):
        with pytest.raises(ValueError):
            Version.parse(bad)


async def test_the_version_list_shows_v20_first_and_each_self_link_is_its_document(
    client: httpx.AsyncClient,
) -> None:
    """As Nova: v2.0 (deprecated) then v2.1, and each version's `self` link answers its
    document with the same `self` link (tempest's test_get_version_details)."""
    versions = (await client.get("/compute/")).json()["versions"]
    assert [(v["id"], v["status"]) for v in versions] == [
        ("v2.0", "DEPRECATED"),
        ("v2.1", "CURRENT"),
    ]
    assert (versions[0]["version"], versions[0]["min_version"]) == ("", "")
    for version in versions:
        (link,) = [x for x in version["links"] if x["rel"] == "self"]
        resp = await client.get(link["href"].removeprefix("http://cascade.test"))
        assert resp.status_code == 200, resp.text
        doc = resp.json()["version"]
        assert doc["id"] == version["id"]
        assert [x for x in doc["links"] if x["rel"] == "self"] == [link]
    v20 = (await client.get("/compute/v2/")).json()["version"]
    assert v20["media-types"][0]["type"] == "application/vnd.openstack.compute+json;version=2"


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/compute/v2.1/", {}, 200),
        ("/compute/v2.1/flavors", {}, 401),
        ("/compute/v2.1/extensions", ADMIN, 200),
        ("/compute/v2.1/extensions/nothing", ADMIN, 404),
        ("/compute/v2.1/os-no-such-thing", ADMIN, 501),
    ],
)
async def test_every_compute_answer_carries_its_request_id_twice(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], status: int
) -> None:
    """Nova's compute_req_id middleware: `x-compute-request-id` and
    `x-openstack-request-id`, one `req-<uuid>`, on answers and errors alike."""
    resp = await client.get(path, headers=headers)
    assert resp.status_code == status, resp.text
    ids = resp.headers.get_list("x-compute-request-id")
    assert len(ids) == 1 and ids == resp.headers.get_list("x-openstack-request-id")
    assert ids[0].startswith("req-") and len(ids[0]) == 40


async def test_other_apis_do_not_carry_the_compute_request_id(client: httpx.AsyncClient) -> None:
    resp = await client.get("/volume/v3/types", headers=ADMIN)
    assert "x-openstack-request-id" in resp.headers
    assert "x-compute-request-id" not in resp.headers


async def test_extensions_are_novas(client: httpx.AsyncClient) -> None:
    """Nova's fixed extension list (tempest: `Hosts` is listed, `os-consoles` shown)."""
    resp = await client.get("/compute/v2.1/extensions", headers=ADMIN)
    assert resp.status_code == 200, resp.text
    found = resp.json()["extensions"]
    assert len(found) == 99 and "Hosts" in [x["name"] for x in found]
    assert all(
        set(x) == {"alias", "description", "links", "name", "namespace", "updated"} for x in found
    )
    member = {"X-Auth-Token": "member-token"}
    shown = await client.get("/compute/v2.1/extensions/os-consoles", headers=member)
    assert shown.status_code == 200
    assert shown.json()["extension"] == next(x for x in found if x["alias"] == "os-consoles")
    missing = await client.get("/compute/v2.1/extensions/os-nothing", headers=member)
    assert missing.status_code == 404
    assert missing.json() == {
        "itemNotFound": {"code": 404, "message": "The resource could not be found."}
    }


async def test_a_pods_range_is_kept_on_its_row_and_not_asked_again(
    two_pods: httpx.AsyncClient, app: Starlette
) -> None:
    """The first version document asks the pods whose range is not known; the ranges
    stay on the pods' rows (the health check keeps them fresh), so the next process,
    or this one once its cache is stale, answers without asking any pod."""
    asked: list[str] = []
    handler = app.state.registry.transport.handler

    def counted(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.host)
        return handler(request)  # type: ignore[no-any-return]

    app.state.registry.transport.handler = counted
    doc = (await two_pods.get("/compute/v2.1/")).json()["version"]
    assert (doc["min_version"], doc["version"]) == ("2.3", "2.95")
    assert sorted(asked) == ["c1", "c2"]
    app.state.advertised.clear()
    doc = (await two_pods.get("/compute/v2.1/")).json()["version"]
    assert (doc["min_version"], doc["version"]) == ("2.3", "2.95")
    assert sorted(asked) == ["c1", "c2"]

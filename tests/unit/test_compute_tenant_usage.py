"""os-simple-tenant-usage over two fake pods: reports joined by tenant, paged as Nova pages
over its cells."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.unit.fakenova import FakeCloud

pytestmark = pytest.mark.fake_pods

ADMIN = {"X-Auth-Token": "admin-token"}
MEMBER = {"X-Auth-Token": "member-token"}
URL = "/compute/v2.1/os-simple-tenant-usage"


def at(version: str, token: dict[str, str] = ADMIN) -> dict[str, str]:
    return {**token, "OpenStack-API-Version": f"compute {version}"}


@pytest.fixture
def servers(pods: FakeCloud) -> dict[str, str]:
    """pod1: a (p1), b (p2), c (p1); pod2: d (p1), e (p2): name -> id."""
    made: dict[str, str] = {}
    for host, names in (("n1", "abc"), ("n2", "de")):
        for name in names:
            project = "p2" if name in "be" else "p1"
            made[name] = pods.pods[host].add_server(name, project)["id"]
    return made


def usages(body: dict[str, Any]) -> list[tuple[str, float, list[str]]]:
    return [
        (u["tenant_id"], u["total_hours"], [s["name"] for s in u.get("server_usages", [])])
        for u in body["tenant_usages"]
    ]


def marker_of(body: dict[str, Any], key: str = "tenant_usages_links") -> str:
    (link,) = body[key]
    assert link["rel"] == "next"
    assert link["href"].startswith("http://cascade.test/compute/v2.1/os-simple-tenant-usage")
    return str(parse_qs(urlsplit(link["href"]).query)["marker"][0])


async def test_every_tenants_usage_is_summed_over_the_pods(
    client: httpx.AsyncClient, servers: dict[str, str]
) -> None:
    resp = await client.get(URL, headers=ADMIN)
    assert resp.status_code == 200, resp.text
    assert usages(resp.json()) == [("p1", 6.0, []), ("p2", 4.0, [])]
    assert "tenant_usages_links" not in resp.json()
    assert set(resp.json()["tenant_usages"][0]) == {
        "tenant_id",
        "total_local_gb_usage",
        "total_vcpus_usage",
        "total_memory_mb_usage",
        "total_hours",
        "start",
        "stop",
    }
    detailed = await client.get(URL, params={"detailed": "1"}, headers=ADMIN)
    assert usages(detailed.json()) == [("p1", 6.0, ["a", "c", "d"]), ("p2", 4.0, ["b", "e"])]


async def test_pages_run_over_the_pods_in_order_from_240(
    client: httpx.AsyncClient, servers: dict[str, str]
) -> None:
    query = {"detailed": "1", "limit": "2"}
    first = await client.get(URL, params=query, headers=at("2.40"))
    assert first.status_code == 200, first.text
    assert usages(first.json()) == [("p1", 2.0, ["a"]), ("p2", 2.0, ["b"])]
    assert marker_of(first.json()) == servers["b"]
    second = await client.get(URL, params={**query, "marker": servers["b"]}, headers=at("2.40"))
    assert usages(second.json()) == [("p1", 4.0, ["c", "d"])]  # the page spans both pods
    assert marker_of(second.json()) == servers["d"]
    third = await client.get(URL, params={**query, "marker": servers["d"]}, headers=at("2.40"))
    assert usages(third.json()) == [("p2", 2.0, ["e"])]
    assert "tenant_usages_links" not in third.json()
    # before 2.40 there is no paging: limit and marker are not the report's
    old = await client.get(URL, params={**query, "marker": servers["d"]}, headers=at("2.39"))
    assert len(usages(old.json())) == 2 and "tenant_usages_links" not in old.json()


async def test_a_tenants_usage_and_who_may_see_it(
    client: httpx.AsyncClient, servers: dict[str, str]
) -> None:
    own = await client.get(f"{URL}/p1", headers=MEMBER)
    assert own.status_code == 200, own.text
    report = own.json()["tenant_usage"]
    assert (report["tenant_id"], report["total_hours"]) == ("p1", 6.0)
    assert [s["name"] for s in report["server_usages"]] == ["a", "c", "d"]
    paged = await client.get(f"{URL}/p1?limit=2", headers=at("2.40", MEMBER))
    assert [s["name"] for s in paged.json()["tenant_usage"]["server_usages"]] == ["a", "c"]
    assert marker_of(paged.json(), "tenant_usage_links") == servers["c"]
    assert "/os-simple-tenant-usage/p1?" in paged.json()["tenant_usage_links"][0]["href"]
    nobody = await client.get(f"{URL}/p9", headers=ADMIN)
    assert nobody.json() == {"tenant_usage": {}}
    for url in (f"{URL}/p2", URL):
        refused = await client.get(url, headers=MEMBER)
        assert refused.status_code == 403
        assert "os-simple-tenant-usage" in refused.json()["forbidden"]["message"]


async def test_refusals_and_pods_that_are_down(
    client: httpx.AsyncClient, pods: FakeCloud, servers: dict[str, str]
) -> None:
    resp = await client.get(URL, params={"marker": "nothing"}, headers=at("2.40"))
    assert resp.status_code == 400
    assert resp.json()["badRequest"]["message"] == "Marker nothing could not be found."
    resp = await client.get(URL, params={"start": "bad"}, headers=ADMIN)
    assert resp.status_code == 400
    assert "start time" in resp.json()["badRequest"]["message"]
    pods.pods["n1"].down = True
    resp = await client.get(URL, headers=ADMIN)
    assert resp.status_code == 200
    assert usages(resp.json()) == [("p1", 2.0, []), ("p2", 2.0, [])]
    assert resp.headers["x-cascade-unavailable-pods"] == "pod1"
    resp = await client.get(URL, params={"marker": servers["a"]}, headers=at("2.40"))
    assert resp.status_code == 503
    assert "pod1" in resp.json()["serviceUnavailable"]["message"]


async def test_an_empty_tenant_id_is_novas_404(client: httpx.AsyncClient) -> None:
    resp = await client.get(f"{URL}/?start=2026-01-01T00:00:00", headers=ADMIN)
    assert resp.status_code == 404
    assert resp.json() == {
        "itemNotFound": {"code": 404, "message": "The resource could not be found."}
    }

"""A project with nothing in any pod still gets Cinder's own answer to a bad list query:
one shared pod is asked when the list has filters or a sort of its own."""

from __future__ import annotations

import httpx
import pytest

from tests.unit.conftest import FakeKeystone
from tests.unit.fakecinder import FakeCinder
from tests.unit.fakenova import add_pod

MEMBER = {"X-Auth-Token": "member-token"}
SNAPSHOTS = "/volume/v3/p1/snapshots"


class Cinder(FakeCinder):
    """Cinder's 400 for a sort key it does not know (as its paginate_query says)."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        sort = request.url.params.get("sort", "")
        if "invalid" in sort:
            self.requests.append(request)
            body = {
                "badRequest": {"code": 400, "message": "Invalid input received: Invalid sort key"}
            }
            return httpx.Response(400, json=body)
        return super().__call__(request)


@pytest.fixture
def cinder() -> Cinder:
    return Cinder("c1", "nova-a")


@pytest.fixture
def pod_handler(cinder: Cinder) -> Cinder:
    return cinder


async def test_a_bad_sort_key_is_cinders_400_for_a_project_with_nothing(
    client: httpx.AsyncClient, keystone: FakeKeystone, cinder: Cinder
) -> None:
    url = "http://c1:8776/v3"
    keystone.catalog = [
        {
            "type": "volumev3",
            "endpoints": [{"interface": "public", "region_id": "pod1", "url": url}],
        }
    ]
    await add_pod(client, "pod1", "az1", pod_az="nova-a")
    # the default list of a project with nothing anywhere: no pod asked
    plain = await client.get(SNAPSHOTS, headers=MEMBER)
    assert (plain.status_code, plain.json()) == (200, {"snapshots": []})
    assert [r for r in cinder.requests if "snapshots" in r.url.path] == []
    bad = await client.get(f"{SNAPSHOTS}?sort_key=invalid", headers=MEMBER)
    assert bad.status_code == 400, bad.text
    assert "Invalid sort key" in bad.json()["badRequest"]["message"]
    good = await client.get(f"{SNAPSHOTS}?sort_key=status", headers=MEMBER)
    assert (good.status_code, good.json()) == (200, {"snapshots": []})

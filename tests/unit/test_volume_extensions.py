"""Cinder's extension list at the top (GET /extensions[/{alias}]): what every pod lists.
Two pods as in `test_volume_hosts` (each fake lists `os-hosts`,
`os-quota-class-sets` and one of its own)."""

from __future__ import annotations

import httpx

from tests.unit import test_volume_hosts
from tests.unit.fakecinder import FakeCinder

# the two pods' fixtures
novas, cinders = test_volume_hosts.novas, test_volume_hosts.cinders
pod_handler, cloud2 = test_volume_hosts.pod_handler, test_volume_hosts.cloud2

V3 = "/volume/v3"
MEMBER = {"X-Auth-Token": "member-token"}


async def test_the_extensions_are_those_every_pod_lists(
    client: httpx.AsyncClient, cloud2: dict[str, FakeCinder]
) -> None:
    listed = await client.get(f"{V3}/p1/extensions", headers=MEMBER)
    assert listed.status_code == 200, listed.text
    extensions = listed.json()["extensions"]
    assert [e["alias"] for e in extensions] == ["os-hosts", "os-quota-class-sets"]
    assert set(extensions[0]) == {"name", "alias", "description", "updated", "links"}
    one = await client.get(f"{V3}/extensions/os-hosts", headers=MEMBER)
    assert one.json() == {"extension": extensions[0]}
    for alias in ("os-only-c1", "nope"):
        missing = await client.get(f"{V3}/extensions/{alias}", headers=MEMBER)
        assert missing.status_code == 404
        assert missing.json() == {
            "itemNotFound": {"code": 404, "message": "The resource could not be found."}
        }


async def test_a_pod_that_is_down_leaves_the_list_to_the_others(
    client: httpx.AsyncClient, cloud2: dict[str, FakeCinder]
) -> None:
    cloud2["c2"].down = True
    listed = await client.get(f"{V3}/extensions", headers=MEMBER)
    assert listed.status_code == 200
    aliases = [e["alias"] for e in listed.json()["extensions"]]
    assert aliases == ["os-hosts", "os-quota-class-sets", "os-only-c1"]
    assert listed.headers["X-Cascade-Unavailable-Pods"] == "pod2"

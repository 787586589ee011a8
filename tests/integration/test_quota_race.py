"""Quota that cannot be overrun: 50 creates sent at once through the top against a quota
with room for 10, on the devcloud. Exactly 10 are made; the other 40 get the service's
own over-quota answer (Nova's 403, Cinder's 413, Neutron's 409), for servers (by
instances, cores and RAM), volumes (by volumes and gigabytes) and ports.

The project (`quota-race`, its member user of the same name) is this test's own; the
pods' own quotas are raised above the top's, so only the top can refuse. What each
variant made is deleted before the next, and the pods are checked to hold no more than
the top let through.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from devcloud.bench_cascade import ensure_account
from devcloud.layout import TOP_REGION, Layout
from devcloud.rest import Rest
from devcloud.seed import IMAGE_NAME
from tests.integration.conftest import DEVCLOUD_DIR, PODS

pytestmark = pytest.mark.integration
NAME = "quota-race"
CREATES = 50
ROOM = 10
FLAVOR = "1"  # m1.tiny: 1 vCPU, 512 MiB
FLAVOR_RAM = 512
COMPUTE = {"OpenStack-API-Version": "compute 2.79"}
VOLUME = {"OpenStack-API-Version": "volume 3.60"}
GONE_SECONDS = 180.0


async def _pods_roomy(admin: Rest, project: str) -> None:
    """Each pod lets the project make far more than the top will: only the top refuses."""
    for region in PODS:  # the devcloud's pod N is region podN
        nova = admin.endpoint("compute", region)
        body = {"quota_set": {"instances": 100, "cores": 100, "ram": 100 * FLAVOR_RAM}}
        await admin.call("nova", "PUT", f"{nova}/os-quota-sets/{project}", body)
        cinder = admin.endpoint("volumev3", region)
        body = {"quota_set": {"volumes": 100, "gigabytes": 1000}}
        await admin.call("cinder", "PUT", f"{cinder}/os-quota-sets/{project}", body)


async def _burst(
    http: httpx.AsyncClient, url: str, bodies: list[Any], headers: dict[str, str]
) -> tuple[Counter[int], list[dict[str, Any]]]:
    """Every body POSTed at once: the statuses, and the refusals' bodies."""
    answers = await asyncio.gather(*(http.post(url, json=b, headers=headers) for b in bodies))
    refused = [r.json() for r in answers if r.status_code >= 400]
    return Counter(r.status_code for r in answers), refused


async def _until_none(http: httpx.AsyncClient, url: str, key: str, headers: dict[str, str]) -> None:
    started = time.monotonic()
    while True:
        left = (await http.get(url, headers=headers)).json()[key]
        if not left:
            return
        assert time.monotonic() - started < GONE_SECONDS, f"{len(left)} {key} still there"
        await asyncio.sleep(2)


async def _servers(
    http: httpx.AsyncClient, admin: Rest, top: str, project: str, quota: dict[str, int], image: str
) -> None:
    body = {"quota_set": {"instances": -1, "cores": -1, "ram": -1, **quota}}
    await admin.call("cascade", "PUT", f"{top}/os-quota-sets/{project}", body, headers=COMPUTE)
    bodies = [
        {
            "server": {
                "name": f"{NAME}-{n}",
                "flavorRef": FLAVOR,
                "imageRef": image,
                "networks": "none",
            }
        }
        for n in range(CREATES)
    ]
    try:
        statuses, refused = await _burst(http, f"{top}/servers", bodies, COMPUTE)
        print(f"servers, quota {quota}: {dict(statuses)}")
        assert statuses == {202: ROOM, 403: CREATES - ROOM}, (quota, statuses, refused[:2])
        names = set(quota)
        for fault in refused:
            message = fault["forbidden"]["message"]
            assert message.startswith("Quota exceeded for "), message
            assert any(name in message for name in names), (quota, message)
        listed = (await http.get(f"{top}/servers", headers=COMPUTE)).json()["servers"]
        assert len(listed) == ROOM
    finally:
        for server in (await http.get(f"{top}/servers", headers=COMPUTE)).json()["servers"]:
            await http.delete(f"{top}/servers/{server['id']}", headers=COMPUTE)
        await _until_none(http, f"{top}/servers", "servers", COMPUTE)


async def _volumes(
    http: httpx.AsyncClient,
    admin: Rest,
    cinder: str,
    admin_cinder: str,
    project: str,
    quota: dict[str, int],
) -> None:
    body = {"quota_set": {"volumes": -1, "gigabytes": -1, **quota}}
    url = f"{admin_cinder}/os-quota-sets/{project}"
    await admin.call("cascade", "PUT", url, body, headers=VOLUME)
    bodies = [{"volume": {"name": f"{NAME}-{n}", "size": 1}} for n in range(CREATES)]
    try:
        statuses, refused = await _burst(http, f"{cinder}/volumes", bodies, VOLUME)
        print(f"volumes, quota {quota}: {dict(statuses)}")
        assert statuses == {202: ROOM, 413: CREATES - ROOM}, (quota, statuses, refused[:2])
        for fault in refused:
            assert "overLimit" in fault, fault
        listed = (await http.get(f"{cinder}/volumes", headers=VOLUME)).json()["volumes"]
        assert len(listed) == ROOM
    finally:
        started = time.monotonic()
        while True:  # a volume still creating cannot be deleted yet
            left = (await http.get(f"{cinder}/volumes/detail", headers=VOLUME)).json()["volumes"]
            if not left:
                break
            for volume in left:
                if volume["status"] in ("available", "error"):
                    await http.delete(f"{cinder}/volumes/{volume['id']}", headers=VOLUME)
            assert time.monotonic() - started < GONE_SECONDS, f"{len(left)} volumes still there"
            await asyncio.sleep(2)


async def _ports(http: httpx.AsyncClient, admin: Rest, neutron: str, project: str) -> None:
    net = (await http.post(f"{neutron}/v2.0/networks", json={"network": {"name": NAME}})).json()
    network = net["network"]["id"]
    try:
        subnet = {"subnet": {"network_id": network, "ip_version": 4, "cidr": "10.99.0.0/24"}}
        assert (await http.post(f"{neutron}/v2.0/subnets", json=subnet)).status_code == 201
        # what the project has already (a network's own ports, if any) plus the room
        have = len((await http.get(f"{neutron}/v2.0/ports")).json()["ports"])
        body = {"quota": {"port": have + ROOM}}
        await admin.call("cascade", "PUT", f"{neutron}/v2.0/quotas/{project}", body)
        bodies = [{"port": {"network_id": network, "name": f"{NAME}-{n}"}} for n in range(CREATES)]
        statuses, refused = await _burst(http, f"{neutron}/v2.0/ports", bodies, {})
        print(f"ports, quota {have + ROOM} ({have} there): {dict(statuses)}")
        assert statuses == {201: ROOM, 409: CREATES - ROOM}, (statuses, refused[:2])
        for fault in refused:
            assert fault["NeutronError"]["type"] == "OverQuota", fault
        mine = (await http.get(f"{neutron}/v2.0/ports")).json()["ports"]
        assert len(mine) == have + ROOM, [p["name"] for p in mine]
    finally:
        for port in (await http.get(f"{neutron}/v2.0/ports")).json()["ports"]:
            if port["device_owner"] == "":
                await http.delete(f"{neutron}/v2.0/ports/{port['id']}")
        await http.delete(f"{neutron}/v2.0/networks/{network}")


def test_fifty_creates_at_once_make_exactly_what_the_quota_allows(clouds_yaml: Path) -> None:
    async def scenario() -> None:
        layout = Layout(DEVCLOUD_DIR)
        async with Rest(layout.auth_url) as admin:
            project = await ensure_account(admin, NAME, NAME)
            await _pods_roomy(admin, project)
            glance = layout.url("glance")
            images = await admin.call("glance", "GET", f"{glance}/v2/images?name={IMAGE_NAME}")
            image = str(images["images"][0]["id"])
            top = admin.endpoint("compute", TOP_REGION)
            admin_cinder = admin.endpoint("volumev3", TOP_REGION)
            async with Rest(layout.auth_url, user=NAME, project=NAME) as user:
                headers = {"X-Auth-Token": user.token}
                user_top = user.endpoint("compute", TOP_REGION)
                cinder = user.endpoint("volumev3", TOP_REGION)
                neutron = user.endpoint("network", TOP_REGION)
                async with httpx.AsyncClient(headers=headers, timeout=120) as http:
                    assert user_top == top
                    for quota in ({"instances": ROOM}, {"cores": ROOM}, {"ram": ROOM * FLAVOR_RAM}):
                        await _servers(http, admin, top, project, quota, image)
                    for quota in ({"volumes": ROOM}, {"gigabytes": ROOM}):
                        await _volumes(http, admin, cinder, admin_cinder, project, quota)
                    await _ports(http, admin, neutron.rstrip("/"), project)

    asyncio.run(scenario())

"""Compute limits and quota sets answered by the top: limits in Cascade's DB, usage summed
over two fake pods, server creates checked against them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from cascade.api.compute import schemas
from cascade.api.compute.errors import ComputeError
from cascade.conf import QuotaSection, sample
from cascade.db.models import Keypair, Pod, Routing
from cascade.pods.compute import Caller
from cascade.services.compute import quotas
from tests.unit.conftest import FakeKeystone
from tests.unit.fakenova import FakeCloud, register

pytestmark = pytest.mark.fake_pods

ADMIN = {"X-Auth-Token": "admin-token"}
MEMBER = {"X-Auth-Token": "member-token"}
OTHER = {"X-Auth-Token": "other-token"}
QS = "/compute/v2.1/os-quota-sets"
NETWORK = ("fixed_ips", "floating_ips", "security_group_rules", "security_groups")
INJECTED = ("injected_file_content_bytes", "injected_file_path_bytes", "injected_files")
DEFAULTS = {
    "cores": 20,
    "fixed_ips": -1,
    "floating_ips": -1,
    "injected_file_content_bytes": 10240,
    "injected_file_path_bytes": 255,
    "injected_files": 5,
    "instances": 10,
    "key_pairs": 100,
    "metadata_items": 128,
    "ram": 51200,
    "security_group_rules": -1,
    "security_groups": -1,
    "server_group_members": 10,
    "server_groups": 10,
}


def at(version: str, headers: dict[str, str] = MEMBER) -> dict[str, str]:
    return {**headers, "OpenStack-API-Version": f"compute {version}"}


def used(instances: int, cores: int, ram: int, groups: int = 0) -> dict[str, int]:
    return {
        "totalInstancesUsed": instances,
        "totalCoresUsed": cores,
        "totalRAMUsed": ram,
        "totalServerGroupsUsed": groups,
    }


def forbidden(rule: str) -> dict[str, Any]:
    return {"forbidden": {"code": 403, "message": f"Policy doesn't allow {rule} to be performed."}}


def bad_request(message: str) -> dict[str, Any]:
    return {"badRequest": {"code": 400, "message": message}}


@pytest.fixture
async def pods(client: httpx.AsyncClient, keystone: FakeKeystone, cloud: FakeCloud) -> FakeCloud:
    await register(client, keystone, cloud)
    cloud.pods["n1"].absolute["p1"] = used(3, 5, 1024, 1)
    cloud.pods["n2"].absolute["p1"] = used(4, 6, 2048, 2)
    cloud.pods["n1"].absolute["p2"] = used(1, 1, 64)
    return cloud


def limit_calls(cloud: FakeCloud) -> list[httpx.Request]:
    return [r for p in cloud.pods.values() for r in p.requests if r.url.path == "/v2.1/limits"]


def last_limit_calls(cloud: FakeCloud) -> list[httpx.Request]:
    """Each pod's latest GET /limits."""
    return [
        [r for r in p.requests if r.url.path == "/v2.1/limits"][-1] for p in cloud.pods.values()
    ]


async def put(
    client: httpx.AsyncClient, values: Any, version: str = "2.1", query: str = ""
) -> httpx.Response:
    return await client.put(
        f"{QS}/p1{query}", json={"quota_set": values}, headers=at(version, ADMIN)
    )


# --- GET /limits ----------------------------------------------------------------------


async def test_limits_are_the_top_quota_with_usage_summed_over_the_pods(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    resp = await client.get("/compute/v2.1/limits", headers=MEMBER)
    assert resp.status_code == 200, resp.text
    assert resp.headers["openstack-api-version"] == "compute 2.1"
    assert "x-cascade-unavailable-pods" not in resp.headers
    assert resp.json() == {
        "limits": {
            "rate": [],
            "absolute": {
                "maxTotalRAMSize": 51200,
                "maxTotalInstances": 10,
                "maxTotalCores": 20,
                "maxTotalKeypairs": 100,
                "maxTotalFloatingIps": -1,
                "maxServerMeta": 128,
                "maxImageMeta": 128,
                "maxPersonality": 5,
                "maxPersonalitySize": 10240,
                "maxSecurityGroups": -1,
                "maxSecurityGroupRules": -1,
                "maxServerGroups": 10,
                "maxServerGroupMembers": 10,
                "totalRAMUsed": 3072,
                "totalCoresUsed": 11,
                "totalInstancesUsed": 7,
                "totalFloatingIpsUsed": 0,
                "totalSecurityGroupsUsed": 0,
                "totalServerGroupsUsed": 3,
            },
        }
    }
    calls = limit_calls(pods)
    assert len(calls) == 2
    assert all(r.headers["x-auth-token"] == "member-token" for r in calls)
    assert all("tenant_id" not in r.url.params for r in calls)


@pytest.mark.parametrize(
    ("version", "gone"),
    [
        ("2.35", set()),
        (
            "2.36",
            {
                "maxTotalFloatingIps",
                "maxSecurityGroups",
                "maxSecurityGroupRules",
                "totalFloatingIpsUsed",
                "totalSecurityGroupsUsed",
            },
        ),
        (
            "2.39",
            {
                "maxTotalFloatingIps",
                "maxSecurityGroups",
                "maxSecurityGroupRules",
                "totalFloatingIpsUsed",
                "totalSecurityGroupsUsed",
                "maxImageMeta",
            },
        ),
        (
            "2.57",
            {
                "maxTotalFloatingIps",
                "maxSecurityGroups",
                "maxSecurityGroupRules",
                "totalFloatingIpsUsed",
                "totalSecurityGroupsUsed",
                "maxImageMeta",
                "maxPersonality",
                "maxPersonalitySize",
            },
        ),
    ],
)
async def test_limits_fields_follow_the_microversion(
    client: httpx.AsyncClient, pods: FakeCloud, version: str, gone: set[str]
) -> None:
    every = (await client.get("/compute/v2.1/limits", headers=MEMBER)).json()["limits"]["absolute"]
    resp = await client.get("/compute/v2.1/limits", headers=at(version))
    assert resp.status_code == 200
    assert set(resp.json()["limits"]["absolute"]) == set(every) - gone


async def test_limits_of_another_project_need_an_admin(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    resp = await client.get("/compute/v2.1/limits?tenant_id=p1", headers=MEMBER)
    assert resp.status_code == 403
    assert resp.json() == forbidden("os_compute_api:limits:other_project")
    assert limit_calls(pods) == []
    assert (await put(client, {"instances": 30})).status_code == 200
    resp = await client.get("/compute/v2.1/limits?tenant_id=p1", headers=ADMIN)
    assert resp.json()["limits"]["absolute"]["maxTotalInstances"] == 30
    resp = await client.get("/compute/v2.1/limits?tenant_id=p2", headers=ADMIN)
    absolute = resp.json()["limits"]["absolute"]
    assert (absolute["maxTotalInstances"], absolute["totalInstancesUsed"]) == (10, 1)
    asked = last_limit_calls(pods)
    assert [r.url.params.get("tenant_id") for r in asked] == ["p2", "p2"]
    assert all(r.headers["x-auth-token"] == "admin-token" for r in asked)


async def test_limits_refuse_unknown_query_parameters_from_2_75(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    assert (await client.get("/compute/v2.1/limits?foo=1", headers=at("2.74"))).status_code == 200
    resp = await client.get("/compute/v2.1/limits?foo=1&bar=2", headers=at("2.75"))
    assert resp.status_code == 400
    message = "Additional properties are not allowed ('bar', 'foo' were unexpected)"
    assert resp.json() == bad_request(message)


async def test_a_pod_down_is_left_out_and_named(client: httpx.AsyncClient, pods: FakeCloud) -> None:
    pods.pods["n2"].down = True
    resp = await client.get("/compute/v2.1/limits", headers=MEMBER)
    assert resp.status_code == 200
    assert resp.headers["x-cascade-unavailable-pods"] == "pod2"
    absolute = resp.json()["limits"]["absolute"]
    assert (absolute["totalInstancesUsed"], absolute["totalRAMUsed"]) == (3, 1024)
    resp = await client.get(f"{QS}/p1/detail", headers=MEMBER)
    assert resp.headers["x-cascade-unavailable-pods"] == "pod2"
    assert resp.json()["quota_set"]["cores"]["in_use"] == 5


# --- GET /os-quota-sets ---------------------------------------------------------------


async def test_defaults_are_the_configured_ones_per_microversion(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    resp = await client.get(f"{QS}/anything/defaults", headers=OTHER)
    assert resp.status_code == 200
    assert resp.json() == {"quota_set": {"id": "anything", **DEFAULTS}}
    resp = await client.get(f"{QS}/p1/defaults", headers=at("2.36"))
    assert set(resp.json()["quota_set"]) == {"id", *DEFAULTS} - set(NETWORK)
    resp = await client.get(f"{QS}/p1/defaults", headers=at("2.57"))
    assert set(resp.json()["quota_set"]) == {"id", *DEFAULTS} - set(NETWORK) - set(INJECTED)


async def test_show_update_and_delete(client: httpx.AsyncClient, pods: FakeCloud) -> None:
    resp = await client.get(f"{QS}/p1", headers=MEMBER)
    assert resp.status_code == 200
    assert resp.json() == {"quota_set": {"id": "p1", **DEFAULTS}}
    resp = await put(client, {"instances": 50, "cores": "-1", "ram": 4096, "floating_ips": 3})
    assert resp.status_code == 200, resp.text
    updated = {**DEFAULTS, "instances": 50, "cores": -1, "ram": 4096, "floating_ips": 3}
    assert resp.json() == {"quota_set": updated}  # no id, as Nova
    assert (await client.get(f"{QS}/p1", headers=MEMBER)).json()["quota_set"]["instances"] == 50
    resp = await put(client, {"instances": 40}, "2.57")
    assert resp.json()["quota_set"]["instances"] == 40
    assert set(resp.json()["quota_set"]) == set(DEFAULTS) - set(NETWORK) - set(INJECTED)
    other = (await client.get(f"{QS}/p2", headers=OTHER)).json()["quota_set"]
    assert other["instances"] == 10  # another project keeps the defaults
    resp = await client.delete(f"{QS}/p1", headers=ADMIN)
    assert resp.status_code == 202
    assert resp.content == b""
    assert (await client.get(f"{QS}/p1", headers=MEMBER)).json()["quota_set"] == {
        "id": "p1",
        **DEFAULTS,
    }


async def test_detail_shows_usage_over_the_pods_and_the_users_keypairs(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    async with app.state.sessions() as db:
        for n, user in ((1, "u1"), (2, "u1"), (3, "u2")):
            db.add(
                Keypair(
                    id=f"k{n}",
                    user_id=user,
                    name=f"key{n}",
                    type="ssh",
                    fingerprint="f",
                    public_key="ssh-ed25519 AAAA",
                    created_at=now,
                )
            )
        await db.commit()
    resp = await client.get(f"{QS}/p1/detail", headers=MEMBER)
    assert resp.status_code == 200, resp.text
    quota_set = resp.json()["quota_set"]
    assert quota_set.pop("id") == "p1"
    assert set(quota_set) == set(DEFAULTS)
    assert quota_set["instances"] == {"in_use": 7, "limit": 10, "reserved": 0}
    assert quota_set["cores"] == {"in_use": 11, "limit": 20, "reserved": 0}
    assert quota_set["ram"] == {"in_use": 3072, "limit": 51200, "reserved": 0}
    assert quota_set["server_groups"] == {"in_use": 3, "limit": 10, "reserved": 0}
    assert quota_set["key_pairs"] == {"in_use": 2, "limit": 100, "reserved": 0}
    assert quota_set["floating_ips"] == {"in_use": 0, "limit": -1, "reserved": 0}
    # an admin asks the pods about another project with tenant_id
    resp = await client.get(f"{QS}/p2/detail", headers=at("2.57", ADMIN))
    quota_set = resp.json()["quota_set"]
    assert quota_set["instances"]["in_use"] == 1
    assert quota_set["key_pairs"]["in_use"] == 0
    assert "injected_files" not in quota_set
    assert [r.url.params["tenant_id"] for r in last_limit_calls(pods)] == ["p2", "p2"]


# --- policy ---------------------------------------------------------------------------


async def test_members_read_only_their_own_project(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    resp = await client.get(f"{QS}/p2", headers=MEMBER)
    assert resp.status_code == 403
    assert resp.json() == forbidden("os_compute_api:os-quota-sets:show")
    resp = await client.get(f"{QS}/p2/detail", headers=MEMBER)
    assert resp.status_code == 403
    assert resp.json() == forbidden("os_compute_api:os-quota-sets:detail")
    assert limit_calls(pods) == []
    assert (await client.get(f"{QS}/p2", headers=ADMIN)).status_code == 200


async def test_members_cannot_update_or_delete(client: httpx.AsyncClient, pods: FakeCloud) -> None:
    resp = await client.put(f"{QS}/p1", json={"quota_set": {"instances": 99}}, headers=MEMBER)
    assert resp.status_code == 403
    assert resp.json() == forbidden("os_compute_api:os-quota-sets:update")
    resp = await client.delete(f"{QS}/p1", headers=MEMBER)
    assert resp.status_code == 403
    assert resp.json() == forbidden("os_compute_api:os-quota-sets:delete")
    assert (await client.get(f"{QS}/p1", headers=MEMBER)).json()["quota_set"]["instances"] == 10


# --- PUT validation -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "version", "message"),
    [
        (
            {"instances": "abc"},
            "2.1",
            "Invalid input for field/attribute instances. Value: abc. "
            "'abc' does not match '^-?[0-9]+$'",
        ),
        (
            {"instances": 1.5},
            "2.1",
            "Invalid input for field/attribute instances. Value: 1.5. "
            "1.5 is not of type 'integer', 'string'",
        ),
        (
            {"cores": True},
            "2.1",
            "Invalid input for field/attribute cores. Value: True. "
            "True is not of type 'integer', 'string'",
        ),
        (
            {"instances": -2},
            "2.1",
            "Invalid input for field/attribute instances. Value: -2. "
            "-2 is less than the minimum of -1",
        ),
        (
            {"ram": "-5"},
            "2.1",
            "Invalid input for field/attribute ram. Value: -5. -5 is less than the minimum of -1",
        ),
        (
            {"ram": 2**31},
            "2.1",
            "Invalid input for field/attribute ram. Value: 2147483648. "
            "2147483648 is greater than the maximum of 2147483647",
        ),
        (
            {"bogus": 1, "instances": "x"},
            "2.1",
            "Invalid input for field/attribute instances. Value: x. "
            "'x' does not match '^-?[0-9]+$'",
        ),
        (
            {"bogus": 1, "zzz": 2, "instances": 5},
            "2.1",
            "Invalid input for field/attribute quota_set. "
            "Value: {'bogus': 1, 'zzz': 2, 'instances': 5}. "
            "Additional properties are not allowed ('bogus', 'zzz' were unexpected)",
        ),
        (
            {"floating_ips": 1},
            "2.36",
            "Invalid input for field/attribute quota_set. Value: {'floating_ips': 1}. "
            "Additional properties are not allowed ('floating_ips' was unexpected)",
        ),
        (
            {"injected_files": 1},
            "2.57",
            "Invalid input for field/attribute quota_set. Value: {'injected_files': 1}. "
            "Additional properties are not allowed ('injected_files' was unexpected)",
        ),
        (
            {"ram": "b", "force": 5, "cores": "a"},
            "2.1",
            "Invalid input for field/attribute cores. Value: a. 'a' does not match '^-?[0-9]+$'",
        ),
        (
            {"force": 5},
            "2.1",
            "Invalid input for field/attribute force. Value: 5. "
            "5 is not of type 'boolean', 'string'",
        ),
        (
            {"force": "maybe"},
            "2.1",
            "Invalid input for field/attribute force. Value: maybe. 'maybe' is not one of "
            "[True, 'True', 'TRUE', 'true', '1', 'ON', 'On', 'on', 'YES', 'Yes', 'yes', "
            "False, 'False', 'FALSE', 'false', '0', 'OFF', 'Off', 'off', 'NO', 'No', 'no']",
        ),
    ],
)
async def test_bad_values_are_refused_as_nova_does(
    client: httpx.AsyncClient, pods: FakeCloud, values: Any, version: str, message: str
) -> None:
    resp = await put(client, values, version)
    assert resp.status_code == 400
    assert resp.json() == bad_request(message)
    assert (await client.get(f"{QS}/p1", headers=MEMBER)).json()["quota_set"] == {
        "id": "p1",
        **DEFAULTS,
    }


def test_a_number_past_pythons_digit_limit_is_too_large() -> None:
    # int() refuses more than 4300 digits; Nova then compares it as a float
    with pytest.raises(ComputeError) as caught:
        schemas.check(schemas.QUOTA, "9" * 5000)
    assert caught.value.message == ("inf is greater than the maximum of 2147483647")


async def test_a_whole_float_is_an_integer_as_in_nova(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    # Nova's Draft 2020-12 validator takes 5.0 as an integer
    resp = await put(client, {"metadata_items": 5.0, "key_pairs": "7"})
    assert resp.status_code == 200
    assert resp.json()["quota_set"]["metadata_items"] == 5
    assert resp.json()["quota_set"]["key_pairs"] == 7


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "'quota_set' is a required property"),
        ({"x": 1}, "'quota_set' is a required property"),
        ([], "[] is not of type 'object'"),
        (
            {"quota_set": {"instances": "x"}, "y": 1},
            "Invalid input for field/attribute instances. Value: x. "
            "'x' does not match '^-?[0-9]+$'",
        ),
        (
            {"quota_set": {}, "x": 1},
            "Additional properties are not allowed ('x' was unexpected)",
        ),
        (
            {"quota_set": 5},
            "Invalid input for field/attribute quota_set. Value: 5. 5 is not of type 'object'",
        ),
    ],
)
async def test_bad_bodies_are_refused(
    client: httpx.AsyncClient, pods: FakeCloud, body: Any, message: str
) -> None:
    resp = await client.put(f"{QS}/p1", json=body, headers=ADMIN)
    assert resp.status_code == 400
    assert resp.json() == bad_request(message)


async def test_a_limit_below_usage_needs_force(client: httpx.AsyncClient, pods: FakeCloud) -> None:
    resp = await put(client, {"instances": 6, "key_pairs": 0})
    assert resp.status_code == 400
    message = (
        "Quota limit 6 for instances must be greater than or equal to already used and reserved 7."
    )
    assert resp.json() == bad_request(message)
    assert (await put(client, {"instances": 7})).status_code == 200
    assert (await put(client, {"instances": -1})).status_code == 200
    resp = await put(client, {"instances": 1, "force": "True"})
    assert resp.status_code == 200
    assert resp.json()["quota_set"]["instances"] == 1
    calls = len(limit_calls(pods))
    assert (await put(client, {"metadata_items": 0, "force": False})).status_code == 200
    assert len(limit_calls(pods)) == calls  # nothing counted: the pods are not asked


async def test_quota_sets_refuse_unknown_query_parameters_from_2_75(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    assert (await client.get(f"{QS}/p1?foo=1", headers=at("2.74"))).status_code == 200
    resp = await client.get(f"{QS}/p1?foo=1", headers=at("2.75"))
    assert resp.status_code == 400
    assert resp.json() == bad_request(
        "Additional properties are not allowed ('foo' was unexpected)"
    )


# --- check_create ---------------------------------------------------------------------


async def check(
    app: Starlette, count: int, vcpus: int, ram: int, user_id: str | None = None
) -> None:
    async with app.state.sessions() as db:
        if user_id is None:  # the signature servers.py has always called
            await quotas.check_create(
                db,
                app.state.registry,
                Caller("member-token", "2.1", "req-1"),
                "p1",
                count,
                vcpus,
                ram,
                conf=app.state.conf.quota,
            )
        else:
            await quotas.check_create(
                db,
                app.state.registry,
                Caller("member-token", "2.1", "req-1"),
                "p1",
                count,
                vcpus,
                ram,
                conf=app.state.conf.quota,
                user_id=user_id,
            )


async def set_limits(app: Starlette, **values: int) -> None:
    async with app.state.sessions() as db:
        await quotas.update(db, app.state.conf.quota, "p1", values)


@pytest.mark.parametrize(
    ("limits", "request_", "message"),
    [
        (
            {"instances": 7},
            (1, 1, 64),
            "Quota exceeded for instances: Requested 1, but already used 7 of 7 instances",
        ),
        (
            {"cores": 12},
            (1, 2, 64),
            "Quota exceeded for cores: Requested 2, but already used 11 of 12 cores",
        ),
        (
            {"ram": 4096},
            (2, 1, 1024),
            "Quota exceeded for ram: Requested 2048, but already used 3072 of 4096 ram",
        ),
        (
            {"instances": 8, "cores": 12, "ram": -1},
            (2, 1, 64),
            "Quota exceeded for cores, instances: Requested 2, 2, but already used 11, 7 "
            "of 12, 8 cores, instances",
        ),
    ],
)
async def test_check_create_refuses_past_the_top_quota(
    app: Starlette,
    pods: FakeCloud,
    limits: dict[str, int],
    request_: tuple[int, int, int],
    message: str,
) -> None:
    await set_limits(app, **limits)
    with pytest.raises(quotas.OverQuota) as caught:
        await check(app, *request_)
    assert caught.value.message == message
    assert str(caught.value) == message


async def test_check_create_allows_up_to_the_limit(app: Starlette, pods: FakeCloud) -> None:
    await check(app, 3, 3, 1024)  # 10 instances, 20 cores: exactly the default limits
    await set_limits(app, instances=-1, cores=-1, ram=-1)
    calls = len(limit_calls(pods))
    await check(app, 1000, 64, 10**6)
    assert len(limit_calls(pods)) == calls  # nothing limited: the pods are not asked


async def test_check_create_counts_routed_servers_of_a_pod_down(
    app: Starlette, pods: FakeCloud
) -> None:
    pods.pods["n2"].down = True
    await set_limits(app, instances=5)
    await check(app, 2, 1, 64)  # pod1 counts 3
    now = datetime.now(UTC).replace(tzinfo=None)
    async with app.state.sessions() as db:
        pod_id = await db.scalar(select(Pod.id).where(Pod.name == "pod2"))
        assert pod_id is not None
        db.add(
            Routing(
                id="r1",
                resource_type="server",
                top_id="s1",
                pod_id=pod_id,
                bottom_id="s1",
                project_id="p1",
                status="active",
                created_at=now,
            )
        )
        await db.commit()
    with pytest.raises(quotas.OverQuota) as caught:
        await check(app, 2, 1, 64)
    assert caught.value.message == (
        "Quota exceeded for instances: Requested 2, but already used 4 of 5 instances"
    )


# --- the service and the configuration ------------------------------------------------


async def test_usage_reports_the_pods_missing(app: Starlette, pods: FakeCloud) -> None:
    pods.pods["n1"].down = True
    async with app.state.sessions() as db:
        found = await quotas.usage(
            db, app.state.registry, Caller("member-token", "2.1", ""), "p1", user_id="u9"
        )
    assert found.unavailable == ["pod1"]
    assert found.counts["instances"] == 4
    assert found.counts["key_pairs"] == 0


async def test_update_refuses_unknown_resources_and_bad_values(app: Starlette) -> None:
    async with app.state.sessions() as db:
        with pytest.raises(quotas.InvalidQuota, match="Unknown quota resources bogus"):
            await quotas.update(db, app.state.conf.quota, "p1", {"bogus": 1})
        with pytest.raises(quotas.InvalidQuota, match="less than the minimum of -1"):
            await quotas.update(db, app.state.conf.quota, "p1", {"cores": -3})
        assert await quotas.limits(db, app.state.conf.quota, "p1") == DEFAULTS


def test_defaults_come_from_the_quota_section() -> None:
    assert quotas.defaults(QuotaSection()) == DEFAULTS
    changed = quotas.defaults(QuotaSection(instances=3, injected_file_path_length=9))
    assert (changed["instances"], changed["injected_file_path_bytes"]) == (3, 9)
    text = sample()
    assert "[quota]" in text
    assert "#instances = 10" in text
    assert "#injected_file_path_length = 255" in text

"""Compute quota classes (os-quota-class-sets) kept at the top: the class `default` is
every project's default; other classes are only kept."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from cascade.services.compute import quotas
from tests.unit.fakenova import FakeCloud
from tests.unit.test_compute_quotas import (
    ADMIN,
    DEFAULTS,
    INJECTED,
    MEMBER,
    NETWORK,
    QS,
    at,
    bad_request,
    check,
    forbidden,
    put,
    used,
)

pytestmark = pytest.mark.fake_pods

QC = "/compute/v2.1/os-quota-class-sets"
GROUPS = ("server_group_members", "server_groups")


@pytest.fixture
async def pods(pods: FakeCloud) -> FakeCloud:
    cloud = pods
    cloud.pods["n1"].absolute["p1"] = used(3, 5, 1024, 1)
    cloud.pods["n2"].absolute["p1"] = used(4, 6, 2048, 2)
    return cloud


def without(values: dict[str, int], *names: str) -> dict[str, int]:
    return {k: v for k, v in values.items() if k not in names}


async def show(client: httpx.AsyncClient, name: str, version: str = "2.1") -> dict[str, Any]:
    resp = await client.get(f"{QC}/{name}", headers=at(version, ADMIN))
    assert resp.status_code == 200, resp.text
    found: dict[str, Any] = resp.json()["quota_class_set"]
    return found


async def update(
    client: httpx.AsyncClient, name: str, values: Any, version: str = "2.1"
) -> httpx.Response:

    body = {"quota_class_set": values}
    return await client.put(f"{QC}/{name}", json=body, headers=at(version, ADMIN))


@pytest.mark.parametrize(
    ("version", "hidden"),
    [
        ("2.1", GROUPS),
        ("2.49", GROUPS),
        ("2.50", NETWORK),
        ("2.56", NETWORK),
        ("2.57", NETWORK + INJECTED),
    ],
)
async def test_show_has_nova_fields_per_microversion(
    client: httpx.AsyncClient, pods: FakeCloud, version: str, hidden: tuple[str, ...]
) -> None:
    resp = await client.get(f"{QC}/default", headers=at(version, ADMIN))
    assert resp.status_code == 200
    assert resp.headers["openstack-api-version"] == f"compute {version}"
    assert resp.json() == {"quota_class_set": {"id": "default", **without(DEFAULTS, *hidden)}}
    resp = await update(client, "default", {}, version)
    assert resp.json() == {"quota_class_set": without(DEFAULTS, *hidden)}  # no id


@pytest.mark.parametrize("version", ["2.1", "2.57"])
async def test_update_default_quotas_as_tempest_does(
    client: httpx.AsyncClient, pods: FakeCloud, version: str
) -> None:
    original = await show(client, "default", version)
    assert original.pop("id") == "default"
    raised = {name: value + 100 for name, value in original.items()}
    resp = await update(client, "default", raised, version)
    assert resp.status_code == 200, resp.text
    assert resp.json()["quota_class_set"].items() >= raised.items()
    assert (await show(client, "default", version)).items() >= raised.items()
    restored = await update(client, "default", original, version)
    assert restored.json()["quota_class_set"] == original


async def test_the_default_class_is_every_projects_default(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    resp = await update(client, "default", {"instances": 8, "cores": "40", "fixed_ips": 5})
    assert resp.status_code == 200
    assert (await client.get(f"{QS}/p1/defaults", headers=MEMBER)).json()["quota_set"] == {
        "id": "p1",
        **DEFAULTS,
        "instances": 8,
        "cores": 40,
        "fixed_ips": 5,
    }
    limits = (await client.get(f"{QS}/p1", headers=MEMBER)).json()["quota_set"]
    assert (limits["instances"], limits["cores"], limits["ram"]) == (8, 40, 51200)
    absolute = (await client.get("/compute/v2.1/limits", headers=MEMBER)).json()["limits"]
    assert absolute["absolute"]["maxTotalInstances"] == 8
    with pytest.raises(quotas.OverQuota, match="already used 7 of 8 instances"):
        await check(app, 2, 1, 64)
    # a project's own limit still wins over the class
    assert (await put(client, {"instances": 20})).status_code == 200
    await check(app, 2, 1, 64)
    # the class's limits apply to users without their own, through the project's
    assert (await client.delete(f"{QS}/p1", headers=ADMIN)).status_code == 202
    resp = await client.get(f"{QS}/p1?user_id=u9", headers=ADMIN)
    assert resp.json()["quota_set"]["instances"] == 8


async def test_other_classes_are_kept_but_change_no_limit(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    assert (await show(client, "gold")) == {"id": "gold", **without(DEFAULTS, *GROUPS)}
    resp = await update(client, "gold", {"instances": 3, "server_groups": 1})
    assert resp.status_code == 200
    # set before 2.50 but shown only from it, as Nova
    assert resp.json()["quota_class_set"]["instances"] == 3
    assert "server_groups" not in resp.json()["quota_class_set"]
    found = await show(client, "gold", "2.50")
    assert (found["instances"], found["server_groups"], found["cores"]) == (3, 1, 20)
    assert (await show(client, "default"))["instances"] == 10
    assert (await client.get(f"{QS}/p1", headers=MEMBER)).json()["quota_set"] == {
        "id": "p1",
        **DEFAULTS,
    }


async def test_quota_classes_are_for_admins(client: httpx.AsyncClient, pods: FakeCloud) -> None:
    resp = await client.get(f"{QC}/default", headers=MEMBER)
    assert resp.status_code == 403
    assert resp.json() == forbidden("os_compute_api:os-quota-class-sets:show")
    body: dict[str, Any] = {"quota_class_set": {"instances": 1}}
    resp = await client.put(f"{QC}/default", json=body, headers=MEMBER)
    assert resp.json() == forbidden("os_compute_api:os-quota-class-sets:update")
    # the body is checked before the policy, as Nova
    body = {"quota_class_set": {"instances": "x"}}
    resp = await client.put(f"{QC}/default", json=body, headers=MEMBER)
    assert resp.status_code == 400
    assert (await show(client, "default"))["instances"] == 10


@pytest.mark.parametrize(
    ("values", "version", "message"),
    [
        (
            {"instances": "x"},
            "2.1",
            "Invalid input for field/attribute instances. Value: x. "
            "'x' does not match '^-?[0-9]+$'",
        ),
        (
            {"cores": -2},
            "2.1",
            "Invalid input for field/attribute cores. Value: -2. -2 is less than the minimum of -1",
        ),
        (
            {"force": True},
            "2.1",
            "Invalid input for field/attribute quota_class_set. Value: {'force': True}. "
            "Additional properties are not allowed ('force' was unexpected)",
        ),
        (
            {"floating_ips": 1},
            "2.50",
            "Invalid input for field/attribute quota_class_set. Value: {'floating_ips': 1}. "
            "Additional properties are not allowed ('floating_ips' was unexpected)",
        ),
        (
            {"injected_files": 1},
            "2.57",
            "Invalid input for field/attribute quota_class_set. Value: {'injected_files': 1}. "
            "Additional properties are not allowed ('injected_files' was unexpected)",
        ),
        (
            5,
            "2.1",
            "Invalid input for field/attribute quota_class_set. Value: 5. "
            "5 is not of type 'object'",
        ),
    ],
)
async def test_bad_values_are_refused_as_nova_does(
    client: httpx.AsyncClient, pods: FakeCloud, values: Any, version: str, message: str
) -> None:
    resp = await update(client, "default", values, version)
    assert resp.status_code == 400
    assert resp.json() == bad_request(message)
    assert (await show(client, "default")) == {"id": "default", **without(DEFAULTS, *GROUPS)}


async def test_bad_bodies_and_names_are_refused(client: httpx.AsyncClient, pods: FakeCloud) -> None:
    resp = await client.put(f"{QC}/default", json={"quota_set": {}}, headers=ADMIN)
    assert resp.json() == bad_request("'quota_class_set' is a required property")
    resp = await client.put(f"{QC}/default", json={"quota_class_set": {}, "x": 1}, headers=ADMIN)
    assert resp.json() == bad_request("Additional properties are not allowed ('x' was unexpected)")
    resp = await update(client, "c" * 256, {"instances": 1})
    assert resp.json() == bad_request("quota_class_name has 256 characters, more than 255.")
    assert (await update(client, "c" * 255, {"instances": 1})).status_code == 200


async def test_unknown_query_parameters_are_refused_from_2_102(
    client: httpx.AsyncClient,
) -> None:
    # no pods: the range is Cascade's own, past 2.102
    resp = await client.get(f"{QC}/default?foo=1", headers=at("2.101", ADMIN))
    assert resp.status_code == 200
    resp = await client.get(f"{QC}/default?foo=1", headers=at("2.102", ADMIN))
    assert resp.json() == bad_request(
        "Additional properties are not allowed ('foo' was unexpected)"
    )
    resp = await client.put(
        f"{QC}/default?foo=1", json={"quota_class_set": {}}, headers=at("2.102", ADMIN)
    )
    assert resp.status_code == 200  # Nova's update has no query schema


async def test_the_service_refuses_unknown_resources(app: Starlette) -> None:
    async with app.state.sessions() as db:
        with pytest.raises(quotas.InvalidQuota, match="Unknown quota resources bogus"):
            await quotas.update_class(db, app.state.conf.quota, "default", {"bogus": 1})
        assert await quotas.default_limits(db, app.state.conf.quota) == DEFAULTS

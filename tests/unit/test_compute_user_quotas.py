"""Per-user compute quotas (os-quota-sets ?user_id=): limits kept at the top, the user's
usage summed over two fake pods (asked with the service token), checked as Nova does on
update and at server create."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from cascade.db.models import Keypair
from cascade.services.compute import quotas
from tests.unit.fakenova import FakeCloud
from tests.unit.test_compute_quotas import (
    ADMIN,
    DEFAULTS,
    MEMBER,
    OTHER,
    QS,
    at,
    bad_request,
    check,
    forbidden,
    limit_calls,
    put,
    set_limits,
    used,
)

pytestmark = pytest.mark.fake_pods

NOTHING = dict.fromkeys(quotas.RESOURCES, 0)


@pytest.fixture
async def pods(pods: FakeCloud) -> FakeCloud:
    """Project p1 uses 7 instances, 11 cores, 3072 MiB over both pods: user u1 3, 4, 768
    (pod1 2, 3, 512 and one server group; pod2 1, 1, 256), user u2 the rest."""
    cloud = pods
    n1, n2 = cloud.pods["n1"], cloud.pods["n2"]
    n1.absolute["p1"] = used(3, 5, 1024, 1)
    n2.absolute["p1"] = used(4, 6, 2048, 2)
    n1.user_usage[("p1", "u1")] = {"instances": 2, "cores": 3, "ram": 512, "server_groups": 1}
    n1.user_usage[("p1", "u2")] = {"instances": 1, "cores": 2, "ram": 512}
    n2.user_usage[("p1", "u1")] = {"instances": 1, "cores": 1, "ram": 256}
    n2.user_usage[("p1", "u2")] = {"instances": 3, "cores": 5, "ram": 1792, "server_groups": 2}
    return cloud


def detail_calls(cloud: FakeCloud) -> list[httpx.Request]:
    return [
        r
        for p in cloud.pods.values()
        for r in p.requests
        if r.url.path == "/v2.1/os-quota-sets/p1/detail"
    ]


async def add_keypairs(app: Starlette, *users: str) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    async with app.state.sessions() as db:
        for n, user in enumerate(users):
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


async def limits_of(client: httpx.AsyncClient, query: str = "") -> dict[str, int]:
    resp = await client.get(f"{QS}/p1{query}", headers=ADMIN)
    assert resp.status_code == 200, resp.text
    found: dict[str, Any] = resp.json()["quota_set"]
    assert found.pop("id") == "p1"
    return {name: int(value) for name, value in found.items()}


# --- show, update, delete -------------------------------------------------------------


async def test_a_users_limits_are_their_own_over_the_projects(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    resp = await put(client, {"instances": 5, "ram": "2048"}, query="?user_id=u1")
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"quota_set": {**DEFAULTS, "instances": 5, "ram": 2048}}  # no id
    assert await limits_of(client, "?user_id=u1") == {**DEFAULTS, "instances": 5, "ram": 2048}
    assert await limits_of(client) == DEFAULTS  # the project's are untouched
    assert await limits_of(client, "?user_id=") == DEFAULTS  # empty: the project's, as Nova
    assert await limits_of(client, "?user_id=u2") == DEFAULTS
    # a member reads a user's limits in their own project, as Nova allows
    resp = await client.get(f"{QS}/p1?user_id=u1", headers=at("2.75"))
    assert resp.json()["quota_set"]["instances"] == 5
    # the project's limits are the users' where they have none of their own
    assert (await put(client, {"instances": 8, "cores": 30})).status_code == 200
    assert (await limits_of(client, "?user_id=u2"))["instances"] == 8
    u1 = await limits_of(client, "?user_id=u1")
    assert (u1["instances"], u1["cores"], u1["ram"]) == (5, 30, 2048)
    # the microversion's fields, as for the project
    resp = await put(client, {"instances": 4}, "2.57", query="?user_id=u1")
    assert set(resp.json()["quota_set"]) == {
        "cores",
        "instances",
        "key_pairs",
        "metadata_items",
        "ram",
        "server_group_members",
        "server_groups",
    }


async def test_delete_removes_the_users_limits_or_all_of_the_projects(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    await put(client, {"instances": 9})
    await put(client, {"instances": 5}, query="?user_id=u1")
    await put(client, {"instances": 4}, query="?user_id=u2")  # 9 less u1's 5; u2 uses 4
    resp = await client.delete(f"{QS}/p1?user_id=u1", headers=ADMIN)
    assert (resp.status_code, resp.content) == (202, b"")
    assert (await limits_of(client, "?user_id=u1"))["instances"] == 9
    assert (await limits_of(client, "?user_id=u2"))["instances"] == 4
    # the project's delete takes its users' limits too, as Nova's
    assert (await client.delete(f"{QS}/p1", headers=ADMIN)).status_code == 202
    assert await limits_of(client) == DEFAULTS
    assert await limits_of(client, "?user_id=u2") == DEFAULTS
    resp = await client.delete(f"{QS}/p1?user_id=u1", headers=MEMBER)
    assert resp.json() == forbidden("os_compute_api:os-quota-sets:delete")


async def test_members_cannot_set_a_users_limits(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    body: dict[str, Any] = {"quota_set": {"instances": 1}}
    resp = await client.put(f"{QS}/p1?user_id=u1", json=body, headers=MEMBER)
    assert resp.json() == forbidden("os_compute_api:os-quota-sets:update")
    assert await limits_of(client, "?user_id=u1") == DEFAULTS
    # the body is checked first, as Nova
    body = {"quota_set": {"instances": "x"}}
    resp = await client.put(f"{QS}/p1?user_id=u1", json=body, headers=MEMBER)
    assert resp.status_code == 400


# --- detail ---------------------------------------------------------------------------


async def test_detail_of_a_user_sums_each_pods_count_for_the_user(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    await add_keypairs(app, "u1", "u1", "u2")
    await put(client, {"instances": 6}, query="?user_id=u1")
    before = len(detail_calls(pods))
    resp = await client.get(f"{QS}/p1/detail?user_id=u1", headers=MEMBER)
    assert resp.status_code == 200, resp.text
    assert "x-cascade-unavailable-pods" not in resp.headers
    quota_set = resp.json()["quota_set"]
    assert quota_set.pop("id") == "p1"
    assert set(quota_set) == set(DEFAULTS)
    assert quota_set["instances"] == {"in_use": 3, "limit": 6, "reserved": 0}
    assert quota_set["cores"] == {"in_use": 4, "limit": 20, "reserved": 0}
    assert quota_set["ram"] == {"in_use": 768, "limit": 51200, "reserved": 0}
    assert quota_set["server_groups"] == {"in_use": 1, "limit": 10, "reserved": 0}
    assert quota_set["key_pairs"] == {"in_use": 2, "limit": 100, "reserved": 0}
    assert quota_set["metadata_items"] == {"in_use": 0, "limit": 128, "reserved": 0}
    # each pod is asked for the user with Cascade's service token, not the member's
    asked = detail_calls(pods)[before:]
    assert len(asked) == 2
    assert all(r.headers["x-auth-token"] == "service-token" for r in asked)
    assert all(r.url.params["user_id"] == "u1" for r in asked)
    assert limit_calls(pods) == []
    # another user's usage in the member's project, without that user's keypairs
    quota_set = (await client.get(f"{QS}/p1/detail?user_id=u2", headers=MEMBER)).json()
    assert quota_set["quota_set"]["instances"] == {"in_use": 4, "limit": 10, "reserved": 0}
    assert quota_set["quota_set"]["key_pairs"]["in_use"] == 0
    # an admin sees them
    quota_set = (await client.get(f"{QS}/p1/detail?user_id=u2", headers=ADMIN)).json()
    assert quota_set["quota_set"]["key_pairs"]["in_use"] == 1


async def test_detail_of_a_user_leaves_out_and_names_a_pod_down(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    pods.pods["n1"].down = True
    resp = await client.get(f"{QS}/p1/detail?user_id=u1", headers=at("2.57", MEMBER))
    assert resp.status_code == 200
    assert resp.headers["x-cascade-unavailable-pods"] == "pod1"
    quota_set = resp.json()["quota_set"]
    assert (quota_set["instances"]["in_use"], quota_set["ram"]["in_use"]) == (1, 256)
    assert "injected_files" not in quota_set


async def test_detail_of_a_user_of_another_project_needs_an_admin(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    resp = await client.get(f"{QS}/p1/detail?user_id=u1", headers=OTHER)
    assert resp.json() == forbidden("os_compute_api:os-quota-sets:detail")
    resp = await client.get(f"{QS}/p1?user_id=u1", headers=OTHER)
    assert resp.json() == forbidden("os_compute_api:os-quota-sets:show")
    assert detail_calls(pods) == []


async def test_user_usage_through_the_service(app: Starlette, pods: FakeCloud) -> None:
    await add_keypairs(app, "u1")
    async with app.state.sessions() as db:
        found = await quotas.user_usage(db, app.state.registry, "p9", "u1")
        assert (found.counts, found.unavailable) == ({**NOTHING, "key_pairs": 1}, [])
        found = await quotas.user_usage(db, app.state.registry, "p1", "u1", keypairs=False)
        assert found.counts == {
            **NOTHING,
            "instances": 3,
            "cores": 4,
            "ram": 768,
            "server_groups": 1,
        }


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (403, {"forbidden": {"code": 403, "message": "Policy doesn't allow it"}}),
        (500, None),
        (200, {"limits": {}}),
        (200, {"quota_set": {"instances": {"in_use": "many"}}}),
        (200, {"quota_set": {"instances": 3}}),
        (200, {"quota_set": []}),
    ],
)
def test_a_pods_answer_without_nova_counts_is_left_out(status: int, body: Any) -> None:
    assert quotas.counts_in(status, body, "quota_set") is None


def test_a_pods_quota_detail_counts() -> None:
    body = {"quota_set": {"instances": {"in_use": 2, "limit": -1}, "cores": {"in_use": "3"}}}
    found = quotas.counts_in(200, body, "quota_set")
    assert found == {"instances": 2, "cores": 3, "ram": 0, "server_groups": 0}


# --- what may be set ------------------------------------------------------------------


async def test_a_users_limit_stays_within_what_the_project_has_left(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    assert (await put(client, {"instances": 6}, query="?user_id=u2")).status_code == 200
    resp = await put(client, {"instances": 5}, query="?user_id=u1")
    assert resp.json() == bad_request(
        "Quota limit 5 for instances must be less than or equal to 4."
    )
    resp = await put(client, {"instances": -1}, query="?user_id=u1")
    assert resp.json() == bad_request(
        "Quota limit -1 for instances must be less than or equal to 4."
    )
    resp = await put(client, {"instances": 2}, query="?user_id=u1")  # u1 uses 3
    assert resp.json() == bad_request(
        "Quota limit 2 for instances must be greater than or equal to already used and reserved 3."
    )
    assert (await put(client, {"instances": 4}, query="?user_id=u1")).status_code == 200
    assert (await put(client, {"instances": 4}, query="?user_id=u1")).status_code == 200
    # resources that are not counted: only the project's limit holds them
    calls = len(detail_calls(pods))
    resp = await put(client, {"metadata_items": 129, "key_pairs": 0}, query="?user_id=u1")
    assert resp.json() == bad_request(
        "Quota limit 129 for metadata_items must be less than or equal to 128."
    )
    assert len(detail_calls(pods)) == calls  # nothing counted: the pods are not asked
    # an unlimited project leaves any limit to its users
    assert (await put(client, {"cores": -1})).status_code == 200
    assert (await put(client, {"cores": 100000}, query="?user_id=u1")).status_code == 200
    # force sets anything, as Nova
    resp = await put(client, {"instances": 50, "force": True}, query="?user_id=u1")
    assert resp.status_code == 200
    assert resp.json()["quota_set"]["instances"] == 50


async def test_a_projects_limit_stays_above_its_users_limits(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    await put(client, {"instances": 6, "key_pairs": 40}, query="?user_id=u2")
    await put(client, {"instances": 4}, query="?user_id=u1")
    await put(client, {"key_pairs": -1, "force": True}, query="?user_id=u1")
    resp = await put(client, {"instances": 9})
    assert resp.json() == bad_request(
        "Quota limit 9 for instances must be greater than or equal to already used and reserved 10."
    )
    resp = await put(client, {"key_pairs": 39})  # u1's unlimited limit takes nothing
    assert resp.json() == bad_request(
        "Quota limit 39 for key_pairs must be greater than or equal to already used "
        "and reserved 40."
    )
    assert (await put(client, {"instances": 10, "key_pairs": 40})).status_code == 200
    assert (await put(client, {"instances": -1})).status_code == 200
    assert (await put(client, {"instances": 1, "force": "yes"})).status_code == 200


async def test_update_of_a_user_through_the_service(app: Starlette, pods: FakeCloud) -> None:
    conf = app.state.conf.quota
    async with app.state.sessions() as db:
        found = await quotas.update(db, conf, "p1", {"cores": 3}, user_id="u1")
        assert found["cores"] == 3  # without the usage, only the project's room is checked
        # the usage given holds the limit down unless forced
        with pytest.raises(quotas.InvalidQuota, match="already used and reserved 5"):
            await quotas.update(db, conf, "p1", {"cores": 4}, {"cores": 5}, user_id="u1")
        found = await quotas.update(
            db, conf, "p1", {"cores": 4}, {"cores": 5}, user_id="u1", force=True
        )
        assert found["cores"] == 4
        await quotas.delete(db, "p1", user_id="u1")
        assert await quotas.user_limits(db, conf, "p1", "u1") == DEFAULTS


# --- check_create ---------------------------------------------------------------------


async def set_user_limits(app: Starlette, user_id: str, **values: int) -> None:
    async with app.state.sessions() as db:
        await quotas.update(db, app.state.conf.quota, "p1", values, user_id=user_id, force=True)


async def test_check_create_holds_a_user_to_their_own_limits(
    app: Starlette, pods: FakeCloud
) -> None:
    await set_user_limits(app, "u1", instances=4)
    await check(app, 1, 1, 64, user_id="u1")  # u1 uses 3 of 4
    with pytest.raises(quotas.OverQuota) as caught:
        await check(app, 2, 1, 64, user_id="u1")
    assert caught.value.message == (
        "Quota exceeded for instances: Requested 2, but already used 3 of 4 instances"
    )
    asked = detail_calls(pods)
    assert asked and all(r.headers["x-auth-token"] == "service-token" for r in asked)
    assert all(r.headers["x-openstack-request-id"] == "req-1" for r in asked)
    await check(app, 2, 1, 64)  # without the user: the project has room for 2 more
    # a user without limits of their own is not counted apart
    calls = len(detail_calls(pods))
    await check(app, 3, 1, 64, user_id="u2")
    with pytest.raises(quotas.OverQuota, match="already used 7 of 10 instances"):
        await check(app, 4, 1, 64, user_id="u2")
    assert len(detail_calls(pods)) == calls


async def test_check_create_names_the_users_usage_once_a_user_limit_is_passed(
    app: Starlette, pods: FakeCloud
) -> None:
    await set_limits(app, instances=8)
    await set_user_limits(app, "u1", instances=4, cores=5)
    # over the project's instances only: the project's numbers
    with pytest.raises(quotas.OverQuota) as caught:
        await check(app, 2, 0, 64, user_id="u1")
    assert caught.value.message == (
        "Quota exceeded for instances: Requested 2, but already used 7 of 8 instances"
    )
    # over the user's cores as well: the user's numbers, as Nova
    with pytest.raises(quotas.OverQuota) as caught:
        await check(app, 2, 1, 64, user_id="u1")
    assert caught.value.message == (
        "Quota exceeded for cores, instances: Requested 2, 2, but already used 4, 3 "
        "of 5, 4 cores, instances"
    )


async def test_check_create_with_only_user_limits_asks_only_for_the_users_usage(
    app: Starlette, pods: FakeCloud
) -> None:
    await set_limits(app, instances=-1, cores=-1, ram=-1)
    await set_user_limits(app, "u1", ram=1024)
    await check(app, 1, 1, 256, user_id="u1")  # 768 + 256
    with pytest.raises(quotas.OverQuota) as caught:
        await check(app, 1, 1, 512, user_id="u1")
    assert caught.value.message == (
        "Quota exceeded for ram: Requested 512, but already used 768 of 1024 ram"
    )
    assert limit_calls(pods) == []
    # a pod down: what it holds for the user is not known, and not counted
    pods.pods["n1"].down = True
    await check(app, 1, 1, 512, user_id="u1")

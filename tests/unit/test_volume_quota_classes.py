"""Cinder's quota classes (os-quota-class-sets) kept at the top: the class `default` is
every project's default; other classes are only kept (as Cinder, which reads no other)."""

from __future__ import annotations

from typing import Any

import httpx

QC = "/volume/v3/os-quota-class-sets"
QS = "/volume/v3/os-quota-sets"
ADMIN = {"X-Auth-Token": "admin-token"}
MEMBER = {"X-Auth-Token": "member-token"}
# tempest's schema (tempest/lib/api_schema/response/volume/quota_classes.py)
REQUIRED = ("volumes", "snapshots", "backups", "per_volume_gigabytes", "gigabytes")


def message(resp: httpx.Response) -> str:
    text: str = next(iter(resp.json().values()))["message"]
    return text


async def test_the_default_class_shows_the_defaults(client: httpx.AsyncClient) -> None:
    shown = await client.get(f"{QC}/default", headers=ADMIN)
    assert shown.status_code == 200, shown.text
    found: dict[str, Any] = shown.json()["quota_class_set"]
    assert found.pop("id") == "default"
    for key in (*REQUIRED, "backup_gigabytes", "groups", "volumes___DEFAULT__"):
        assert isinstance(found[key], int), key
    defaults = (await client.get(f"{QS}/p1/defaults", headers=ADMIN)).json()["quota_set"]
    assert {k: v for k, v in defaults.items() if k != "id"} == found


async def test_the_default_class_is_every_projects_default(client: httpx.AsyncClient) -> None:
    before = (await client.get(f"{QC}/default", headers=ADMIN)).json()["quota_class_set"]
    wanted = {"volumes": before["volumes"] + 1, "gigabytes": "7", "volumes___DEFAULT__": 3}
    put = await client.put(f"{QC}/default", json={"quota_class_set": wanted}, headers=ADMIN)
    assert put.status_code == 200, put.text
    updated = put.json()["quota_class_set"]
    assert "id" not in updated
    assert updated["volumes"] == before["volumes"] + 1
    assert (updated["gigabytes"], updated["volumes___DEFAULT__"]) == (7, 3)
    assert updated["snapshots"] == before["snapshots"]
    for project in ("p1", "a-new-project"):
        defaults = (await client.get(f"{QS}/{project}/defaults", headers=ADMIN)).json()
        assert defaults["quota_set"]["gigabytes"] == 7
    mine = (await client.get(f"{QS}/p1", headers=MEMBER)).json()["quota_set"]
    assert (mine["volumes"], mine["gigabytes"]) == (before["volumes"] + 1, 7)
    # a project's own limit stays over the class
    own = await client.put(f"{QS}/p1", json={"quota_set": {"gigabytes": 9}}, headers=ADMIN)
    assert own.status_code == 200
    assert (await client.get(f"{QS}/p1", headers=MEMBER)).json()["quota_set"]["gigabytes"] == 9


async def test_another_class_is_kept_over_the_defaults(client: httpx.AsyncClient) -> None:
    put = await client.put(f"{QC}/gold", json={"quota_class_set": {"volumes": 50}}, headers=ADMIN)
    assert put.status_code == 200
    gold = (await client.get(f"{QC}/gold", headers=ADMIN)).json()["quota_class_set"]
    default = (await client.get(f"{QC}/default", headers=ADMIN)).json()["quota_class_set"]
    assert (gold["id"], gold["volumes"]) == ("gold", 50)
    assert default["volumes"] != 50 and gold["snapshots"] == default["snapshots"]


async def test_quota_classes_follow_cinders_checks(client: httpx.AsyncClient) -> None:
    async def put(body: Any, headers: dict[str, str] = ADMIN, name: str = "default") -> Any:
        return await client.put(f"{QC}/{name}", json=body, headers=headers)

    bad_key = await put({"quota_class_set": {"volumes": 1, "nope": 1, "cores": 2}})
    assert bad_key.status_code == 400
    assert message(bad_key) == "Invalid input received: Bad key(s) in quota class set: nope, cores"
    low = await put({"quota_class_set": {"volumes": -2}})
    assert low.status_code == 400
    assert message(low) == (
        "Invalid input for field/attribute volumes. Value: -2. -2 is less than the minimum of -1"
    )
    text = await put({"quota_class_set": {"volumes": "ten"}})
    assert message(text) == (
        "Invalid input for field/attribute volumes. Value: ten. 'ten' does not match '^[0-9]*$'"
    )
    missing = await put({"quota_set": {"volumes": 1}})
    assert missing.status_code == 400
    assert message(missing) == "'quota_class_set' is a required property"
    # the body is checked before the policy, the policy before the class's name
    assert (await put({"quota_class_set": {"nope": 1}}, MEMBER)).status_code == 400
    refused = await put({"quota_class_set": {"volumes": 1}}, MEMBER)
    assert refused.status_code == 403
    assert message(refused) == (
        "Policy doesn't allow volume_extension:quota_classes:update to be performed."
    )
    long = await put({"quota_class_set": {"volumes": 1}}, name="x" * 256)
    assert long.status_code == 400
    assert message(long) == (
        "Invalid input received: quota_class_name has 256 characters, more than 255."
    )
    shown = await client.get(f"{QC}/default", headers=MEMBER)
    assert shown.status_code == 403
    assert message(shown) == (
        "Policy doesn't allow volume_extension:quota_classes:get to be performed."
    )

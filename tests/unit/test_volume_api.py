"""The Block Storage API's own answers (no pod involved): versions, microversions,
the project id in the URL, and what is not served yet."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.datastructures import Headers

from cascade.api.volume.errors import VolumeError
from cascade.api.volume.microversion import negotiate, requested
from cascade.db.models import Pod, Routing
from cascade.versions import Version
from tests.unit.fakenova import FakeCloud

MEMBER = {"X-Auth-Token": "member-token"}
LOW, HIGH = Version(3, 0), Version(3, 71)


def test_the_volume_item_of_the_header_names_the_version() -> None:
    assert requested(Headers({})) is None
    assert requested(Headers({"OpenStack-API-Version": "compute 2.1, volume 3.40"})) == "3.40"
    assert requested(Headers({"OpenStack-API-Version": "volume  3.5"})) == "3.5"
    with pytest.raises(VolumeError) as caught:
        requested(Headers({"OpenStack-API-Version": "compute 2.1"}))
    assert caught.value.status == 400


def test_negotiation_follows_cinder() -> None:
    assert negotiate(None, LOW, HIGH) == Version(3, 0)
    assert negotiate("latest", LOW, HIGH) == HIGH
    assert negotiate("3.45", LOW, HIGH) == Version(3, 45)
    with pytest.raises(VolumeError) as bad:
        negotiate("3.x", LOW, HIGH)
    assert bad.value.status == 400 and "MajorNum.MinorNum" in bad.value.message
    with pytest.raises(VolumeError) as far:
        negotiate("3.72", LOW, HIGH)
    assert far.value.status == 406
    message = "Version 3.72 is not supported by the API. Minimum is 3.0 and maximum is 3.71."
    assert far.value.body() == {"computeFault": {"code": 406, "message": message}}
    assert far.value.headers["OpenStack-API-Version"] == "volume 3.72"


async def test_version_documents(client: httpx.AsyncClient) -> None:
    root = await client.get("/volume/")
    assert root.status_code == 300
    doc = root.json()["versions"][0]
    assert doc["id"] == "v3.0" and doc["min_version"] == "3.0" and doc["version"] == "3.71"
    v3 = await client.get("/volume/v3/", headers=MEMBER)
    assert v3.status_code == 200 and v3.headers["OpenStack-API-Version"] == "volume 3.0"
    assert "OpenStack-API-Version" in v3.headers["Vary"]


async def test_the_project_in_the_url_must_be_the_tokens(client: httpx.AsyncClient) -> None:
    other = await client.get("/volume/v3/someone-else/os-availability-zone", headers=MEMBER)
    assert other.status_code == 400
    assert other.json() == {"badRequest": {"code": 400, "message": "Malformed request url"}}
    mine = await client.get("/volume/v3/p1/os-availability-zone", headers=MEMBER)
    assert mine.status_code == 200, mine.text
    bare = await client.get("/volume/v3/os-availability-zone", headers=MEMBER)
    assert bare.json() == mine.json()


async def test_what_is_not_served_says_so(client: httpx.AsyncClient) -> None:
    answer = await client.get("/volume/v3/p1/clusters", headers=MEMBER)
    assert answer.status_code == 501
    assert answer.json()["notImplemented"]["message"] == (
        "Cascade does not serve GET /clusters of the Block Storage API yet."
    )
    missing = await client.get("/volume/v3/p1/volumes/nope", headers=MEMBER)
    assert missing.status_code == 404
    assert missing.json()["itemNotFound"]["message"] == "Volume nope could not be found."


# --- volume types, owned by the top ----------------------------------------------------

ADMIN = {"X-Auth-Token": "admin-token"}
OTHER = {"X-Auth-Token": "other-token"}
TYPES = "/volume/v3/types"


async def test_the_default_type_exists_and_stays(client: httpx.AsyncClient) -> None:
    listed = (await client.get(TYPES, headers=MEMBER)).json()["volume_types"]
    assert [t["name"] for t in listed] == ["__DEFAULT__"]
    default = (await client.get(f"{TYPES}/default", headers=MEMBER)).json()["volume_type"]
    assert default["id"] == listed[0]["id"] and default["description"] == "Default Volume Type"
    refused = await client.delete(f"{TYPES}/{default['id']}", headers=ADMIN)
    assert refused.status_code == 400
    assert (
        "is a default volume type and cannot be deleted" in refused.json()["badRequest"]["message"]
    )


async def test_admins_manage_types_members_see_them(client: httpx.AsyncClient) -> None:
    body = {
        "volume_type": {
            "name": "gold",
            "extra_specs": {"custom:tier": "1", "multiattach": "<is> True"},
        }
    }
    member = await client.post(TYPES, json=body, headers=MEMBER)
    assert member.status_code == 403
    assert member.json()["forbidden"]["message"] == (
        "Policy doesn't allow volume_extension:type_create to be performed."
    )
    made = await client.post(TYPES, json=body, headers=ADMIN)
    assert made.status_code == 200, made.text
    gold = made.json()["volume_type"]
    assert gold["extra_specs"] == {"custom:tier": "1", "multiattach": "<is> True"}
    again = await client.post(TYPES, json=body, headers=ADMIN)
    assert again.status_code == 409
    # members see only the extra specs users may know
    shown = (await client.get(f"{TYPES}/{gold['id']}", headers=MEMBER)).json()["volume_type"]
    assert shown["extra_specs"] == {"multiattach": "<is> True"} and "qos_specs_id" not in shown
    spec = await client.put(
        f"{TYPES}/{gold['id']}/extra_specs/custom:tier", json={"custom:tier": "2"}, headers=ADMIN
    )
    assert spec.status_code == 200 and spec.json() == {"custom:tier": "2"}
    mismatch = await client.put(
        f"{TYPES}/{gold['id']}/extra_specs/custom:tier", json={"other": "2"}, headers=ADMIN
    )
    assert mismatch.status_code == 400
    gone = await client.delete(f"{TYPES}/{gold['id']}/extra_specs/custom:tier", headers=ADMIN)
    assert gone.status_code == 202
    missing = await client.get(f"{TYPES}/{gold['id']}/extra_specs/custom:tier", headers=ADMIN)
    assert missing.status_code == 404
    renamed = await client.put(
        f"{TYPES}/{gold['id']}", json={"volume_type": {"name": "platinum"}}, headers=ADMIN
    )
    assert renamed.json()["volume_type"]["name"] == "platinum"
    empty = await client.put(f"{TYPES}/{gold['id']}", json={"volume_type": {}}, headers=ADMIN)
    assert empty.status_code == 400
    assert (await client.delete(f"{TYPES}/{gold['id']}", headers=ADMIN)).status_code == 202
    assert (await client.get(f"{TYPES}/{gold['id']}", headers=ADMIN)).status_code == 404


async def test_a_private_type_is_for_the_projects_given_access(client: httpx.AsyncClient) -> None:
    body = {"volume_type": {"name": "secret", "os-volume-type-access:is_public": False}}
    secret = (await client.post(TYPES, json=body, headers=ADMIN)).json()["volume_type"]
    url = f"{TYPES}/{secret['id']}"
    assert (await client.get(url, headers=MEMBER)).status_code == 404
    add = await client.post(
        f"{url}/action", json={"addProjectAccess": {"project": "p1"}}, headers=ADMIN
    )
    assert add.status_code == 202
    twice = await client.post(
        f"{url}/action", json={"addProjectAccess": {"project": "p1"}}, headers=ADMIN
    )
    assert twice.status_code == 409
    assert (await client.get(url, headers=MEMBER)).status_code == 200
    assert (await client.get(url, headers=OTHER)).status_code == 404
    names = [t["name"] for t in (await client.get(TYPES, headers=MEMBER)).json()["volume_types"]]
    assert "secret" in names
    access = (await client.get(f"{url}/os-volume-type-access", headers=ADMIN)).json()
    assert access == {"volume_type_access": [{"volume_type_id": secret["id"], "project_id": "p1"}]}
    admin_public = (await client.get(TYPES, headers=ADMIN)).json()["volume_types"]
    assert "secret" not in [t["name"] for t in admin_public]  # Cinder: public ones by default
    admin_all = (await client.get(f"{TYPES}?is_public=None", headers=ADMIN)).json()
    assert "secret" in [t["name"] for t in admin_all["volume_types"]]
    bad = await client.get(f"{TYPES}?is_public=maybe", headers=ADMIN)
    assert bad.status_code == 400
    remove = {"removeProjectAccess": {"project": "p1"}}
    assert (await client.post(f"{url}/action", json=remove, headers=ADMIN)).status_code == 202
    assert (await client.post(f"{url}/action", json=remove, headers=ADMIN)).status_code == 404
    assert (await client.get(url, headers=MEMBER)).status_code == 404


# --- group types, owned by the top (3.11+) ---------------------------------------------

GROUP_TYPES = "/volume/v3/group_types"
AT_3_11 = {"OpenStack-API-Version": "volume 3.11"}


async def test_group_types_are_the_tops_with_cinders_rules(client: httpx.AsyncClient) -> None:
    admin, member = {**ADMIN, **AT_3_11}, {**MEMBER, **AT_3_11}
    old = await client.get(GROUP_TYPES, headers={**ADMIN, "OpenStack-API-Version": "volume 3.10"})
    assert old.status_code == 404
    body = {"group_type": {"name": "g1", "group_specs": {"k": "v"}}}
    assert (await client.post(GROUP_TYPES, json=body, headers=member)).status_code == 403
    made = await client.post(GROUP_TYPES, json=body, headers=admin)
    assert made.status_code == 202, made.text
    g1 = made.json()["group_type"]
    assert g1["group_specs"] == {"k": "v"} and g1["is_public"] is True
    again = await client.post(GROUP_TYPES, json=body, headers=admin)
    assert again.json()["conflictingRequest"]["message"] == "Group Type g1 already exists."
    secret = {"group_type": {"name": "g2", "is_public": False}}
    g2 = (await client.post(GROUP_TYPES, json=secret, headers=admin)).json()["group_type"]
    shown = (await client.get(f"{GROUP_TYPES}/{g1['id']}", headers=member)).json()
    assert shown == {"group_type": {k: g1[k] for k in ("id", "name", "description", "is_public")}}
    assert (await client.get(f"{GROUP_TYPES}/{g2['id']}", headers=member)).status_code == 404
    assert (await client.get(f"{GROUP_TYPES}/{g2['id']}", headers=admin)).status_code == 200
    default = await client.get(f"{GROUP_TYPES}/default", headers=admin)
    assert default.json()["itemNotFound"]["message"] == "Default group type can not be found."
    listed = (await client.get(GROUP_TYPES, headers=member)).json()["group_types"]
    assert [t["name"] for t in listed] == ["g1"]
    every = await client.get(f"{GROUP_TYPES}?is_public=None&sort=name:desc", headers=admin)
    assert [t["name"] for t in every.json()["group_types"]] == ["g2", "g1"]
    specs = f"{GROUP_TYPES}/{g1['id']}/group_specs"
    added = await client.post(specs, json={"group_specs": {"a": "1"}}, headers=admin)
    assert added.status_code == 202 and added.json() == {"group_specs": {"a": "1"}}
    assert (await client.get(specs, headers=admin)).json() == {"group_specs": {"k": "v", "a": "1"}}
    assert (await client.put(f"{specs}/a", json={"a": "2"}, headers=admin)).json() == {"a": "2"}
    mismatch = await client.put(f"{specs}/a", json={"b": "2"}, headers=admin)
    assert mismatch.json()["badRequest"]["message"] == "Request body and URI mismatch"
    assert (await client.delete(f"{specs}/a", headers=admin)).status_code == 202
    gone = await client.get(f"{specs}/a", headers=admin)
    assert gone.json()["itemNotFound"]["message"] == (
        f"Group Type {g1['id']} has no extra spec with key a."
    )
    missing = await client.delete(f"{specs}/a", headers=admin)
    assert missing.json()["itemNotFound"]["message"] == (
        f"Group Type {g1['id']} has no specs with key a."
    )
    empty = await client.put(f"{GROUP_TYPES}/{g1['id']}", json={"group_type": {}}, headers=admin)
    assert empty.json()["badRequest"]["message"] == (
        "Specify group type name, description or a combination thereof."
    )
    renamed = await client.put(
        f"{GROUP_TYPES}/{g1['id']}", json={"group_type": {"name": "g3"}}, headers=admin
    )
    assert renamed.status_code == 200 and renamed.json()["group_type"]["name"] == "g3"
    assert (await client.delete(f"{GROUP_TYPES}/{g1['id']}", headers=admin)).status_code == 202
    assert (await client.get(f"{GROUP_TYPES}/{g1['id']}", headers=admin)).status_code == 404


# --- quotas ----------------------------------------------------------------------------


def test_quota_checks_use_cinders_messages() -> None:
    from cascade.services.volume.quotas import OverQuota, check

    limit = {"volumes": 2, "snapshots": 1, "gigabytes": 10, "per_volume_gigabytes": 5}
    limit |= {"backups": 1, "backup_gigabytes": 10}
    used = {"volumes": 1, "snapshots": 1, "gigabytes": 8, "backups": 0, "backup_gigabytes": 0}
    check(limit, used, "volume", 2)  # fits
    with pytest.raises(OverQuota) as size:
        check(limit, used, "volume", 6)
    assert size.value.message == (
        "VolumeSizeExceedsLimit: Requested volume size 6G is larger than maximum allowed limit 5G."
    )
    with pytest.raises(OverQuota) as gigabytes:
        check(limit, used, "volume", 3)
    assert gigabytes.value.message.startswith("VolumeSizeExceedsAvailableQuota: ")
    assert "Requested 3G, quota is 10G and 8G has been consumed." in gigabytes.value.message
    with pytest.raises(OverQuota) as snapshots:
        check(limit, used, "snapshot", None)
    assert snapshots.value.message == (
        "SnapshotLimitExceeded: Maximum number of snapshots allowed (1) exceeded"
    )
    with pytest.raises(OverQuota) as volumes:
        check(limit, {**used, "volumes": 2}, "volume", None)
    assert "Maximum number of volumes allowed (2)" in volumes.value.message
    check({**limit, "volumes": -1}, {**used, "volumes": 99}, "volume", 1)  # -1: unlimited


def test_a_volume_type_has_its_own_quota() -> None:
    from cascade.services.volume.quotas import OverQuota, check_type

    limit = {"volumes_gold": 1, "gigabytes_gold": 5}
    check_type(limit, {}, "gold", 5)
    check_type(limit, {"volumes_silver": 9}, "silver", 100)  # no limit of its own
    with pytest.raises(OverQuota) as count:
        check_type(limit, {"volumes_gold": 1}, "gold", 1)
    assert count.value.message == (
        "VolumeLimitExceeded: Maximum number of volumes allowed (1) exceeded for quota "
        "'volumes_gold'."
    )
    with pytest.raises(OverQuota) as size:
        check_type({"gigabytes_gold": 5}, {"gigabytes_gold": 4}, "gold", 2)
    assert size.value.message == (
        "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed "
        "gigabytes_gold quota. Requested 2G, quota is 5G and 4G has been consumed."
    )


def test_a_quota_update_takes_only_known_keys_in_range() -> None:
    from cascade.services.volume.quotas import checked_values

    known = ["volumes", "gigabytes"]
    assert checked_values(known, {"quota_set": {"volumes": "5", "id": "p"}}) == {"volumes": 5}
    with pytest.raises(ValueError, match="Bad key\\(s\\) in quota set: nope"):
        checked_values(known, {"quota_set": {"nope": 1}})
    with pytest.raises(ValueError, match="is not in range"):
        checked_values(known, {"quota_set": {"volumes": -2}})
    with pytest.raises(ValueError, match="quota_set"):
        checked_values(known, {"volumes": 1})


# --- encryption types ------------------------------------------------------------------


async def test_a_type_has_one_encryption_spec_at_the_top(client: httpx.AsyncClient) -> None:
    made = await client.post(TYPES, json={"volume_type": {"name": "secure"}}, headers=ADMIN)
    url = f"{TYPES}/{made.json()['volume_type']['id']}/encryption"
    assert (await client.get(url, headers=ADMIN)).json() == {}
    assert (await client.get(url, headers=MEMBER)).status_code == 403
    body = {"encryption": {"provider": "luks", "control_location": "front-end", "key_size": 256}}
    created = await client.post(url, json=body, headers=ADMIN)
    assert created.status_code == 200, created.text
    spec = created.json()["encryption"]
    assert spec["provider"] == "luks" and spec["cipher"] is None and spec["key_size"] == 256
    again = await client.post(url, json=body, headers=ADMIN)
    assert again.status_code == 400 and "already exists" in again.json()["badRequest"]["message"]
    bad = {"encryption": {"provider": "luks", "control_location": "middle"}}
    assert (await client.post(url, json=bad, headers=ADMIN)).status_code == 400
    changed = await client.put(
        f"{url}/{spec['encryption_id']}", json={"encryption": {"cipher": "aes"}}, headers=ADMIN
    )
    assert changed.status_code == 200 and changed.json() == {"encryption": {"cipher": "aes"}}
    item = await client.get(f"{url}/cipher", headers=ADMIN)
    assert item.json() == {"cipher": "aes"}
    shown = (await client.get(url, headers=ADMIN)).json()
    assert shown["control_location"] == "front-end" and shown["deleted"] is False
    gone = await client.delete(f"{url}/{spec['encryption_id']}", headers=ADMIN)
    assert gone.status_code == 202
    assert (await client.get(url, headers=ADMIN)).json() == {}
    missing = await client.delete(f"{url}/{spec['encryption_id']}", headers=ADMIN)
    assert missing.status_code == 404


# --- QoS specs -------------------------------------------------------------------------

QOS = "/volume/v3/qos-specs"


async def test_qos_specs_are_the_tops_and_follow_cinders_rules(client: httpx.AsyncClient) -> None:
    body = {"qos_specs": {"name": "gold", "consumer": "front-end", "read_iops_sec": "100"}}
    assert (await client.post(QOS, json=body, headers=MEMBER)).status_code == 403
    made = await client.post(QOS, json=body, headers=ADMIN)
    assert made.status_code == 200, made.text
    qos = made.json()["qos_specs"]
    assert qos["specs"] == {"read_iops_sec": "100"} and qos["consumer"] == "front-end"
    assert made.json()["links"][0]["href"].endswith(f"/qos-specs/{qos['id']}")
    assert (await client.post(QOS, json=body, headers=ADMIN)).status_code == 409
    bad = {"qos_specs": {"name": "x", "consumer": "sideways"}}
    assert (await client.post(QOS, json=bad, headers=ADMIN)).status_code == 400
    url = f"{QOS}/{qos['id']}"
    keys = await client.put(url, json={"qos_specs": {"write_iops_sec": "50"}}, headers=ADMIN)
    assert keys.json() == {"qos_specs": {"write_iops_sec": "50"}}
    dropped = await client.put(
        f"{url}/delete_keys", json={"keys": ["read_iops_sec"]}, headers=ADMIN
    )
    assert dropped.status_code == 202
    shown = (await client.get(url, headers=ADMIN)).json()["qos_specs"]
    assert shown["specs"] == {"write_iops_sec": "50"}
    vtype = (
        await client.post(TYPES, json={"volume_type": {"name": "limited"}}, headers=ADMIN)
    ).json()["volume_type"]
    linked = await client.get(f"{url}/associate?vol_type_id={vtype['id']}", headers=ADMIN)
    assert linked.status_code == 202
    typed = (await client.get(f"{TYPES}/{vtype['id']}", headers=ADMIN)).json()["volume_type"]
    assert typed["qos_specs_id"] == qos["id"]
    pairs = (await client.get(f"{url}/associations", headers=ADMIN)).json()["qos_associations"]
    assert pairs == [{"association_type": "volume_type", "name": "limited", "id": vtype["id"]}]
    in_use = await client.delete(url, headers=ADMIN)
    assert in_use.status_code == 400
    unlinked = await client.get(f"{url}/disassociate_all", headers=ADMIN)
    assert unlinked.status_code == 202
    assert (await client.delete(url, headers=ADMIN)).status_code == 202
    assert (await client.get(url, headers=ADMIN)).status_code == 404


# --- placement across pods -------------------------------------------------------------


async def _route(app: Starlette, kind: str, object_id: str, pod_name: str) -> None:
    async with app.state.sessions() as db:
        pod_id = await db.scalar(select(Pod.id).where(Pod.name == pod_name))
        assert pod_id is not None
        db.add(
            Routing(
                id=f"r-{object_id}",
                resource_type=kind,
                top_id=object_id,
                pod_id=pod_id,
                bottom_id=object_id,
                project_id="p1",
                status="active",
                created_at=datetime.now(UTC).replace(tzinfo=None),
            )
        )
        await db.commit()


async def test_a_backup_is_not_restored_into_a_volume_of_another_pod(
    client: httpx.AsyncClient, app: Starlette, pods: FakeCloud
) -> None:
    await _route(app, "backup", "b1", "pod1")
    await _route(app, "volume", "v2", "pod2")
    answer = await client.post(
        "/volume/v3/p1/backups/b1/restore", json={"restore": {"volume_id": "v2"}}, headers=MEMBER
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["badRequest"]["message"] == (
        "Backup b1 is in pod pod1 and volume v2 in pod pod2: restoring a backup into a volume "
        "of another pod is not supported yet."
    )
    other = await client.post(
        "/volume/v3/backups/b1/restore", json={"restore": {"volume_id": "v2"}}, headers=OTHER
    )
    assert other.status_code == 404  # another project's backup is not found


async def test_a_volume_from_a_snapshot_stays_in_the_snapshots_az(
    client: httpx.AsyncClient, app: Starlette, pods: FakeCloud
) -> None:
    await _route(app, "snapshot", "s1", "pod2")
    body = {"volume": {"size": 1, "snapshot_id": "s1", "availability_zone": "az1"}}
    answer = await client.post("/volume/v3/p1/volumes", json=body, headers=MEMBER)
    assert answer.status_code == 400
    assert "is in availability zone az2 (pod pod2)" in answer.json()["badRequest"]["message"]


async def test_another_project_s_private_type_s_specs_are_cinders_404(
    client: httpx.AsyncClient,
) -> None:
    """Cinder finds the type for the caller before it refuses reading or deleting its
    extra specs: a private type the caller may not use is 404 (a 403 would say it
    exists); one it may use gets the policy's 403; writes are the policy's 403 first."""
    body = {
        "volume_type": {
            "name": "hidden",
            "extra_specs": {"custom:tier": "gold"},
            "os-volume-type-access:is_public": False,
        }
    }
    hidden = (await client.post(TYPES, json=body, headers=ADMIN)).json()["volume_type"]
    access = {"addProjectAccess": {"project": "p1"}}
    url = f"{TYPES}/{hidden['id']}"
    assert (await client.post(f"{url}/action", json=access, headers=ADMIN)).status_code == 202
    missing = {
        "itemNotFound": {"code": 404, "message": f"Volume type {hidden['id']} could not be found."}
    }
    for method, path in (
        ("GET", "extra_specs"),
        ("GET", "extra_specs/custom:tier"),
        ("DELETE", "extra_specs/custom:tier"),
    ):
        theirs = await client.request(method, f"{url}/{path}", headers=OTHER)
        assert (theirs.status_code, theirs.json()) == (404, missing), (method, path)
        mine = await client.request(method, f"{url}/{path}", headers=MEMBER)
        assert mine.status_code == 403 and "forbidden" in mine.json()
    for method, path, spec in (
        ("POST", "extra_specs", {"extra_specs": {"x": "1"}}),
        ("PUT", "extra_specs/custom:tier", {"custom:tier": "x"}),
    ):
        theirs = await client.request(method, f"{url}/{path}", json=spec, headers=OTHER)
        assert theirs.status_code == 403 and "forbidden" in theirs.json()
    specs = (await client.get(f"{url}/extra_specs", headers=ADMIN)).json()
    assert specs == {"extra_specs": {"custom:tier": "gold"}}

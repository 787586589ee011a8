"""Who owns what is made on a volume (`routed.owners`, `Parent.owns`): as in Cinder,
an attachment or a transfer belongs to its volume's project whoever made it (an
admin's on a user's volume is the user's), while a snapshot belongs to whoever made
it; and the calls around them, answered Cinder's way (a transfer accepted, a backup
record imported). Two pods as in `test_volume_hosts`: pod1 is the fake Cinder c1,
pod2 is c2."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select
from starlette.applications import Starlette

from cascade.db.models import Pod, Routing
from cascade.services import routed
from tests.unit import test_volume_hosts
from tests.unit.fakecinder import FakeCinder

# the two pods' fixtures
novas, cinders = test_volume_hosts.novas, test_volume_hosts.cinders
pod_handler, cloud2 = test_volume_hosts.pod_handler, test_volume_hosts.cloud2

V3 = "/volume/v3"
ADMIN = {"X-Auth-Token": "admin-token"}  # an admin of p1
MEMBER = {"X-Auth-Token": "member-token"}  # a member of p1
OTHER = {"X-Auth-Token": "other-token"}  # a member of p2


def at(headers: dict[str, str], version: str) -> dict[str, str]:
    return {**headers, "OpenStack-API-Version": f"volume {version}"}


async def _volume_of_other(client: httpx.AsyncClient) -> str:
    """A volume p2 made through the top (in pod2's AZ)."""
    body = {"volume": {"size": 1, "name": "theirs", "availability_zone": "az2"}}
    resp = await client.post(f"{V3}/volumes", json=body, headers=OTHER)
    assert resp.status_code == 202, resp.text
    volume_id: str = resp.json()["volume"]["id"]
    return volume_id


async def _owner(app: Starlette, kind: str, top_id: str) -> str | None:
    async with app.state.sessions() as db:
        query = select(Routing.project_id).where(
            Routing.resource_type == kind, Routing.top_id == top_id
        )
        found: str | None = await db.scalar(query)
        return found


async def test_a_transfer_an_admin_makes_is_the_volume_projects(
    app: Starlette, client: httpx.AsyncClient, cloud2: dict[str, FakeCinder]
) -> None:
    volume_id = await _volume_of_other(client)
    made = await client.post(
        f"{V3}/volume-transfers",
        json={"transfer": {"volume_id": volume_id, "name": "t"}},
        headers=at(ADMIN, "3.55"),
    )
    assert made.status_code == 202, made.text
    transfer_id = made.json()["transfer"]["id"]
    assert await _owner(app, "transfer", transfer_id) == "p2"
    for prefix in ("/volume-transfers", "/os-volume-transfer"):
        shown = await client.get(f"{V3}{prefix}/{transfer_id}", headers=at(OTHER, "3.55"))
        assert shown.status_code == 200, shown.text
        assert shown.json()["transfer"]["volume_id"] == volume_id
    listed = await client.get(f"{V3}/volume-transfers/detail", headers=at(OTHER, "3.55"))
    assert [t["id"] for t in listed.json()["transfers"]] == [transfer_id]
    # the admin still sees it; a member of the admin's project does not
    assert (await client.get(f"{V3}/os-volume-transfer/{transfer_id}", headers=ADMIN)).is_success
    hidden = await client.get(f"{V3}/os-volume-transfer/{transfer_id}", headers=MEMBER)
    assert hidden.status_code == 404
    assert hidden.json()["itemNotFound"]["message"] == f"Transfer {transfer_id} could not be found."
    gone = await client.delete(f"{V3}/os-volume-transfer/{transfer_id}", headers=OTHER)
    assert gone.status_code == 202
    assert await _owner(app, "transfer", transfer_id) is None


async def test_an_attachment_an_admin_makes_is_the_volume_projects(
    app: Starlette, client: httpx.AsyncClient, cloud2: dict[str, FakeCinder]
) -> None:
    volume_id = await _volume_of_other(client)
    made = await client.post(
        f"{V3}/attachments",
        json={"attachment": {"volume_uuid": volume_id}},
        headers=at(ADMIN, "3.27"),
    )
    assert made.status_code == 200, made.text
    attachment_id = made.json()["attachment"]["id"]
    assert await _owner(app, "attachment", attachment_id) == "p2"
    shown = await client.get(f"{V3}/attachments/{attachment_id}", headers=at(OTHER, "3.27"))
    assert shown.status_code == 200, shown.text
    assert shown.json()["attachment"]["volume_id"] == volume_id
    hidden = await client.get(f"{V3}/attachments/{attachment_id}", headers=at(MEMBER, "3.27"))
    assert hidden.status_code == 404


async def test_a_snapshot_an_admin_makes_stays_the_admins(
    app: Starlette, client: httpx.AsyncClient, cloud2: dict[str, FakeCinder]
) -> None:
    """Cinder gives a snapshot the project of whoever made it: the rule above is not
    every child's."""
    volume_id = await _volume_of_other(client)
    async with app.state.sessions() as db:
        (owner,) = await routed.owners(db, "snapshot", [{"volume_id": volume_id}])
        (attached,) = await routed.owners(db, "attachment", [{"volume_id": volume_id}])
        (unknown,) = await routed.owners(db, "attachment", [{"volume_id": "nope"}])
    assert (owner, attached, unknown) == (None, "p2", None)


async def test_attachments_found_without_a_routing_are_the_volume_projects(
    app: Starlette, client: httpx.AsyncClient, cloud2: dict[str, FakeCinder]
) -> None:
    """Made in the pod directly (or a create whose answer was lost): an admin's list and
    a user's read write the routing in the volume's project, not the reader's."""
    volume_id = await _volume_of_other(client)
    c2 = cloud2["c2"]
    listed_one = {"id": "a-listed", "volume_id": volume_id, "status": "reserved"}
    read_one = {"id": "a-read", "volume_id": volume_id, "status": "reserved"}
    c2.of_volume |= {"a-listed": ("attachment", listed_one), "a-read": ("attachment", read_one)}
    listed = await client.get(f"{V3}/attachments/detail?all_tenants=1", headers=at(ADMIN, "3.27"))
    assert listed.status_code == 200, listed.text
    assert await _owner(app, "attachment", "a-listed") == "p2"
    # the routing `a-listed` got does not hide it from its owner
    shown = await client.get(f"{V3}/attachments/a-listed", headers=at(OTHER, "3.27"))
    assert shown.status_code == 200
    async with app.state.sessions() as db:
        row = await db.scalar(select(Routing).where(Routing.top_id == "a-read"))
        assert row is not None
        await db.delete(row)
        await db.commit()
    read = await client.get(f"{V3}/attachments/a-read", headers=at(OTHER, "3.27"))
    assert read.status_code == 200, read.text
    assert await _owner(app, "attachment", "a-read") == "p2"


async def test_a_backup_record_is_imported_in_a_pod_as_cinder_answers(
    app: Starlette, client: httpx.AsyncClient, cloud2: dict[str, FakeCinder]
) -> None:
    """POST /backups/import_record: Cinder's body check at the top; a pod without a
    backup service answers Cinder's 503; one with it makes the backup, routed there."""
    path = f"{V3}/backups/import_record"
    record = {"backup-record": {"backup_service": "swift", "backup_url": "eyJ9"}}
    bad = await client.post(path, json={"backup-record": {"backup_url": "x"}}, headers=ADMIN)
    assert bad.status_code == 400
    assert bad.json()["badRequest"]["message"] == (
        "Invalid input for field/attribute backup-record. Value: {'backup_url': 'x'}. "
        "'backup_service' is a required property"
    )
    for cinder in cloud2.values():
        cinder.backups = False
    off = await client.post(path, json=record, headers=ADMIN)
    assert off.status_code == 503
    assert off.json()["serviceUnavailable"]["message"].startswith(
        "Service cinder-backup could not be found."
    )
    for cinder in cloud2.values():
        cinder.backups = True
    made = await client.post(path, json=record, headers=ADMIN)
    assert made.status_code == 201, made.text
    backup_id = made.json()["backup"]["id"]
    assert await _owner(app, "backup", backup_id) == "p1"


async def _snapshot(app: Starlette, cinder: FakeCinder, volume_id: str, project: str) -> str:
    """A snapshot of the volume in the fake, routed at the top to `project`."""
    snapshot_id = str(uuid.uuid4())
    cinder.snapshots[snapshot_id] = {
        "id": snapshot_id,
        "volume_id": volume_id,
        "os-extended-snapshot-attributes:project_id": project,
    }
    async with app.state.sessions() as db:
        pod = await db.scalar(select(Pod).where(Pod.name == "pod2"))
        assert pod is not None
        await routed.record(db, snapshot_id, pod.id, project, kind="snapshot")
    return snapshot_id


async def test_an_accepted_transfer_moves_the_volume_and_its_snapshots(
    app: Starlette, client: httpx.AsyncClient, cloud2: dict[str, FakeCinder]
) -> None:
    """As Cinder: the volume's snapshots go with it (not another volume's), unless the
    transfer was made with `no_snapshots`."""
    c2 = cloud2["c2"]
    kept_back = await _volume_of_other(client)
    unrelated = await _snapshot(app, c2, kept_back, "p2")
    for no_snapshots, new_owner in ((False, "p1"), (True, "p2")):
        volume_id = await _volume_of_other(client)
        snapshot_id = await _snapshot(app, c2, volume_id, "p2")
        made = await client.post(
            f"{V3}/volume-transfers",
            json={"transfer": {"volume_id": volume_id, "no_snapshots": no_snapshots}},
            headers=at(OTHER, "3.55"),
        )
        assert made.status_code == 202, made.text
        transfer_id = made.json()["transfer"]["id"]
        accepted = await client.post(
            f"{V3}/volume-transfers/{transfer_id}/accept",
            json={"accept": {"auth_key": "k"}},
            headers=at(MEMBER, "3.55"),
        )
        assert accepted.status_code == 202, accepted.text
        assert await _owner(app, "volume", volume_id) == "p1"
        assert await _owner(app, "snapshot", snapshot_id) == new_owner, no_snapshots
        assert await _owner(app, "transfer", transfer_id) is None
    assert await _owner(app, "snapshot", unrelated) == "p2"


async def test_a_snapshot_of_a_null_volume_is_cinders_404(
    client: httpx.AsyncClient, cloud2: dict[str, FakeCinder]
) -> None:
    """Cinder's schema lets `volume_id` be null, then finds no volume `None` (tempest's
    test_create_snapshot_without_passing_volume_id); no pod is asked to make anything."""
    body = {"snapshot": {"volume_id": None, "display_name": "s"}}
    resp = await client.post(f"{V3}/snapshots", json=body, headers=OTHER)
    assert resp.status_code == 404, resp.text
    assert resp.json()["itemNotFound"]["message"] == "Volume None could not be found."
    assert not [r for c in cloud2.values() for r in c.requests if r.method == "POST"]

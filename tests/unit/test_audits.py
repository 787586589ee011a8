"""Audits (`/v1/audits`): what differs between the top and the fake pods is reported and
nothing changes; each finding is repaired only when asked, by a job, and the result is
recorded on it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from cascade.db.models import Pod, Routing
from cascade.services.audit import runs
from tests.unit.fakenova import FakeCloud, route
from tests.unit.test_server_networks import run_jobs

pytestmark = pytest.mark.fake_pods
ADMIN = {"X-Auth-Token": "admin-token"}
MEMBER = {"X-Auth-Token": "member-token"}
STAMP = "2026-01-01T00:00:00Z"


async def _pod(app: Starlette, name: str) -> Pod:
    async with app.state.sessions() as db:
        found: Pod = (await db.scalars(select(Pod).where(Pod.name == name))).one()
    return found


async def _routing(app: Starlette, kind: str, top_id: str) -> Routing | None:
    async with app.state.sessions() as db:
        query = select(Routing).where(Routing.resource_type == kind, Routing.top_id == top_id)
        found: Routing | None = await db.scalar(query)
    return found


async def _audit(client: httpx.AsyncClient, app: Starlette, **body: Any) -> dict[str, Any]:
    resp = await client.post("/v1/audits", json={"audit": body}, headers=ADMIN)
    assert resp.status_code == 202, resp.text
    assert resp.json()["audit"]["status"] == "queued"
    await run_jobs(app)
    shown = await client.get(f"/v1/audits/{resp.json()['audit']['id']}", headers=ADMIN)
    audit: dict[str, Any] = shown.json()["audit"]
    return audit


async def _findings(client: httpx.AsyncClient, audit_id: str, **query: str) -> list[Any]:
    resp = await client.get(f"/v1/audits/{audit_id}/findings", params=query, headers=ADMIN)
    assert resp.status_code == 200, resp.text
    found: list[Any] = resp.json()["findings"]
    return found


@pytest.fixture
async def drift(app: Starlette, pods: FakeCloud) -> dict[str, str]:
    """In pod1: a routed server, a server made behind Cascade's back and a port named
    after a top id with no routing; a routing of a server pod2 does not have."""
    n1, n2 = pods.pods["n1"], pods.pods["n2"]
    kept = n1.add_server("kept")["id"]
    await route(app, "server", kept, "pod1", "p1", STAMP)
    orphan = n1.add_server("behind-the-back")["id"]
    gone = str(uuid.uuid4())
    await route(app, "server", gone, "pod2", "p1", STAMP)
    top_port = str(uuid.uuid4())
    port = n1.neutron.add("ports", {"name": top_port, "project_id": "p1"})["id"]
    own = n1.neutron.add("ports", {"name": "a port of the pod's own"})["id"]
    assert not n2.servers
    return {"kept": kept, "orphan": orphan, "gone": gone, "port": port, "own": own}


async def test_an_audit_reports_what_drifted_and_changes_nothing(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud, drift: dict[str, str]
) -> None:
    audit = await _audit(client, app)
    assert audit["status"] == "done", audit
    assert audit["pods_audited"] == 2 and audit["pods_unavailable"] == [], audit["error"]
    assert audit["counts"] == {"orphan": 2, "missing": 1}
    found = await _findings(client, audit["id"])
    by = {(f["code"], f["resource_type"]): f for f in found}
    pod1, pod2 = await _pod(app, "pod1"), await _pod(app, "pod2")
    orphan = by[("orphan", "server")]
    assert (orphan["top_id"], orphan["pod_id"], orphan["project_id"]) == (
        drift["orphan"],
        pod1.id,
        "p1",
    )
    assert orphan["repairs"] == ["adopt", "delete"] and orphan["severity"] == "warning"
    missing = by[("missing", "server")]
    assert (missing["top_id"], missing["pod_id"], missing["severity"]) == (
        drift["gone"],
        pod2.id,
        "error",
    )
    assert missing["repairs"] == ["forget"] and missing["repair_status"] is None
    port = by[("orphan", "port")]
    assert port["bottom_id"] == drift["port"] and port["repairs"] == ["delete"]
    # filters, paging
    assert [f["id"] for f in await _findings(client, audit["id"], code="missing")] == [
        missing["id"]
    ]
    assert len(await _findings(client, audit["id"], pod_id=pod1.id)) == 2
    assert await _findings(client, audit["id"], severity="error") == [missing]
    first = await client.get(f"/v1/audits/{audit['id']}/findings?limit=1", headers=ADMIN)
    assert len(first.json()["findings"]) == 1 and "findings_links" in first.json()
    # nothing changed: the orphan has no routing, the missing one still has its own,
    # the port is still in the pod
    assert await _routing(app, "server", drift["orphan"]) is None
    assert await _routing(app, "server", drift["gone"]) is not None
    assert drift["port"] in pods.pods["n1"].neutron.objects["ports"]
    assert drift["orphan"] in pods.pods["n1"].servers


async def test_each_finding_is_repaired_on_request_only(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud, drift: dict[str, str]
) -> None:
    audit = await _audit(client, app)
    found = {(f["code"], f["resource_type"]): f for f in await _findings(client, audit["id"])}
    base = f"/v1/audits/{audit['id']}/findings"
    orphan, missing, port = (
        found[("orphan", "server")],
        found[("missing", "server")],
        found[("orphan", "port")],
    )
    # an action the finding does not offer: 400; unknown finding: 404
    bad = await client.post(
        f"{base}/{missing['id']}/repair", json={"repair": {"action": "delete"}}, headers=ADMIN
    )
    assert bad.status_code == 400 and "forget" in bad.text
    unknown = await client.post(f"{base}/{uuid.uuid4()}/repair", headers=ADMIN)
    assert unknown.status_code == 404
    # the orphan server adopted (its routing written), not deleted
    resp = await client.post(
        f"{base}/{orphan['id']}/repair", json={"repair": {"action": "adopt"}}, headers=ADMIN
    )
    assert resp.status_code == 202, resp.text
    assert resp.json()["finding"]["repair_status"] == "queued"
    again = await client.post(f"{base}/{orphan['id']}/repair", headers=ADMIN)
    assert again.status_code == 409
    await run_jobs(app)
    routing = await _routing(app, "server", drift["orphan"])
    assert routing is not None and routing.pod_id == (await _pod(app, "pod1")).id
    assert drift["orphan"] in pods.pods["n1"].servers
    shown = (await client.get(f"{base}/{orphan['id']}", headers=ADMIN)).json()["finding"]
    assert shown["repair_status"] == "done" and "routed to pod pod1" in shown["repair_result"]
    # the port is still there until its repair is asked: then deleted in the pod, and the
    # pod's own port is not touched
    assert drift["port"] in pods.pods["n1"].neutron.objects["ports"]
    assert (await client.post(f"{base}/{port['id']}/repair", headers=ADMIN)).status_code == 202
    await run_jobs(app)
    assert drift["port"] not in pods.pods["n1"].neutron.objects["ports"]
    assert drift["own"] in pods.pods["n1"].neutron.objects["ports"]
    # every missing one by code: the routing forgotten
    resp = await client.post(
        f"/v1/audits/{audit['id']}/repair", json={"repair": {"code": "missing"}}, headers=ADMIN
    )
    assert resp.status_code == 202 and [f["id"] for f in resp.json()["findings"]] == [missing["id"]]
    await run_jobs(app)
    assert await _routing(app, "server", drift["gone"]) is None
    assert await _routing(app, "server", drift["kept"]) is not None
    # a second audit finds nothing left
    second = await _audit(client, app)
    assert second["counts"] == {}, await _findings(client, second["id"])


async def test_a_repair_that_finds_nothing_left_to_do_changes_nothing(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud, drift: dict[str, str]
) -> None:
    """The missing server came back between the audit and the repair: the routing stays."""
    audit = await _audit(client, app)
    missing = (await _findings(client, audit["id"], code="missing"))[0]
    pods.pods["n2"].servers[drift["gone"]] = {
        **pods.pods["n1"].servers[drift["kept"]],
        "id": drift["gone"],
    }
    url = f"/v1/audits/{audit['id']}/findings/{missing['id']}/repair"
    assert (await client.post(url, headers=ADMIN)).status_code == 202
    await run_jobs(app)
    assert await _routing(app, "server", drift["gone"]) is not None
    shown = (await client.get(url.removesuffix("/repair"), headers=ADMIN)).json()["finding"]
    assert shown["repair_status"] == "done"
    assert shown["repair_result"].startswith("nothing done: pod pod2 has")


async def test_a_pod_that_does_not_answer_is_named_not_guessed(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud, drift: dict[str, str]
) -> None:
    pods.pods["n2"].down = True
    audit = await _audit(client, app)
    assert audit["status"] == "done" and audit["pods_unavailable"] == ["pod2"]
    assert "pod2: server" in audit["error"]
    # pod2's routing is not reported missing: the pod could not be asked
    assert await _findings(client, audit["id"], code="missing") == []


async def test_one_pod_and_admin_only_and_bad_input(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud, drift: dict[str, str]
) -> None:
    pod2 = await _pod(app, "pod2")
    audit = await _audit(client, app, pod_id=pod2.id)
    assert audit["pods_audited"] == 1 and audit["counts"] == {"missing": 1}
    assert (await client.get("/v1/audits", headers=MEMBER)).status_code == 403
    assert (await client.post("/v1/audits", headers=MEMBER)).status_code == 403
    unknown = await client.post(
        "/v1/audits", json={"audit": {"pod_id": str(uuid.uuid4())}}, headers=ADMIN
    )
    assert unknown.status_code == 404
    typo = await client.post("/v1/audits", json={"audit": {"pod": "x"}}, headers=ADMIN)
    assert typo.status_code == 400
    bad = await client.get(f"/v1/audits/{audit['id']}/findings?code=nope", headers=ADMIN)
    assert bad.status_code == 400
    listed = (await client.get("/v1/audits?trigger=admin", headers=ADMIN)).json()["audits"]
    assert [a["id"] for a in listed] == [audit["id"]]
    no_code = await client.post(
        f"/v1/audits/{audit['id']}/repair", json={"repair": {}}, headers=ADMIN
    )
    assert no_code.status_code == 400
    assert (await client.delete(f"/v1/audits/{audit['id']}", headers=ADMIN)).status_code == 204
    assert (await client.get(f"/v1/audits/{audit['id']}", headers=ADMIN)).status_code == 404


async def test_periodic_audits_start_when_the_interval_has_passed(app: Starlette) -> None:
    sessions = app.state.sessions
    assert not await runs.due(sessions, 3600, since=10)  # fresh: not before one interval
    assert await runs.due(sessions, 3600, since=3600)
    assert not await runs.due(sessions, 3600, since=7200)  # one began just now
    async with sessions() as db:
        audit = (await runs.page(db, {}, 10, None))[0]
        assert audit.trigger == "periodic" and audit.pod_id is None
        audit.created_at = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=2)
        await db.commit()
    assert await runs.due(sessions, 3600, since=0)

"""Server create, show and everything routed by id, against fake pods."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from cascade.context import Context
from cascade.db.models import Flavor, Keypair, Routing
from cascade.pods.compute import Caller
from cascade.services import workflow
from cascade.services.compute import server_create
from tests.unit.conftest import FakeKeystone
from tests.unit.fakenova import FakeCloud, register

pytestmark = pytest.mark.fake_pods

ADMIN = {"X-Auth-Token": "admin-token"}
MEMBER = {"X-Auth-Token": "member-token"}
OTHER = {"X-Auth-Token": "other-token"}
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHb0nmZ3Xcqvm2zD6EeVpT8o4x1c7wJmQk4f6Yx5p1Lq demo"


def flavor(
    flavor_id: str, name: str, created_at: datetime, extra_specs: dict[str, str] | None = None
) -> Flavor:
    """A public top flavor of 128 MB, 1 vCPU and a 1 GB disk."""
    return Flavor(
        id=flavor_id,
        name=name,
        ram=128,
        vcpus=1,
        disk=1,
        ephemeral=0,
        swap=0,
        rxtx_factor=1.0,
        is_public=True,
        disabled=False,
        extra_specs=extra_specs or {},
        created_at=created_at,
    )


@pytest.fixture
async def pods(
    app: Starlette, client: httpx.AsyncClient, keystone: FakeKeystone, cloud: FakeCloud
) -> FakeCloud:
    await register(client, keystone, cloud, pod2={"tags": ["gpu"]})
    now = datetime.now(UTC).replace(tzinfo=None)
    async with app.state.sessions() as db:
        db.add(flavor("42", "m1.nano", now))
        db.add(flavor("gpu", "g1", now, {"cascade:pod_tag": "gpu"}))
        db.add(
            Keypair(
                id="k1",
                user_id="u1",
                name="mykey",
                type="ssh",
                fingerprint="f",
                public_key=SSH_KEY,
                created_at=now,
            )
        )
        await db.commit()
    return cloud


async def routings(app: Starlette) -> list[Routing]:
    async with app.state.sessions() as db:
        return list(
            (await db.scalars(select(Routing).where(Routing.resource_type == "server"))).all()
        )


async def test_create_forwards_every_field_with_the_az_and_flavor_rewritten(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    server = {
        "name": "vm",
        "imageRef": "img-1",
        "flavorRef": "http://cascade.test/compute/flavors/42",
        "availability_zone": "az2",
        "key_name": "mykey",
        "metadata": {"a": "b"},
        "user_data": "aGVsbG8=",
        "tags": ["t1"],
        "description": "d",
        "config_drive": True,
        "security_groups": [{"name": "default"}],
        "block_device_mapping_v2": [{"boot_index": 0, "uuid": "img-1", "source_type": "image"}],
        # "none" goes as it is ("auto" is the top's: tests/unit/test_network_auto_allocate.py)
        "networks": "none",
    }
    body = {"server": server, "OS-SCH-HNT:scheduler_hints": {"same_host": ["h1"]}}
    resp = await client.post(
        "/compute/v2.1/servers",
        json=body,
        headers={**MEMBER, "OpenStack-API-Version": "compute 2.67"},
    )
    assert resp.status_code == 202, resp.text
    assert resp.headers["x-cascade-pod"] == "pod2"
    assert resp.headers["location"].startswith("http://cascade.test/compute/v2.1/servers/")
    assert resp.headers["openstack-api-version"] == "compute 2.67"
    made = resp.json()["server"]
    assert made["adminPass"] == "pw"
    pod = pods.pods["n2"]
    sent = json.loads(next(r for r in pod.requests if r.url.path == "/v2.1/servers").content)
    assert sent["OS-SCH-HNT:scheduler_hints"] == {"same_host": ["h1"]}
    copy = sent["server"]
    assert copy.pop("availability_zone") == "nova-b"
    assert copy.pop("flavorRef") in pod.flavors
    assert {k: v for k, v in server.items() if k not in ("availability_zone", "flavorRef")} == copy
    assert pod.keypairs["mykey"]["public_key"] == SSH_KEY
    assert [(r.top_id, r.status) for r in await routings(app)] == [(made["id"], "active")]
    # shown at the top with the top flavor, AZ and links
    shown = (await client.get(f"/compute/v2.1/servers/{made['id']}", headers=MEMBER)).json()
    assert shown["server"]["OS-EXT-AZ:availability_zone"] == "az2"


async def test_create_refusals_create_nothing(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    cases = [
        ({"name": "a", "flavorRef": "nope"}, 400, "Flavor nope could not be found."),
        ({"name": "a", "flavorRef": "42", "availability_zone": "az9"}, 400, "availability zone"),
        ({"name": "a", "flavorRef": "42", "key_name": "nokey"}, 400, "Invalid key_name"),
        ({"name": "refuse", "flavorRef": "42"}, 400, "(pod pod1)"),
        ({"name": "g", "flavorRef": "gpu", "availability_zone": "az1"}, 409, "gpu"),
    ]
    for server, status, message in cases:
        resp = await client.post("/compute/v2.1/servers", json={"server": server}, headers=MEMBER)
        assert resp.status_code == status, (server, resp.text)
        assert message in next(iter(resp.json().values()))["message"]
    for body in (b"{not json", b'{"server": 3}'):
        resp = await client.post("/compute/v2.1/servers", content=body, headers=MEMBER)
        assert resp.status_code == 400
    assert await routings(app) == []
    assert all(not p.servers for p in pods.pods.values())


async def test_a_tagged_flavor_goes_to_a_pod_with_the_tag(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    body = {"server": {"name": "g", "flavorRef": "gpu"}}
    resp = await client.post("/compute/v2.1/servers", json=body, headers=MEMBER)
    assert resp.status_code == 202
    assert resp.headers["x-cascade-pod"] == "pod2"


async def test_multiple_create_lands_in_one_pod_with_every_routing(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    body = {
        "server": {
            "name": "many",
            "flavorRef": "42",
            "availability_zone": "az1",
            "min_count": 3,
            "return_reservation_id": True,
        }
    }
    resp = await client.post("/compute/v2.1/servers", json=body, headers=MEMBER)
    assert resp.status_code == 202
    assert set(resp.json()) == {"reservation_id"}
    assert sorted(r.top_id for r in await routings(app)) == sorted(pods.pods["n1"].servers)


async def test_show_actions_and_delete_are_routed_by_id(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    server = pods.pods["n2"].add_server("direct")  # made behind Cascade's back: no routing
    url = f"/compute/v2.1/servers/{server['id']}"
    resp = await client.get(url, headers=MEMBER)
    assert resp.status_code == 200
    assert resp.headers["x-cascade-pod"] == "pod2"
    assert (
        resp.json()["server"]["links"][1]["href"]
        == f"http://cascade.test/compute/servers/{server['id']}"
    )
    assert [(r.top_id, r.pod_id != "") for r in await routings(app)] == [(server["id"], True)]
    resp = await client.post(f"{url}/action", json={"os-stop": None}, headers=MEMBER)
    assert resp.status_code == 202
    assert server["actions"] == [{"os-stop": None}]
    resp = await client.post(f"{url}/action", json={"badAction": 1}, headers=MEMBER)
    assert resp.status_code == 400
    assert resp.json()["badRequest"]["message"].endswith("(pod pod2)")
    assert (await client.get(f"{url}/metadata", headers=MEMBER)).status_code == 200
    # another project: 404 without asking the pod
    asked = len(pods.pods["n2"].requests)
    resp = await client.get(url, headers=OTHER)
    assert resp.status_code == 404
    assert len(pods.pods["n2"].requests) == asked
    assert (await client.delete(url, headers=MEMBER)).status_code == 204
    assert [r.status for r in await routings(app)] == ["deleting"]
    resp = await client.get(url, headers=MEMBER)
    assert resp.status_code == 404
    assert resp.json() == {
        "itemNotFound": {"code": 404, "message": f"Instance {server['id']} could not be found."}
    }
    assert await routings(app) == []


async def test_unknown_ids_and_down_pods(client: httpx.AsyncClient, pods: FakeCloud) -> None:
    resp = await client.get("/compute/v2.1/servers/nope/os-instance-actions", headers=MEMBER)
    assert resp.status_code == 404
    assert resp.json()["itemNotFound"]["message"] == "Instance nope could not be found."
    server = pods.pods["n1"].add_server("vm")
    url = f"/compute/v2.1/servers/{server['id']}"
    assert (await client.get(url, headers=MEMBER)).status_code == 200
    pods.pods["n1"].down = True
    resp = await client.get(url, headers=MEMBER)
    assert resp.status_code == 503
    assert "pod1" in resp.json()["serviceUnavailable"]["message"]
    resp = await client.get(url, headers={**MEMBER, "OpenStack-API-Version": "compute 2.69"})
    assert resp.status_code == 200
    assert resp.json()["server"]["status"] == "UNKNOWN"
    assert resp.json()["server"]["OS-EXT-AZ:availability_zone"] == "az1"
    # a create in the other AZ still works
    body = {"server": {"name": "b", "flavorRef": "42", "availability_zone": "az2"}}
    assert (
        await client.post("/compute/v2.1/servers", json=body, headers=MEMBER)
    ).status_code == 202


async def test_a_server_group_lives_in_one_pod_and_its_members_go_there(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    body = {"server_group": {"name": "g", "policies": ["anti-affinity"]}}
    resp = await client.post("/compute/v2.1/os-server-groups", json=body, headers=MEMBER)
    assert resp.status_code == 200, resp.text
    group = resp.json()["server_group"]
    home = resp.headers["x-cascade-pod"]
    listed = await client.get("/compute/v2.1/os-server-groups", headers=MEMBER)
    assert [g["id"] for g in listed.json()["server_groups"]] == [group["id"]]
    assert (await client.get("/compute/v2.1/os-server-groups", headers=OTHER)).json() == {
        "server_groups": []
    }
    hints = {"group": group["id"]}
    server = {"name": "member", "flavorRef": "42"}
    resp = await client.post(
        "/compute/v2.1/servers",
        json={"server": server, "OS-SCH-HNT:scheduler_hints": hints},
        headers=MEMBER,
    )
    assert resp.status_code == 202
    assert resp.headers["x-cascade-pod"] == home
    elsewhere = "az2" if home == "pod1" else "az1"
    resp = await client.post(
        "/compute/v2.1/servers",
        json={
            "server": {**server, "availability_zone": elsewhere},
            "OS-SCH-HNT:scheduler_hints": hints,
        },
        headers=MEMBER,
    )
    assert resp.status_code == 400
    assert "server group" in resp.json()["badRequest"]["message"]
    url = f"/compute/v2.1/os-server-groups/{group['id']}"
    assert (await client.get(url, headers=OTHER)).status_code == 404
    # another project's group in a create's hints: Nova's 400, in its words
    theirs = await client.post(
        "/compute/v2.1/servers",
        json={"server": server, "os:scheduler_hints": hints},
        headers=OTHER,
    )
    assert theirs.status_code == 400
    assert theirs.json()["badRequest"]["message"] == (
        f"Instance group {group['id']} could not be found."
    )
    assert (await client.delete(url, headers=MEMBER)).status_code == 204
    resp = await client.get(url, headers=MEMBER)
    assert (
        resp.json()["itemNotFound"]["message"] == f"Server group {group['id']} could not be found."
    )


async def test_a_create_over_the_top_quota_is_refused_before_any_pod_is_called(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    body = {"quota_set": {"instances": 2}}
    assert (
        await client.put("/compute/v2.1/os-quota-sets/p1", json=body, headers=ADMIN)
    ).status_code == 200
    pods.pods["n1"].add_server("one")
    pods.pods["n2"].add_server("two")
    for nova in pods.pods.values():
        nova.absolute["p1"] = {"totalInstancesUsed": 1, "totalCoresUsed": 1, "totalRAMUsed": 128}
    server = {"name": "third", "flavorRef": "42", "availability_zone": "az1"}
    resp = await client.post("/compute/v2.1/servers", json={"server": server}, headers=MEMBER)
    assert resp.status_code == 403
    assert resp.json()["forbidden"]["message"] == (
        "Quota exceeded for instances: Requested 1, but already used 2 of 2 instances"
    )
    assert not any(r.method == "POST" for p in pods.pods.values() for r in p.requests)
    assert await routings(app) == []


async def test_a_routing_whose_server_vanished_is_reported_stale(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    server = pods.pods["n1"].add_server("vm")
    assert (
        await client.get(f"/compute/v2.1/servers/{server['id']}", headers=MEMBER)
    ).status_code == 200
    found = (await client.get(f"/v1/routings?top_id={server['id']}", headers=ADMIN)).json()
    routing_id = found["routings"][0]["id"]
    check = f"/v1/routings/{routing_id}/check"
    assert (await client.post(check, headers=MEMBER)).status_code == 403
    resp = await client.post(check, headers=ADMIN)
    assert resp.status_code == 200 and resp.json()["routing"]["status"] == "active"
    del pods.pods["n1"].servers[server["id"]]  # deleted in the pod, behind Cascade's back
    resp = await client.post(check, headers=ADMIN)
    assert resp.json()["routing"]["status"] == "stale"
    stale = (await client.get("/v1/routings?status=stale", headers=ADMIN)).json()["routings"]
    assert [r["id"] for r in stale] == [routing_id]
    pods.pods["n1"].down = True
    resp = await client.post(check, headers=ADMIN)
    assert resp.status_code == 503


async def test_creates_sharing_a_client_request_id_each_get_their_routing(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    headers = {**MEMBER, "X-OpenStack-Request-ID": "req-11111111-2222-3333-4444-555555555555"}
    body = {"server": {"name": "same", "flavorRef": "42", "availability_zone": "az1"}}
    for _ in range(2):
        resp = await client.post("/compute/v2.1/servers", json=body, headers=headers)
        assert resp.status_code == 202, resp.text
    assert sorted(r.top_id for r in await routings(app)) == sorted(pods.pods["n1"].servers)
    sent = [r for r in pods.pods["n1"].requests if r.method == "POST"]
    assert {r.headers["x-openstack-request-id"] for r in sent} == {
        headers["X-OpenStack-Request-ID"]
    }


async def test_a_remembered_server_is_shown_without_the_database(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    server = pods.pods["n2"].add_server("vm")
    url = f"/compute/v2.1/servers/{server['id']}"
    # routed (found in the pods), remembered (read from the routing), then the pod
    # snapshot and flavor names primed; then the database is taken away
    for _ in range(3):
        assert (await client.get(url, headers=MEMBER)).status_code == 200
    sessions = app.state.sessions

    def no_database() -> None:
        raise AssertionError("the database was asked")

    app.state.sessions = no_database
    try:
        resp = await client.get(url, headers=MEMBER)
        assert resp.status_code == 200
        assert resp.headers["x-cascade-pod"] == "pod2"
        assert resp.json()["server"]["OS-EXT-AZ:availability_zone"] == "az2"
        assert (await client.get(url, headers=OTHER)).status_code == 404  # still scoped
    finally:
        app.state.sessions = sessions
    assert (await client.delete(url, headers=MEMBER)).status_code == 204
    resp = await client.get(url, headers=MEMBER)  # forgotten with the delete
    assert resp.status_code == 404


async def test_the_create_workflow_runs_without_an_http_request(
    app: Starlette, pods: FakeCloud, member_ctx: Context
) -> None:
    """What a job would do: the workflow with its settings, pods and a context, no
    Starlette request."""
    ctx = member_ctx
    env = workflow.Env.of(app.state)
    ask = server_create.Ask(ctx, Caller(ctx.token, "2.1", "req-job-1"), "req-job-1")
    body = {"server": {"name": "job", "flavorRef": "42", "availability_zone": "az2"}}
    async with app.state.sessions() as db:
        made = await server_create.create(env, db, ask, body)
        assert made.pod.name == "pod2" and made.resp.status_code == 202
        with pytest.raises(workflow.Refused) as refused:
            await server_create.create(env, db, ask, {"server": {"name": "x", "flavorRef": "no"}})
    assert (refused.value.status, refused.value.message) == (400, "Flavor no could not be found.")
    server_id = made.resp.json()["server"]["id"]
    assert [(r.top_id, r.status) for r in await routings(app)] == [(server_id, "active")]
    assert body["server"]["availability_zone"] == "nova-b"  # the pod's names were sent


async def test_listed_groups_get_routings_and_a_vanished_group_is_nova_404(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    """A group made in a pod directly is routed once listed; the pod's 404 for a routed
    group is Nova's 404 and the routing is marked stale."""
    group_id = "g-made-in-the-pod"
    pods.pods["n2"].groups[group_id] = {"id": group_id, "name": "g", "project_id": "p1"}
    listed = await client.get("/compute/v2.1/os-server-groups", headers=MEMBER)
    assert [g["id"] for g in listed.json()["server_groups"]] == [group_id]
    async with app.state.sessions() as db:
        routing = await db.scalar(select(Routing).where(Routing.top_id == group_id))
    assert routing is not None
    assert (routing.resource_type, routing.project_id, routing.status) == (
        "server_group",
        "p1",
        "active",
    )
    del pods.pods["n2"].groups[group_id]  # deleted in the pod, behind Cascade's back
    resp = await client.get(f"/compute/v2.1/os-server-groups/{group_id}", headers=MEMBER)
    assert resp.status_code == 404
    assert resp.json()["itemNotFound"]["message"] == (
        f"Server group {group_id} could not be found."
    )
    async with app.state.sessions() as db:
        routing = await db.scalar(select(Routing).where(Routing.top_id == group_id))
    assert routing is not None and routing.status == "stale"


async def test_calls_on_a_server_are_forwarded_and_refusals_are_novas(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    """A sub-resource goes to the server's pod; a resize to a flavor the top does not
    know is Nova's 400 before the pod is asked; the pod's 404 for the server itself is
    Nova's 404."""
    nova = pods.pods["n1"]
    server = nova.add_server("vm", metadata={"k": "v"})
    url = f"/compute/v2.1/servers/{server['id']}"
    resp = await client.get(f"{url}/metadata", headers=MEMBER)
    assert resp.status_code == 200 and resp.json() == {"metadata": {"k": "v"}}
    assert resp.headers["x-cascade-pod"] == "pod1"
    body = {"resize": {"flavorRef": "nope"}}
    resp = await client.post(f"{url}/action", json=body, headers=MEMBER)
    assert resp.status_code == 400
    assert resp.json()["badRequest"]["message"] == "Flavor nope could not be found."
    assert "actions" not in server
    resp = await client.post(f"{url}/action", json={"os-stop": None}, headers=MEMBER)
    assert resp.status_code == 202 and server["actions"] == [{"os-stop": None}]
    del nova.servers[server["id"]]
    resp = await client.put(url, json={"server": {"name": "x"}}, headers=MEMBER)
    assert resp.status_code == 404
    assert resp.json()["itemNotFound"]["message"] == f"Instance {server['id']} could not be found."


async def test_another_project_s_server_tags_are_novas_403_and_a_removed_action_410(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    """Nova reads a server's instance mapping whoever asks before its tags policy: another
    project's server's tags are 403, no pod asked; an unknown server's are 404. An action
    Nova removed (`resetNetwork`) is 410 for any id, before any lookup."""
    server = pods.pods["n1"].add_server("mine")
    url = f"/compute/v2.1/servers/{server['id']}"
    assert (await client.get(url, headers=MEMBER)).status_code == 200  # routed now
    asked = len(pods.pods["n1"].requests)
    for method, path, rule in (
        ("GET", "tags", "index"),
        ("GET", "tags/t", "show"),
        ("PUT", "tags", "update_all"),
        ("PUT", "tags/t", "update"),
        ("DELETE", "tags", "delete_all"),
        ("DELETE", "tags/t", "delete"),
    ):
        body = {"tags": ["t"]} if path == "tags" and method == "PUT" else None
        resp = await client.request(method, f"{url}/{path}", json=body, headers=OTHER)
        assert resp.status_code == 403, (method, path, resp.text)
        assert resp.json() == {
            "forbidden": {
                "code": 403,
                "message": f"Policy doesn't allow os_compute_api:os-server-tags:{rule} "
                "to be performed.",
            }
        }
    # the server's other sub-resources stay 404 for another project
    assert (await client.get(f"{url}/metadata", headers=OTHER)).status_code == 404
    assert len(pods.pods["n1"].requests) == asked
    for who in (OTHER, MEMBER):
        gone = await client.post(f"{url}/action", json={"resetNetwork": None}, headers=who)
        assert gone.status_code == 410
        assert gone.json() == {
            "computeFault": {
                "code": 410,
                "message": "This resource is no longer available. No forwarding address is given.",
            }
        }
    assert len(pods.pods["n1"].requests) == asked
    unknown = "/compute/v2.1/servers/4c1d7f22-0000-4a8e-9a53-0b0ac0000001/tags"
    assert (await client.get(unknown, headers=OTHER)).status_code == 404


async def test_an_interface_attach_naming_an_unseen_port_or_network_is_novas_404(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    """Nova's os-interface attach answers PortNotFound / NetworkNotFound with 404 (a
    server create with 400): another project's port or network, or none, is that 404,
    and nothing is asked of the server's pod."""
    net = "/networking/v2.0"
    network = await client.post(f"{net}/networks", json={"network": {"name": "n"}}, headers=OTHER)
    network_id = network.json()["network"]["id"]
    port = await client.post(
        f"{net}/ports", json={"port": {"network_id": network_id}}, headers=OTHER
    )
    port_id = port.json()["port"]["id"]
    server = pods.pods["n1"].add_server("mine")
    url = f"/compute/v2.1/servers/{server['id']}"
    assert (await client.get(url, headers=MEMBER)).status_code == 200
    asked = len(pods.pods["n1"].requests)
    for attachment, message in (
        ({"port_id": port_id}, f"Port id {port_id} could not be found."),
        ({"net_id": network_id}, f"Network {network_id} could not be found."),
        ({"port_id": "nope"}, "Port id nope could not be found."),
    ):
        resp = await client.post(
            f"{url}/os-interface", json={"interfaceAttachment": attachment}, headers=MEMBER
        )
        assert resp.json() == {"itemNotFound": {"code": 404, "message": message}}, resp.text
    assert len(pods.pods["n1"].requests) == asked
    # a server create naming them stays Nova's 400
    body = {"server": {"name": "s", "flavorRef": "42", "networks": [{"port": port_id}]}}
    created = await client.post("/compute/v2.1/servers", json=body, headers=MEMBER)
    assert created.status_code == 400
    assert created.json()["badRequest"]["message"] == f"Port id {port_id} could not be found."


async def test_a_create_is_answered_with_the_request_id_its_instance_action_records(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    """Nova records a server's actions under its own request id: through the top a relayed
    answer carries the pod's id in both request id headers, so the id a client was answered
    with finds the action (tempest's test_get_instance_action)."""
    body = {"server": {"name": "vm", "flavorRef": "42", "availability_zone": "az2"}}
    resp = await client.post("/compute/v2.1/servers", json=body, headers=MEMBER)
    assert resp.status_code == 202, resp.text
    server_id = resp.json()["server"]["id"]
    request_id = resp.headers["x-compute-request-id"]
    assert resp.headers.get_list("x-openstack-request-id") == [request_id]
    assert [a["request_id"] for a in pods.pods["n2"].actions[server_id]] == [request_id]
    url = f"/compute/v2.1/servers/{server_id}/os-instance-actions"
    shown = await client.get(f"{url}/{request_id}", headers=MEMBER)
    assert shown.status_code == 200, shown.text
    assert (
        shown.json()["instanceAction"]["action"],
        shown.json()["instanceAction"]["instance_uuid"],
    ) == (
        "create",
        server_id,
    )
    rebooted = await client.post(
        f"/compute/v2.1/servers/{server_id}/action",
        json={"reboot": {"type": "HARD"}},
        headers=MEMBER,
    )
    assert rebooted.status_code == 202
    listed = (await client.get(url, headers=MEMBER)).json()["instanceActions"]
    assert sorted((a["action"], a["request_id"]) for a in listed) == sorted(
        [("create", request_id), ("reboot", rebooted.headers["x-compute-request-id"])]
    )


async def test_a_deleted_servers_instance_actions_are_shown_but_the_server_stays_gone(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    """Nova shows a deleted server's actions from 2.21 (read_deleted) to its owner and
    admins; the top asks the pods for them once its routing is gone, and writes none."""
    server_id = pods.pods["n2"].add_server("short-lived")["id"]
    url = f"/compute/v2.1/servers/{server_id}"
    assert (await client.get(url, headers=MEMBER)).status_code == 200  # routed
    assert (await client.delete(url, headers=MEMBER)).status_code == 204
    assert (await client.get(url, headers=MEMBER)).status_code == 404  # routing gone
    assert await routings(app) == []
    v221 = {"OpenStack-API-Version": "compute 2.21"}
    for token in (MEMBER, ADMIN):
        resp = await client.get(f"{url}/os-instance-actions", headers={**token, **v221})
        assert resp.status_code == 200, resp.text
        assert resp.headers["x-cascade-pod"] == "pod2"
        actions = resp.json()["instanceActions"]
        assert sorted(a["action"] for a in actions) == ["create", "delete"]
        one = actions[0]["request_id"]
        shown = await client.get(f"{url}/os-instance-actions/{one}", headers={**token, **v221})
        assert shown.status_code == 200 and shown.json()["instanceAction"]["request_id"] == one
    # as Nova: before 2.21, and for another project, the deleted server is not found
    for headers in (MEMBER, {**OTHER, **v221}):
        resp = await client.get(f"{url}/os-instance-actions", headers=headers)
        assert resp.status_code == 404
        assert resp.json() == {
            "itemNotFound": {"code": 404, "message": f"Instance {server_id} could not be found."}
        }
    # the server itself stays gone, and no routing came back
    assert (await client.get(url, headers={**MEMBER, **v221})).status_code == 404
    assert await routings(app) == []

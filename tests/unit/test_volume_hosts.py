"""Cinder's hosts, services, capabilities and manage-existing across two pods
(`cascade/api/volume/hosts.py`), and the volume-create workflow they share: pod1 is
the fake Cinder c1 (hosts `c1-volume`, `c1-volume@fake`, AZ nova-a shown as az1),
pod2 is c2 (nova-b, az2)."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from cascade.context import Context
from cascade.db.models import Pod, Routing
from cascade.pods import volume as pod_volume
from cascade.pods.fanout import UNAVAILABLE_HEADER
from cascade.services import routed, stale, workflow
from cascade.services.volume import create as volume_create
from tests.unit.conftest import FakeKeystone, PodHandler
from tests.unit.fakecinder import FakeCinder
from tests.unit.fakenova import FakeCloud, add_pod

V3 = "/volume/v3"
ADMIN = {"X-Auth-Token": "admin-token"}
MEMBER = {"X-Auth-Token": "member-token"}


def at(version: str) -> dict[str, str]:
    return {**ADMIN, "OpenStack-API-Version": f"volume {version}"}


@pytest.fixture
def novas() -> FakeCloud:
    return FakeCloud.pair()


@pytest.fixture
def cinders() -> dict[str, FakeCinder]:
    return {"c1": FakeCinder("c1", "nova-a"), "c2": FakeCinder("c2", "nova-b")}


@pytest.fixture
def pod_handler(novas: FakeCloud, cinders: dict[str, FakeCinder]) -> PodHandler:
    """The app's pod transport: each fake by its URL's host."""
    fakes: dict[str, PodHandler] = {**novas.pods, **cinders}

    def handle(request: httpx.Request) -> httpx.Response:
        return fakes[request.url.host](request)

    return handle


@pytest.fixture
async def cloud2(
    client: httpx.AsyncClient,
    keystone: FakeKeystone,
    novas: FakeCloud,
    cinders: dict[str, FakeCinder],
) -> dict[str, FakeCinder]:
    """pod1 (n1, c1, az1) and pod2 (n2, c2, az2) registered; the fakes' requests so far
    forgotten."""
    keystone.catalog = [
        {
            "type": kind,
            "endpoints": [
                {"interface": "public", "region_id": region, "url": url}
                for region, url in urls.items()
            ],
        }
        for kind, urls in {
            "compute": {"pod1": "http://n1:8774/v2.1", "pod2": "http://n2:8774/v2.1"},
            "volumev3": {"pod1": "http://c1:8776/v3", "pod2": "http://c2:8776/v3"},
        }.items()
    ]
    for n, nova in enumerate(novas.pods.values(), 1):
        await add_pod(client, f"pod{n}", f"az{n}", pod_az=nova.az)
    assert (await client.get(f"{V3}/os-availability-zone", headers=ADMIN)).status_code == 200
    for cinder in cinders.values():
        cinder.requests.clear()
    return cinders


def sent(cinder: FakeCinder, method: str, start: str) -> list[httpx.Request]:
    """What the fake was asked by `method` on paths starting with `/v3<start>`."""
    return [
        r for r in cinder.requests if r.method == method and r.url.path.startswith("/v3" + start)
    ]


def fault(resp: httpx.Response) -> str:
    message: str = next(iter(resp.json().values()))["message"]
    return message


# --- os-services -----------------------------------------------------------------------


async def test_the_services_of_every_pod_are_one_list_in_the_top_zones(
    client: httpx.AsyncClient, cloud2: dict[str, FakeCinder]
) -> None:
    resp = await client.get(f"{V3}/os-services", headers=ADMIN)
    assert resp.status_code == 200, resp.text
    shown = [(s["host"], s["binary"], s["zone"]) for s in resp.json()["services"]]
    assert shown == [
        ("c1-volume", "cinder-scheduler", "az1"),
        ("c1-volume@fake", "cinder-volume", "az1"),
        ("c1-volume", "cinder-backup", "az1"),
        ("c2-volume", "cinder-scheduler", "az2"),
        ("c2-volume@fake", "cinder-volume", "az2"),
        ("c2-volume", "cinder-backup", "az2"),
    ]
    assert UNAVAILABLE_HEADER not in resp.headers
    # the filters are the pods' to apply, on their own host names
    one = await client.get(f"{V3}/os-services?host=c2-volume&binary=cinder-volume", headers=ADMIN)
    assert [s["host"] for s in one.json()["services"]] == ["c2-volume@fake"]
    for cinder in cloud2.values():
        asked = sent(cinder, "GET", "/os-services")[-1].url.params
        assert (asked["host"], asked["binary"]) == ("c2-volume", "cinder-volume")


async def test_a_member_gets_the_pods_refusal_and_a_down_pod_is_named(
    client: httpx.AsyncClient, cloud2: dict[str, FakeCinder]
) -> None:
    refused = await client.get(f"{V3}/os-services", headers=MEMBER)
    assert refused.status_code == 403
    # every pod refuses: the first refusal to arrive is the answer, with its pod named
    assert fault(refused) in {
        f"Policy doesn't allow os-services to be performed. (pod {pod})" for pod in ("pod1", "pod2")
    }
    cloud2["c1"].down = True
    resp = await client.get(f"{V3}/os-services", headers=ADMIN)
    assert resp.status_code == 200, resp.text
    assert resp.headers[UNAVAILABLE_HEADER] == "pod1"
    assert {s["host"] for s in resp.json()["services"]} == {"c2-volume", "c2-volume@fake"}


async def test_a_service_action_goes_to_the_pod_of_its_host(
    client: httpx.AsyncClient, cloud2: dict[str, FakeCinder]
) -> None:
    body = {"host": "c2-volume@fake", "binary": "cinder-volume", "disabled_reason": "maint"}
    resp = await client.put(f"{V3}/os-services/disable-log-reason", json=body, headers=ADMIN)
    assert resp.status_code == 200, resp.text
    assert resp.headers["X-Cascade-Pod"] == "pod2"
    assert resp.json() == {
        "host": "c2-volume@fake",
        "service": "",
        "binary": "cinder-volume",
        "status": "disabled",
        "disabled": True,
        "disabled_reason": "maint",
    }
    assert json.loads(sent(cloud2["c2"], "PUT", "/os-services")[0].content) == body
    assert sent(cloud2["c1"], "PUT", "/os-services") == []
    statuses = {
        (s["host"], s["status"])
        for s in (await client.get(f"{V3}/os-services?binary=cinder-volume", headers=ADMIN)).json()[
            "services"
        ]
    }
    assert statuses == {("c1-volume@fake", "enabled"), ("c2-volume@fake", "disabled")}
    # `h` names its backends too: the pod of c2-volume freezes them
    frozen = await client.put(f"{V3}/os-services/freeze", json={"host": "c2-volume"}, headers=ADMIN)
    assert frozen.status_code == 200 and frozen.headers["X-Cascade-Pod"] == "pod2"
    assert cloud2["c2"].admin.services[1]["frozen"] is True
    assert "frozen" not in cloud2["c1"].admin.services[1]


async def test_a_service_action_on_an_unknown_host_is_cinders_error(
    client: httpx.AsyncClient, cloud2: dict[str, FakeCinder]
) -> None:
    body = {"host": "nowhere", "binary": "cinder-volume"}
    missing = await client.put(f"{V3}/os-services/enable", json=body, headers=ADMIN)
    assert missing.status_code == 404
    assert fault(missing) == (
        "Service cinder-volume could not be found on host nowhere. (pod pod1)"
    )
    thaw = await client.put(f"{V3}/os-services/thaw", json={"host": "nowhere"}, headers=ADMIN)
    assert thaw.status_code == 400
    assert fault(thaw) == "Invalid input received: No service found with host=nowhere. (pod pod1)"
    no_host = await client.put(
        f"{V3}/os-services/disable", json={"binary": "cinder-volume"}, headers=ADMIN
    )
    assert no_host.status_code == 400
    assert fault(no_host) == "Invalid input received: Host field is missing. (pod pod1)"
    assert sent(cloud2["c2"], "PUT", "/os-services") == []


async def test_log_levels_are_every_pods(
    client: httpx.AsyncClient, cloud2: dict[str, FakeCinder]
) -> None:
    headers = at("3.32")
    body = {"prefix": "cinder.volume", "level": "DEBUG"}
    done = await client.put(f"{V3}/os-services/set-log", json=body, headers=headers)
    assert done.status_code == 202, done.text
    assert all(c.admin.log_levels == {"cinder.volume": "DEBUG"} for c in cloud2.values())
    got = await client.put(f"{V3}/os-services/get-log", json={}, headers=headers)
    assert got.status_code == 200, got.text
    levels = got.json()["log_levels"]
    assert [entry["host"] for entry in levels] == [
        "c1-volume", "c1-volume@fake", "c1-volume", "c2-volume", "c2-volume@fake", "c2-volume",
    ]  # fmt: skip
    assert levels[4]["levels"] == {"cinder.volume": "DEBUG"}
    one = await client.put(
        f"{V3}/os-services/get-log", json={"server": "c2-volume@fake"}, headers=headers
    )
    assert [entry["host"] for entry in one.json()["log_levels"]] == ["c2-volume@fake"]


# --- os-hosts and capabilities -----------------------------------------------------------


async def test_hosts_are_every_pods_in_the_top_zones(
    client: httpx.AsyncClient, cloud2: dict[str, FakeCinder]
) -> None:
    listed = (await client.get(f"{V3}/os-hosts", headers=ADMIN)).json()["hosts"]
    assert [(h["host_name"], h["zone"]) for h in listed] == [
        ("c1-volume", "az1"), ("c1-volume@fake", "az1"), ("c1-volume", "az1"),
        ("c2-volume", "az2"), ("c2-volume@fake", "az2"), ("c2-volume", "az2"),
    ]  # fmt: skip
    in_az2 = (await client.get(f"{V3}/os-hosts?zone=az2", headers=ADMIN)).json()["hosts"]
    assert {h["host_name"] for h in in_az2} == {"c2-volume", "c2-volume@fake"}
    # the top's AZ name means nothing to a pod: it is not passed on
    assert "zone" not in sent(cloud2["c2"], "GET", "/os-hosts")[-1].url.params


async def test_a_host_is_shown_and_updated_by_its_pod(
    client: httpx.AsyncClient, cloud2: dict[str, FakeCinder]
) -> None:
    shown = await client.get(f"{V3}/os-hosts/c2-volume@fake", headers=ADMIN)
    assert shown.status_code == 200, shown.text
    assert shown.headers["X-Cascade-Pod"] == "pod2"
    assert shown.json()["host"][0]["resource"]["host"] == "c2-volume@fake"
    missing = await client.get(f"{V3}/os-hosts/nope", headers=ADMIN)
    assert missing.status_code == 404
    assert fault(missing) == "Host nope could not be found. (pod pod1)"
    updated = await client.put(
        f"{V3}/os-hosts/c2-volume", json={"status": "disable"}, headers=ADMIN
    )
    assert updated.status_code == 200, updated.text
    assert updated.json() == {"host": "c2-volume", "status": "disabled"}
    assert updated.headers["X-Cascade-Pod"] == "pod2"
    assert sent(cloud2["c1"], "PUT", "/os-hosts") == []
    unknown = await client.put(f"{V3}/os-hosts/nope", json={"status": "disable"}, headers=ADMIN)
    assert unknown.status_code == 404
    assert fault(unknown) == "Host 'nope' could not be found. (pod pod1)"


async def test_capabilities_come_from_the_pod_of_the_backend(
    client: httpx.AsyncClient, cloud2: dict[str, FakeCinder]
) -> None:
    resp = await client.get(f"{V3}/capabilities/c2-volume@fake", headers=ADMIN)
    assert resp.status_code == 200, resp.text
    assert resp.headers["X-Cascade-Pod"] == "pod2"
    assert resp.json()["namespace"] == "OS::Storage::Capabilities::c2-volume@fake"
    # a pool sent escaped stays one path segment on its way to the pods
    pool = await client.get(f"{V3}/capabilities/c1-volume@fake%23fake", headers=ADMIN)
    assert pool.headers["X-Cascade-Pod"] == "pod1"
    assert sent(cloud2["c2"], "GET", "/capabilities")[-1].url.raw_path.endswith(b"@fake%23fake")
    missing = await client.get(f"{V3}/capabilities/nope", headers=ADMIN)
    assert missing.status_code == 404
    assert fault(missing) == "Can't find service: nope (pod pod1)"


# --- manageable volumes and snapshots ------------------------------------------------------


async def test_manageable_lists_need_3_8(
    client: httpx.AsyncClient, cloud2: dict[str, FakeCinder]
) -> None:
    for path in ("/manageable_volumes", "/manageable_snapshots/detail"):
        old = await client.get(f"{V3}{path}?host=c1-volume@fake", headers=at("3.7"))
        assert old.status_code == 404
        assert fault(old) == "The resource could not be found."
    assert all(c.requests == [] for c in cloud2.values())


async def test_manageable_volumes_of_a_host_are_its_pods(
    client: httpx.AsyncClient, cloud2: dict[str, FakeCinder]
) -> None:
    resp = await client.get(
        f"{V3}/manageable_volumes/detail?host=c2-volume@fake%23fake", headers=at("3.8")
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["X-Cascade-Pod"] == "pod2"
    assert resp.json() == {"manageable-volumes": cloud2["c2"].admin.manageable["volumes"]}
    summary = await client.get(f"{V3}/manageable_snapshots?host=c1-volume@fake", headers=at("3.8"))
    assert summary.json() == {
        "manageable-snapshots": [
            {"reference": {"source-name": "c1-snap"}, "size": 1, "safe_to_manage": True}
        ]
    }
    assert sent(cloud2["c2"], "GET", "/manageable_snapshots") == []


async def test_manageable_volumes_without_a_host_are_asked_of_every_pod(
    client: httpx.AsyncClient, cloud2: dict[str, FakeCinder]
) -> None:
    # a cluster is one pod's: the others' 404 leaves them out
    resp = await client.get(f"{V3}/manageable_volumes?cluster=c2-cluster@fake", headers=at("3.17"))
    assert resp.status_code == 200, resp.text
    refs = [v["reference"] for v in resp.json()["manageable-volumes"]]
    assert refs == [{"source-name": "c2-lv"}]
    assert len(sent(cloud2["c1"], "GET", "/manageable_volumes")) == 1
    # neither host nor cluster: Cinder's 400, from the pods
    bad = await client.get(f"{V3}/manageable_volumes", headers=at("3.17"))
    assert bad.status_code == 400
    assert fault(bad) == (
        "Invalid input received: One and only one of cluster and host must be set. (pod pod1)"
    )


# --- manage existing -------------------------------------------------------------------------


async def _routing(app: Starlette, kind: str, object_id: str) -> str | None:
    """The name of the pod the top routes `object_id` to (None: no routing)."""
    async with app.state.sessions() as db:
        name: str | None = await db.scalar(
            select(Pod.name)
            .join(Routing, Routing.pod_id == Pod.id)
            .where(Routing.resource_type == kind, Routing.top_id == object_id)
        )
    return name


async def test_a_volume_is_managed_in_the_pod_of_its_host(
    client: httpx.AsyncClient, app: Starlette, cloud2: dict[str, FakeCinder]
) -> None:
    body = {
        "volume": {
            "host": "c2-volume@fake#fake",
            "ref": {"source-name": "c2-lv"},
            "name": "adopted",
            "availability_zone": "az2",
            "volume_type": "__DEFAULT__",
        }
    }
    resp = await client.post(f"{V3}/os-volume-manage", json=body, headers=ADMIN)
    assert resp.status_code == 202, resp.text
    assert resp.headers["X-Cascade-Pod"] == "pod2"
    volume = resp.json()["volume"]
    assert volume["name"] == "adopted" and volume["availability_zone"] == "az2"
    posted = json.loads(sent(cloud2["c2"], "POST", "/os-volume-manage")[0].content)["volume"]
    # the pod got its own AZ name and its own default type
    assert posted["availability_zone"] == "nova-b"
    assert posted["volume_type"] == cloud2["c2"].admin.default_type
    assert posted["ref"] == {"source-name": "c2-lv"}
    assert sent(cloud2["c1"], "POST", "") == []
    assert await _routing(app, "volume", volume["id"]) == "pod2"


async def test_a_managed_volume_names_an_existing_host_and_a_ref(
    client: httpx.AsyncClient, cloud2: dict[str, FakeCinder]
) -> None:
    missing = await client.post(
        f"{V3}/manageable_volumes",
        json={"volume": {"host": "nowhere@fake", "ref": {"source-name": "x"}}},
        headers=at("3.8"),
    )
    assert missing.status_code == 400
    assert fault(missing) == "Host 'nowhere@fake' not found"
    no_ref = await client.post(
        f"{V3}/os-volume-manage", json={"volume": {"host": "c1-volume@fake"}}, headers=ADMIN
    )
    assert no_ref.status_code == 400 and fault(no_ref) == "'ref' is a required property"
    no_host = await client.post(
        f"{V3}/os-volume-manage", json={"volume": {"ref": {"source-name": "x"}}}, headers=ADMIN
    )
    assert no_host.status_code == 400
    assert fault(no_host) == "Invalid input received: Host field is missing."
    old = await client.post(
        f"{V3}/manageable_volumes",
        json={"volume": {"host": "c1-volume@fake", "ref": {"source-name": "x"}}},
        headers=at("3.7"),
    )
    assert old.status_code == 404
    member = await client.post(
        f"{V3}/os-volume-manage",
        json={"volume": {"host": "c1-volume@fake", "ref": {"source-name": "x"}}},
        headers=MEMBER,
    )
    assert member.status_code == 403
    assert all(sent(c, "POST", "") == [] for c in cloud2.values())


async def test_a_snapshot_is_managed_in_the_pod_of_its_volume(
    client: httpx.AsyncClient, app: Starlette, cloud2: dict[str, FakeCinder]
) -> None:
    volume = cloud2["c2"].add_volume("base")
    body = {"snapshot": {"volume_id": volume["id"], "ref": {"source-name": "c2-snap"}}}
    resp = await client.post(f"{V3}/manageable_snapshots", json=body, headers=at("3.8"))
    assert resp.status_code == 202, resp.text
    assert resp.headers["X-Cascade-Pod"] == "pod2"
    snapshot = resp.json()["snapshot"]
    assert snapshot["volume_id"] == volume["id"]
    assert json.loads(sent(cloud2["c2"], "POST", "/manageable_snapshots")[0].content) == body
    assert await _routing(app, "snapshot", snapshot["id"]) == "pod2"
    unknown = await client.post(
        f"{V3}/os-snapshot-manage",
        json={"snapshot": {"volume_id": "nope", "ref": {"source-name": "x"}}},
        headers=ADMIN,
    )
    assert unknown.status_code == 404
    assert fault(unknown) == "Volume nope could not be found."
    assert sent(cloud2["c1"], "POST", "") == []


async def test_the_volume_create_workflow_runs_without_an_http_request(
    app: Starlette, cloud2: dict[str, FakeCinder], member_ctx: Context
) -> None:
    """What a job would do: `volume_create.create_volume` with the process's pods and
    settings and a caller's context, no Starlette request; the top's quota counts every
    pod's volumes first."""
    ctx = member_ctx
    env = workflow.Env.of(app.state)
    ask = volume_create.Ask(ctx, pod_volume.Caller(ctx.token, "3.0", "req-v1"), "req-v1")
    body = {"volume": {"size": 2, "name": "job", "availability_zone": "az2"}}
    async with app.state.sessions() as db:
        made = await volume_create.create_volume(env, db, ask, body)
        assert (made.pod.name, made.resp.status_code) == ("pod2", 202)
        with pytest.raises(workflow.Refused) as refused:
            bad_az = {"volume": {"size": 1, "availability_zone": "az9"}}
            await volume_create.create_volume(env, db, ask, bad_az)
    assert (refused.value.status, refused.value.message) == (
        400,
        "Availability zone 'az9' is invalid.",
    )
    volume_id = made.resp.json()["volume"]["id"]
    assert cloud2["c2"].volumes[volume_id]["size"] == 2
    # the pod got its own AZ and its own default type; the top routes the new volume there
    assert body["volume"]["availability_zone"] == "nova-b"
    assert body["volume"]["volume_type"] == cloud2["c2"].admin.default_type
    assert await _routing(app, "volume", volume_id) == "pod2"
    quota_asked = sent(cloud2["c1"], "GET", "/os-quota-sets/p1")
    assert quota_asked, "the top asked every pod for the project's usage"


async def test_a_volume_routing_is_checked_in_its_pods_cinder(
    app: Starlette, cloud2: dict[str, FakeCinder]
) -> None:
    """The admin API's routing check (`stale.check`) asks the pod's Cinder for a volume,
    as it asks Nova for a server: found is `active`, gone is `stale`."""
    volume = cloud2["c2"].add_volume("checked")
    async with app.state.sessions() as db:
        pod = await db.scalar(select(Pod).where(Pod.name == "pod2"))
        assert pod is not None
        routing = await routed.record(db, volume["id"], pod.id, "p1", kind="volume")
        assert (await stale.check(db, app.state.registry, routing)).status == "active"
        del cloud2["c2"].volumes[volume["id"]]
        assert (await stale.check(db, app.state.registry, routing)).status == "stale"
    asked = sent(cloud2["c2"], "GET", f"/volumes/{volume['id']}")
    assert len(asked) == 2 and asked[0].headers["X-Auth-Token"] == "service-token"


async def test_quota_sets_and_limits_count_every_pods_volumes(
    client: httpx.AsyncClient, cloud2: dict[str, FakeCinder]
) -> None:
    cloud2["c1"].add_volume("a")["size"] = 3
    cloud2["c2"].add_volume("b")["size"] = 4
    qs = f"{V3}/os-quota-sets/p1"
    shown = (await client.get(f"{qs}?usage=True", headers=MEMBER)).json()["quota_set"]
    assert shown["id"] == "p1"
    assert shown["volumes"] == {"limit": 10, "in_use": 2, "reserved": 0}
    assert shown["gigabytes"] == {"limit": 1000, "in_use": 7, "reserved": 0}
    assert (await client.get(qs, headers=MEMBER)).json()["quota_set"]["volumes"] == 10
    resp = await client.put(qs, json={"quota_set": {"gigabytes": 6}}, headers=ADMIN)
    assert resp.status_code == 400
    assert resp.json()["badRequest"]["message"] == (
        "Quota gigabytes limit must be equal or greater than existing resources. "
        "Current usage is 7 and the requested limit is 6."
    )
    resp = await client.put(qs, json={"quota_set": {"gigabytes": "7"}}, headers=ADMIN)
    assert resp.status_code == 200 and resp.json()["quota_set"]["gigabytes"] == 7
    absolute = (await client.get(f"{V3}/limits", headers=MEMBER)).json()["limits"]["absolute"]
    assert absolute["maxTotalVolumeGigabytes"] == 7 and absolute["totalGigabytesUsed"] == 7
    assert absolute["maxTotalVolumes"] == 10 and absolute["totalVolumesUsed"] == 2
    assert (await client.delete(qs, headers=ADMIN)).status_code == 200
    assert (await client.get(qs, headers=MEMBER)).json()["quota_set"]["gigabytes"] == 1000

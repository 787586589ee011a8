"""Audits on the real devcloud: objects changed behind Cascade's back in pod2 (a port
named after a top id, a changed flavor copy, a deleted bottom volume) are each reported
by an audit, nothing is changed until a repair is asked for, and each repair touches its
finding's object only."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from openstack.connection import Connection

from tests.integration.test_cascade_compute import (
    create,
    image,
    networks,
    unique,
    wait_gone,
    wait_status,
)
from tests.integration.test_cascade_network import bottom_network, eventually
from tests.integration.test_cascade_volume import call, make, wait

pytestmark = pytest.mark.integration
ADMIN_API = "http://127.0.0.1:20080/v1"
__all__ = ["image", "networks"]  # fixtures used here


def admin_api(admin: Connection, method: str, path: str, **kwargs: Any) -> Any:
    return admin.session.request(ADMIN_API + path, method, raise_exc=False, **kwargs)


def audited(admin: Connection, pod_id: str) -> dict[str, Any]:
    """An audit of the pod, run to its end."""
    resp = admin_api(admin, "POST", "/audits", json={"audit": {"pod_id": pod_id}})
    assert resp.status_code == 202, resp.text
    audit_id = resp.json()["audit"]["id"]
    deadline = time.monotonic() + 180
    while True:
        audit: dict[str, Any] = admin_api(admin, "GET", f"/audits/{audit_id}").json()["audit"]
        if audit["status"] in ("done", "failed"):
            assert audit["status"] == "done", audit
            assert audit["pods_unavailable"] == [], audit["error"]
            return audit
        assert time.monotonic() < deadline, audit
        time.sleep(1)


def findings(admin: Connection, audit_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    url = f"/audits/{audit_id}/findings"
    while True:
        body = admin_api(admin, "GET", url).json()
        found += body["findings"]
        links = body.get("findings_links")
        if not links:
            return found
        url = links[0]["href"].removeprefix(ADMIN_API)


def routings(admin: Connection, top_id: str) -> list[str]:
    """The statuses of the object's routings."""
    found = admin_api(admin, "GET", f"/routings?top_id={top_id}").json()["routings"]
    return [r["status"] for r in found]


def repaired(admin: Connection, audit_id: str, finding: dict[str, Any]) -> dict[str, Any]:
    url = f"/audits/{audit_id}/findings/{finding['id']}"
    assert admin_api(admin, "POST", url + "/repair").status_code == 202
    deadline = time.monotonic() + 120
    while True:
        shown: dict[str, Any] = admin_api(admin, "GET", url).json()["finding"]
        if shown["repair_status"] in ("done", "failed"):
            return shown
        assert time.monotonic() < deadline, shown
        time.sleep(1)


@pytest.fixture
def drift(
    top: dict[str, Connection],
    conns: dict[str, Connection],
    networks: dict[str, str],
    image: str,
) -> Iterator[dict[str, Any]]:
    """A server in pod2 on a top network with a top flavor, and a volume in pod2; then,
    behind Cascade's back in pod2: a port named after a top id on the network's copy,
    an extra spec on the flavor's copy, the volume deleted."""
    admin, conn, pod2 = top["cascade-admin"], top["cascade"], conns["pod2-admin"]
    flavor = admin.compute.create_flavor(name=unique("audit-flavor"), ram=96, vcpus=1, disk=1)
    server = create(conn, "az2", networks, image, flavor.id)
    made: dict[str, Any] = {"server": server["id"], "flavor": flavor.id}
    try:
        assert server["pod"] == "pod2"
        wait_status(conn, server["id"], "ACTIVE")
        volume = make(conn, availability_zone="az2", name=unique("audit-vol"))
        wait(conn, f"/volumes/{volume['id']}", "volume", "available")
        made["volume"] = volume["id"]
        copy = next(f for f in pod2.compute.flavors() if f.name == f"cascade-{flavor.id}")
        made["flavor_copy"] = copy.id
        pod2.compute.create_flavor_extra_specs(copy.id, {"audit:drift": "yes"})
        network = bottom_network(pod2, networks["az2"])
        made["top_port_name"] = str(uuid.uuid4())
        port = pod2.network.create_port(
            network_id=network.id, name=made["top_port_name"], fixed_ips=[]
        )
        made["port"] = port.id
        pod2.block_storage.delete(f"/volumes/{volume['id']}")
        eventually(
            lambda: pod2.block_storage.get(f"/volumes/{volume['id']}").status_code == 404,
            "the volume deleted in pod2",
        )
        yield made
    finally:
        conn.compute.delete(f"/servers/{server['id']}", raise_exc=False)
        wait_gone(conn, server["id"])
        if "port" in made:
            pod2.network.delete_port(made["port"], ignore_missing=True)
        admin.compute.delete_flavor(flavor.id, ignore_missing=True)


def test_drift_in_a_pod_is_reported_and_each_finding_repaired_on_request(
    top: dict[str, Connection], conns: dict[str, Connection], drift: dict[str, Any]
) -> None:
    admin, conn, pod2 = top["cascade-admin"], top["cascade"], conns["pod2-admin"]
    pods = admin_api(admin, "GET", "/pods").json()["pods"]
    pod2_id = next(p["id"] for p in pods if p["name"] == "pod2")
    audit = audited(admin, pod2_id)
    found = findings(admin, audit["id"])
    port = [f for f in found if f["bottom_id"] == drift["port"]]
    flavor = [f for f in found if f["top_id"] == drift["flavor"]]
    volume = [f for f in found if f["top_id"] == drift["volume"]]
    assert [(f["code"], f["resource_type"]) for f in port] == [("orphan", "port")], found
    assert port[0]["top_id"] == drift["top_port_name"] and port[0]["repairs"] == ["delete"]
    assert [(f["code"], f["resource_type"]) for f in flavor] == [("differs", "flavor")]
    assert flavor[0]["differences"] == {"extra_specs": {"top": {}, "pod": {"audit:drift": "yes"}}}
    assert [(f["code"], f["resource_type"], f["severity"]) for f in volume] == [
        ("missing", "volume", "error")
    ]
    # the server, its port and its flavor's routing are not findings
    assert not [f for f in found if f["top_id"] == drift["server"]]
    # nothing changed by the audit
    assert pod2.network.get_port(drift["port"]) is not None
    specs = pod2.compute.fetch_flavor_extra_specs(drift["flavor_copy"]).extra_specs
    assert specs == {"audit:drift": "yes"}
    assert routings(admin, drift["volume"]) == ["active"]
    # each repaired on request
    done = repaired(admin, audit["id"], port[0])
    assert done["repair_status"] == "done", done
    assert pod2.network.find_port(drift["port"]) is None
    done = repaired(admin, audit["id"], flavor[0])
    assert done["repair_status"] == "done", done
    specs = pod2.compute.fetch_flavor_extra_specs(drift["flavor_copy"]).extra_specs
    assert specs == {}, "the copy converged in place (same id), the drifted spec gone"
    done = repaired(admin, audit["id"], volume[0])
    assert done["repair_status"] == "done", done
    assert routings(admin, drift["volume"]) == []
    assert call(conn, "GET", f"/volumes/{drift['volume']}").status_code == 404
    # the rest is as it was: the server runs, and a second audit has none of the three
    assert wait_status(conn, drift["server"], "ACTIVE")["id"] == drift["server"]
    again = findings(admin, audited(admin, pod2_id)["id"])
    ours = {drift["server"], drift["flavor"], drift["volume"], drift["top_port_name"]}
    assert not [f for f in again if f["top_id"] in ours or f["bottom_id"] == drift["port"]]

"""Cinder's admin host APIs through Cascade, against the real pods of the devcloud:
every pod's services and hosts as one cloud's, a request about a host sent to its pod."""

from __future__ import annotations

import pytest
from openstack.connection import Connection

from tests.integration.test_cascade_volume import call

pytestmark = pytest.mark.integration


def test_services_and_hosts_are_every_pods_and_a_host_s_request_goes_to_its_pod(
    top: dict[str, Connection], conns: dict[str, Connection]
) -> None:
    conn, admin = top["cascade"], top["cascade-admin"]
    services = call(admin, "GET", "/os-services?binary=cinder-volume")
    assert services.status_code == 200, services.text
    zones = {s["host"]: s["zone"] for s in services.json()["services"]}
    assert zones == {"pod1-volume@fake": "az1", "pod2-volume@fake": "az2"}
    assert call(conn, "GET", "/os-services").status_code == 403
    # disabled by pod2 (this Cinder answers for the service, though it does not keep the
    # flag: the pods' own lists cannot show it), and enabled again
    body = {"host": "pod2-volume@fake", "binary": "cinder-volume"}
    try:
        done = call(admin, "PUT", "/os-services/disable", json=body)
        assert done.status_code == 200, done.text
        assert done.headers["X-Cascade-Pod"] == "pod2"
        assert done.json()["status"] == "disabled" and done.json()["host"] == body["host"]
    finally:
        assert call(admin, "PUT", "/os-services/enable", json=body).status_code == 200
    unknown = {"host": "no-such-host", "binary": "cinder-volume"}
    assert call(admin, "PUT", "/os-services/enable", json=unknown).status_code == 404
    assert call(admin, "PUT", "/os-services/freeze", json={"host": "no-such-host"}).status_code == (
        400
    )
    # hosts: one list in the top's zones; one host's usage and capabilities from its pod
    hosts = call(admin, "GET", "/os-hosts").json()["hosts"]
    assert {h["host_name"]: h["zone"] for h in hosts if h["service"] == "cinder-volume"} == zones
    shown = call(admin, "GET", "/os-hosts/pod2-volume@fake")
    assert shown.status_code == 200 and shown.headers["X-Cascade-Pod"] == "pod2"
    assert shown.json()["host"][0]["resource"]["host"] == "pod2-volume@fake"
    assert call(admin, "GET", "/os-hosts/no-such-host").status_code == 404
    caps = call(admin, "GET", "/capabilities/pod1-volume@fake")
    assert caps.status_code == 200, caps.text
    assert caps.json()["namespace"] == "OS::Storage::Capabilities::pod1-volume@fake"
    assert call(admin, "GET", "/capabilities/no-such-host").status_code == 404

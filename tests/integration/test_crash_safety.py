"""Crash safety on the real devcloud: a worker killed in the middle of a job, and
cascade-api killed in the middle of a server create.

Each test stops a pod's neutron-api (SIGSTOP) so that Cascade is caught in a
call to it, kills the Cascade process (SIGKILL: no clean-up of any kind),
lets the pod go on, and restarts the process with `devcloud up`. What must
hold afterwards: the job is done, having run to its end once (the lost run
counts as an attempt), and every bottom object exists once, with its routing.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from openstack.connection import Connection

from tests.integration.conftest import devcloud
from tests.integration.test_cascade_compute import MV, pids, unique, wait_gone, wait_status
from tests.integration.test_cascade_network import boot, bottom_network, eventually

pytestmark = pytest.mark.integration


@contextmanager
def frozen(name: str) -> Iterator[None]:
    """The devcloud process `name` stopped (SIGSTOP) inside the block; devcloud `up`
    afterwards whatever happens, so the devcloud is whole again."""
    pid = pids()[name]
    os.killpg(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(pid, signal.SIGCONT)


def kill(name: str) -> None:
    os.killpg(pids()[name], signal.SIGKILL)


def restart() -> None:
    result = devcloud("up")
    assert result.returncode == 0, result.stdout + result.stderr


def jobs(admin: Connection, **query: str) -> list[dict[str, Any]]:
    resp = admin.session.get("http://127.0.0.1:20080/v1/jobs", params=query)
    found: list[dict[str, Any]] = resp.json()["jobs"]
    return found


def admin_get(admin: Connection, path: str, **query: str) -> list[dict[str, Any]]:
    resp = admin.session.get(f"http://127.0.0.1:20080{path}", params=query)
    found: list[dict[str, Any]] = resp.json()["routings"]
    return found


def rule_keys(pod_admin: Connection, group_id: str) -> list[tuple[Any, ...]]:
    group = next(pod_admin.network.security_groups(name=group_id))
    return [
        (r.direction, r.ether_type, r.protocol, r.port_range_min, r.remote_ip_prefix)
        for r in pod_admin.network.security_group_rules(security_group_id=group.id)
    ]


def test_a_worker_killed_mid_job_leaves_the_job_done_once(
    top: dict[str, Connection], conns: dict[str, Connection]
) -> None:
    conn, admin = top["cascade"], top["cascade-admin"]
    image = str(conn.image.find_image("tiny", ignore_missing=False).id)
    network = conn.network.create_network(name=unique("crash"))
    conn.network.create_subnet(network_id=network.id, cidr="10.144.0.0/24", ip_version=4)
    group = conn.network.create_security_group(name=unique("crash-sg"))
    servers: list[str] = []
    try:
        for az in ("az1", "az2"):
            status, body = boot(
                conn,
                az,
                image,
                networks=[{"uuid": network.id}],
                security_groups=[{"name": group.name}],
            )
            assert status == 202, body
            servers.append(body["server"]["id"])
        for server_id in servers:
            wait_status(conn, server_id, "ACTIVE")
        with frozen("pod2-neutron-api"):
            conn.network.create_security_group_rule(
                security_group_id=group.id,
                direction="ingress",
                protocol="tcp",
                port_range_min=7777,
                port_range_max=7777,
                remote_ip_prefix="198.51.100.0/24",
            )
            # the worker takes the job and hangs in its call to pod2: kill it there
            eventually(
                lambda: bool(jobs(admin, resource_id=group.id, status="running")),
                "the job to be running",
            )
            time.sleep(1)
            kill("cascade-worker")
        restart()
        eventually(
            lambda: all(
                j["status"] in ("done", "superseded")
                for j in jobs(admin, resource_id=group.id, type="security_group.sync")
            ),
            "the job to be done",
            timeout=90,
        )
        # the killed run is counted (its lease ran out), then the job ran to its end once
        killed = [
            (j["status"], j["attempts"])
            for j in jobs(admin, resource_id=group.id, type="security_group.sync")
            if j["attempts"]
        ]
        assert killed == [("done", 1)], killed
        wanted = ("ingress", "IPv4", "tcp", 7777, "198.51.100.0/24")
        for pod in ("pod1", "pod2"):
            keys = rule_keys(conns[f"{pod}-admin"], group.id)
            assert keys.count(wanted) == 1, (pod, keys)
            assert len(keys) == len(set(keys)), (pod, keys)  # nothing duplicated
    finally:
        for server_id in servers:
            conn.compute.delete(f"/servers/{server_id}", microversion=MV, raise_exc=False)
        for server_id in servers:
            wait_gone(conn, server_id)
        eventually(lambda: not list(conn.network.ports(network_id=network.id)), "top ports")
        conn.network.delete_security_group(group.id)
        conn.network.delete_network(network.id)


def test_cascade_api_killed_mid_create_leaves_no_orphan_or_duplicate(
    top: dict[str, Connection], conns: dict[str, Connection]
) -> None:
    conn = top["cascade"]
    pod1 = conns["pod1-admin"]
    image = str(conn.image.find_image("tiny", ignore_missing=False).id)
    network = conn.network.create_network(name=unique("crash-api"))
    conn.network.create_subnet(network_id=network.id, cidr="10.145.0.0/24", ip_version=4)
    server = None
    try:
        answers: list[Any] = []

        def create() -> None:  # the client's request; its connection dies with cascade-api
            try:
                answers.append(boot(conn, "az1", image, networks=[{"uuid": network.id}]))
            except Exception as exc:
                answers.append(exc)

        with frozen("pod1-neutron-api"):
            client = threading.Thread(target=create)
            client.start()
            time.sleep(3)  # cascade-api is now waiting on pod1's Neutron for the network
            kill("cascade-api")
            client.join(30)
        restart()
        # the intent was written before any call to the pod: the routing names the network
        # to look for, so nothing the pod may have made is left without one
        intents = admin_get(
            top["cascade-admin"], "/v1/routings", resource_type="network", top_id=network.id
        )
        assert [r["status"] for r in intents] == ["creating"], intents
        # the client tries again: the network is adopted (found by name), not made twice
        deadline = time.monotonic() + 120
        while True:
            status, body = boot(conn, "az1", image, networks=[{"uuid": network.id}])
            if status == 202 or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert status == 202, body
        server = body["server"]["id"]
        wait_status(conn, server, "ACTIVE")
        assert len(list(pod1.network.networks(name=network.id))) == 1
        bottom = bottom_network(pod1, network.id)
        subnets = list(pod1.network.subnets(network_id=bottom.id))
        assert len(subnets) == 1
        names = [p.name for p in pod1.network.ports(network_id=bottom.id)]
        assert len(names) == len(set(names)), names  # no port twice
        top_ports = {p.id for p in conn.network.ports(network_id=network.id)}
        assert set(names) - {f"dhcp-{subnets[0].name}"} <= top_ports  # each one routed
    finally:
        if server:
            conn.compute.delete(f"/servers/{server}", microversion=MV, raise_exc=False)
            wait_gone(conn, server)
        # the port the killed create made is settled by its check job (deleted: it never
        # reached a server), the retried create's port goes with its server
        eventually(lambda: not list(conn.network.ports(network_id=network.id)), "top ports", 120)
        conn.network.delete_network(network.id)
    eventually(lambda: bottom_network(pod1, network.id) is None, "the network gone from pod1")

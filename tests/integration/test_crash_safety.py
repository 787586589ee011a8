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
from collections.abc import Callable, Iterator
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


def wait_done(admin: Connection, resource_id: str, job_type: str) -> None:
    """Until every job of that type for the resource is done (or superseded)."""
    eventually(
        lambda: all(
            j["status"] in ("done", "superseded")
            for j in jobs(admin, resource_id=resource_id, type=job_type)
        ),
        f"the {job_type} job to be done",
        timeout=90,
    )


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
        wait_done(admin, group.id, "security_group.sync")
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


def _named(pod: Connection, router_id: str) -> dict[str, int]:
    """How many of each bottom object the pod holds for the router (by name)."""
    return {
        "routers": len(list(pod.network.routers(name=router_id))),
        "bridge networks": len(list(pod.network.networks(name=f"bridge-{router_id}"))),
        "bridge subnets": len(list(pod.network.subnets(name=f"bridge-{router_id}"))),
        "bridge ports": len(list(pod.network.ports(name=f"bridge-{router_id}"))),
    }


def test_killed_during_cross_pod_router_setup_and_floating_ip_association(
    top: dict[str, Connection], conns: dict[str, Connection]
) -> None:
    """cascade-worker killed while it builds a router across pods, then cascade-api and
    cascade-worker killed while a floating IP association is being made in the pod that
    holds it (the association's answer comes before any pod call: the pod work in flight
    is the job's). After each restart: the result complete, nothing twice, no orphan."""
    conn, admin = top["cascade"], top["cascade-admin"]
    pod1, pod2 = conns["pod1-admin"], conns["pod2-admin"]
    image = str(conn.image.find_image("tiny", ignore_missing=False).id)
    network = admin.network.create_network(
        name=unique("crash-xr"), project_id=conn.current_project_id, provider_network_type="local"
    )
    subnet = conn.network.create_subnet(network_id=network.id, cidr="10.148.0.0/24", ip_version=4)
    public = conn.network.find_network("public", ignore_missing=False)
    router = conn.network.create_router(
        name=unique("crash-xr"), external_gateway_info={"network_id": public.id}
    )
    server, fip = None, None
    try:
        status, body = boot(conn, "az2", image, networks=[{"uuid": network.id}])
        assert status == 202, body
        server = body["server"]["id"]
        wait_status(conn, server, "ACTIVE")
        port = next(conn.network.ports(device_id=server))
        with frozen("pod2-neutron-api"):
            conn.network.add_interface_to_router(router, subnet=subnet.id)
            # the build makes pod1's side, then hangs in its first call to pod2: killed
            eventually(
                lambda: bool(jobs(admin, resource_id=router.id, status="running")),
                "the router's build to be running",
            )
            eventually(lambda: _named(pod1, router.id)["bridge ports"] == 1, "pod1's bridge")
            time.sleep(1)
            kill("cascade-worker")
        restart()
        wait_done(admin, router.id, "router.build")
        for pod in (pod1, pod2):
            assert _named(pod, router.id) == dict.fromkeys(_named(pod, router.id), 1)
        b_router = next(pod2.network.routers(name=router.id))
        ifaces = list(pod2.network.ports(device_id=b_router.id))
        addresses = [ip["ip_address"] for p in ifaces for ip in p.fixed_ips]
        assert len(addresses) == 2 and "10.148.0.1" in addresses  # the gateway, the bridge

        with frozen("pod1-neutron-api"):
            fip = conn.network.create_ip(floating_network_id=public.id, port_id=port.id)
            kill("cascade-api")
            # the worker takes the jobs (it polls every 0.2 s) and hangs in pod1: killed
            time.sleep(3)
            kill("cascade-worker")
        restart()
        eventually(lambda: conn.network.get_ip(fip.id).status == "ACTIVE", "the floating IP", 120)
        found = list(pod1.network.ips(description=fip.id))
        assert [f.floating_ip_address for f in found] == [fip.floating_ip_address]
        shadows = list(pod1.network.ports(name=f"shadow-{fip.id}"))
        assert len(shadows) == 1 and found[0].port_id == shadows[0].id
        shadow_nets = [n for n in pod1.network.networks() if (n.name or "").startswith("shadow-")]
        assert len([n for n in shadow_nets if str(router.id) in (n.description or "")]) == 1
    finally:
        if fip is not None:
            conn.network.delete_ip(fip.id, ignore_missing=True)
        if server:
            conn.compute.delete(f"/servers/{server}", microversion=MV, raise_exc=False)
            wait_gone(conn, server)
        conn.network.remove_interface_from_router(router, subnet=subnet.id)
        conn.network.delete_router(router.id)
        eventually(lambda: not list(conn.network.ports(network_id=network.id)), "top ports")
        conn.network.delete_network(network.id)
    for pod in (pod1, pod2):
        eventually(_nothing_named(pod, router.id), "nothing left of the router")


def _nothing_named(pod: Connection, router_id: str) -> Callable[[], bool]:
    return lambda: not any(_named(pod, router_id).values())

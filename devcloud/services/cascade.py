"""Cascade itself in front of the pods: cascade-api on the `cascade` region's port.

Its Image API (`/image`, the `cascade` region's image endpoint) fronts the shared Glance.

It runs from Cascade's own virtualenv (the one running this tool), keeps
its data in the devcloud's MariaDB (database `cascade`), and after start-up
every pod of the devcloud is registered through the admin API (pod N serves
top AZ `azN`; an independent pod with its own Keystone and Cascade's account
there), and pods the devcloud no longer has are unregistered.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from devcloud import infra
from devcloud.commands import run
from devcloud.errors import DevcloudError
from devcloud.identity import CASCADE_USER
from devcloud.ini import Value, render, write_if_changed
from devcloud.layout import DB_USER, PASSWORD, Layout, Pod
from devcloud.proc import Proc
from devcloud.rest import Rest
from devcloud.seed import FLAVORS, QUOTAS
from devcloud.services.common import SERVICE_PROJECT

DATABASES = ["cascade"]
CASCADE_PACKAGE = Path(__file__).resolve().parents[2] / "cascade"


def _bin(command: str) -> str:
    return str(Path(sys.executable).parent / command)


def _db_url(layout: Layout) -> str:
    port = layout.port("mariadb")
    return f"mysql+asyncmy://{DB_USER}:{PASSWORD}@127.0.0.1:{port}/cascade?charset=utf8mb4"


def code_fingerprint() -> str:
    """Changes with Cascade's code, so `up` restarts cascade-api after an edit."""
    digest = hashlib.sha256()
    for path in sorted(CASCADE_PACKAGE.rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def configure(layout: Layout) -> bool:
    home = layout.home("cascade")
    sections: dict[str, Mapping[str, Value]] = {
        "api": {"host": "127.0.0.1", "port": layout.port("cascade")},
        "database": {"connection": _db_url(layout)},
        "keystone": {
            "auth_url": layout.auth_url,
            "username": "cascade",
            "password": PASSWORD,
            "project_name": "service",
        },
        # frequent checks: tests and newcomers see pod health within seconds
        "pods": {"health_interval": 5},
        # the top's defaults as roomy as the pods' own quotas for the devcloud's projects
        "quota": {k: str(v) for k, v in QUOTAS.items()},
        # jobs run in their own process, as in production (tests kill it mid-job);
        # a short lease so a killed worker's job is taken over within seconds
        "jobs": {"embedded_worker": "false", "poll_interval": "0.2", "lease_seconds": "10"},
        # a port left by a create killed mid-way is settled soon (the crash tests)
        "network": {"orphan_check_seconds": "30"},
        # the Image API at the top fronts the shared Glance (the top's own)
        "image": {"glance_url": layout.url("glance")},
    }
    if layout.default_az:
        # `up --default-az`: creates that name no AZ go there (tempest through the top
        # against one pod: tempest names no AZ)
        sections["scheduling"] = {"default_az": layout.default_az}
    changed = write_if_changed(home / "cascade.conf", render(sections))
    return write_if_changed(home / "code-fingerprint", code_fingerprint()) or changed


async def setup(layout: Layout) -> None:
    """Create the database on first use and migrate it (a no-op when it is current)."""
    home = layout.home("cascade")
    if not (home / ".database-created").exists():
        await infra.recreate_databases(layout, DATABASES)
        (home / ".database-created").write_text("")
    conf = str(home / "cascade.conf")
    await run(
        [_bin("cascade-manage"), "--config-file", conf, "db", "upgrade"],
        service="cascade",
        log=layout.log / "cascade-setup.log",
    )


def procs(layout: Layout) -> list[Proc]:
    conf = str(layout.home("cascade") / "cascade.conf")
    port = layout.port("cascade")
    # the code the fingerprint was taken of: this checkout's, not the one the virtualenv
    # was installed from (a worktree's `up` restarts cascade-api on the worktree's code)
    env = {"PYTHONPATH": str(CASCADE_PACKAGE.parent)}
    return [
        Proc(
            name="cascade-api",
            argv=(_bin("cascade-api"), "--config-file", conf),
            tier="shared",
            port=port,
            url=f"http://127.0.0.1:{port}/",
            start_timeout=60,
            env=env,
        ),
        Proc(
            name="cascade-worker",
            argv=(_bin("cascade-worker"), "--config-file", conf),
            tier="shared",
            env=env,
        ),
    ]


def pod_body(layout: Layout, pod: Pod) -> dict[str, Any]:
    """The `POST /v1/pods` body for a pod: where it is at the top and in the pod, and for
    an independent pod its own Keystone and the account Cascade uses there."""
    fields: dict[str, Any] = {
        "name": pod.name,
        "region_name": pod.region,
        "az": f"az{pod.number}",
        "pod_az": pod.az,
    }
    if pod.independent:
        fields |= {
            "identity": "independent",
            "auth_url": layout.pod_auth_url(pod),
            "credentials": {
                "username": CASCADE_USER,
                "password": PASSWORD,
                "user_domain_name": "Default",
                "project_name": SERVICE_PROJECT,
                "project_domain_name": "Default",
            },
        }
    return {"pod": fields}


async def register_pods(layout: Layout, pods: list[Pod]) -> dict[str, str]:
    """Make Cascade's pods exactly the devcloud's: pod N in region podN, top AZ azN.

    Returns the independent pods Cascade refused, with its answer: a Cascade that
    does not take them yet answers 400, and that must not take the shared pods or
    the rest of the devcloud down with it. A shared pod refused is an error.
    """
    base = layout.url("cascade") + "/v1/pods"
    refused: dict[str, str] = {}
    async with Rest(layout.auth_url) as rest:
        have = {p["name"]: p for p in (await rest.call("cascade", "GET", base))["pods"]}
        # the shared pods first: they never wait on an independent one's answer
        for pod in sorted(pods, key=lambda p: p.independent):
            if pod.name in have:
                continue
            try:
                await rest.call("cascade", "POST", base, pod_body(layout, pod), ok=(201,))
            except DevcloudError as exc:
                if not pod.independent:
                    raise
                refused[pod.name] = exc.message
        wanted = {p.name for p in pods}
        for name, found in have.items():
            if name not in wanted:
                # the pod's services are being removed: whatever it hosted goes with it
                url = f"{base}/{found['id']}?force=true"
                await rest.call("cascade", "DELETE", url, ok=(204,))
    return refused


async def ensure_flavors(layout: Layout) -> None:
    """The usual flavors, owned by the top (Cascade copies them into a pod on first use)."""
    api = layout.url("cascade") + "/compute/v2.1"
    async with Rest(layout.auth_url) as rest:
        for fid, name, ram, vcpus, disk in FLAVORS:
            if not await rest.exists("cascade", f"{api}/flavors/{fid}"):
                body = {
                    "flavor": {"id": fid, "name": name, "ram": ram, "vcpus": vcpus, "disk": disk}
                }
                await rest.call("cascade", "POST", f"{api}/flavors", body)


async def ensure_external_networks(layout: Layout, pods: list[Pod]) -> None:
    """At the top, each pod's external network as a top external network (`public` for
    pod1, `public-azN` for the others), with the upper part of its subnet for the top's
    floating IPs and router gateways (the pod keeps .2-.99 for itself). That of a pod
    the devcloud no longer has goes."""
    api = layout.url("cascade") + "/networking/v2.0"
    wanted = {"public" if p.number == 1 else f"public-az{p.number}" for p in pods}
    async with Rest(layout.auth_url) as rest:
        external = await rest.call("cascade", "GET", f"{api}/networks?router:external=true")
        for network in external["networks"]:
            if network["name"].startswith("public-az") and network["name"] not in wanted:
                url = f"{api}/networks/{network['id']}"
                await rest.call("cascade", "DELETE", url, ok=(204,))
        for pod in pods:
            name = "public" if pod.number == 1 else f"public-az{pod.number}"
            found = await rest.call("cascade", "GET", f"{api}/networks?name={name}")
            if found["networks"]:
                network = found["networks"][0]
                if network.get("shared"):  # as an earlier devcloud made it: as the pods' now
                    url = f"{api}/networks/{network['id']}"
                    await rest.call("cascade", "PUT", url, {"network": {"shared": False}})
                continue
            body = {
                "network": {
                    "name": name,
                    # external: every project sees it and may take floating IPs from
                    # it; not shared (as the pods' own): only its owner tags or plugs it
                    "router:external": True,
                    "shared": False,
                    "provider:network_type": "flat",
                    "provider:physical_network": "external",
                    "availability_zone_hints": [f"az{pod.number}"],
                }
            }
            made = await rest.call("cascade", "POST", f"{api}/networks", body, ok=(201,))
            n = pod.number
            subnet = {
                "subnet": {
                    "name": f"{name}-subnet",
                    "network_id": made["network"]["id"],
                    "ip_version": 4,
                    "cidr": f"172.24.{n}.0/24",
                    "gateway_ip": f"172.24.{n}.1",
                    "allocation_pools": [{"start": f"172.24.{n}.100", "end": f"172.24.{n}.254"}],
                    "enable_dhcp": False,
                }
            }
            await rest.call("cascade", "POST", f"{api}/subnets", subnet, ok=(201,))

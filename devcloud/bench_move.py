"""`devcloud bench --move`: moving a server (and a volume) between the devcloud's pods
against making it fresh, side by side in one run.

Each run, through the top as demo (admin for the move): a server booted fresh in az2
(pod2), from the request to ACTIVE; a server booted in az1 (pod1) and moved to pod2
with `migrate` (host `pod2`): from the request to VERIFY_RESIZE (stopped, imaged,
booted in pod2), and from `confirmResize` to ACTIVE in pod2 (the source deleted);
both servers deleted after. Then a volume made fresh in az2, from the request to
available, and one made in az1 and moved to pod2 with `os-migrate_volume` (host
`pod2`): from the request to `migration_status` `success` in pod2 (uploaded to an
image, made from it in pod2, the source deleted). The devcloud must run (its fake
hypervisor and volume driver: an image is a few bytes, a volume's upload 1 MiB, so the
figures are Cascade's and the pods' APIs' own cost, not a disk copy). Figures go into
docs/benchmarks.md, "Moving a server or a volume between pods".
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from devcloud.bench_cascade import DOCS
from devcloud.bench_network import replace_block
from devcloud.layout import Layout

RUNS = 3
MV = "2.79"
TIMEOUT = 600.0
HEADING = "## Moving a server or a volume between pods (issue: operating many pods)"
BEGIN = "<!-- devcloud bench --move: generated block, replaced by every run -->"
END = "<!-- devcloud bench --move: end of generated block -->"


@dataclass
class Figures:
    fresh: list[float] = field(default_factory=list)
    to_verify: list[float] = field(default_factory=list)
    confirm: list[float] = field(default_factory=list)
    volume_fresh: list[float] = field(default_factory=list)
    volume_moved: list[float] = field(default_factory=list)

    @property
    def moved(self) -> list[float]:
        return [a + b for a, b in zip(self.to_verify, self.confirm, strict=True)]


def _until(conn: Any, server_id: str, status: str) -> float:
    started = time.monotonic()
    while True:
        server = conn.compute.get(f"/servers/{server_id}", microversion=MV).json()["server"]
        if server["status"] == status:
            return time.monotonic() - started
        if server["status"] == "ERROR" or time.monotonic() - started > TIMEOUT:
            raise RuntimeError(f"server {server_id} is {server['status']}: {server.get('fault')}")
        time.sleep(0.2)


def _boot(conn: Any, az: str, image: str, network: str) -> str:
    body = {
        "server": {
            "name": f"bench-move-{uuid.uuid4().hex[:8]}",
            "imageRef": image,
            "flavorRef": "1",
            "availability_zone": az,
            "networks": [{"uuid": network}],
        }
    }
    resp = conn.compute.post("/servers", json=body, microversion=MV)
    return str(resp.json()["server"]["id"])


def _delete(conn: Any, server_id: str) -> None:
    conn.compute.delete(f"/servers/{server_id}", raise_exc=False)
    started = time.monotonic()
    while conn.compute.get(f"/servers/{server_id}", raise_exc=False).status_code != 404:
        if time.monotonic() - started > TIMEOUT:
            raise RuntimeError(f"server {server_id} was not deleted")
        time.sleep(0.5)


VOLUME = {"OpenStack-API-Version": "volume 3.60"}


def _volume(conn: Any, volume_id: str, done: Callable[[Any], bool]) -> float:
    """Seconds until the volume (as the top shows it, with the pod named) is `done`."""
    started = time.monotonic()
    while True:
        resp = conn.block_storage.get(f"/volumes/{volume_id}", headers=VOLUME)
        if done(resp):
            return time.monotonic() - started
        status = resp.json()["volume"]
        if status["status"] == "error" or status.get("migration_status") == "error":
            raise RuntimeError(f"volume {volume_id}: {status}")
        if time.monotonic() - started > TIMEOUT:
            raise RuntimeError(f"volume {volume_id} is {status['status']}")
        time.sleep(0.2)


def _volumes(conn: Any, admin: Any, found: Figures) -> None:
    """One volume made fresh in az2 and one moved there from az1, each measured."""
    made: list[str] = []

    def make(az: str) -> float:
        """Seconds from the create to available."""
        started = time.monotonic()
        body = {"volume": {"size": 1, "availability_zone": az, "name": "bench-move"}}
        made.append(conn.block_storage.post("/volumes", json=body).json()["volume"]["id"])
        _volume(conn, made[-1], lambda r: r.json()["volume"]["status"] == "available")
        return time.monotonic() - started

    found.volume_fresh.append(make("az2"))
    make("az1")
    moving = made[-1]
    migrate = {"os-migrate_volume": {"host": "pod2"}}
    admin.block_storage.post(f"/volumes/{moving}/action", json=migrate, headers=VOLUME)
    found.volume_moved.append(
        _volume(
            admin,
            moving,
            lambda r: (
                r.headers.get("X-Cascade-Pod") == "pod2"
                and r.json()["volume"]["migration_status"] == "success"
            ),
        )
    )
    for volume_id in made:
        _delete_volume(conn, volume_id)


def _delete_volume(conn: Any, volume_id: str) -> None:
    """The volume deleted, asked again while it refuses (still completing its move)."""
    started = time.monotonic()
    while True:
        resp = conn.block_storage.delete(f"/volumes/{volume_id}", raise_exc=False, headers=VOLUME)
        if resp.status_code < 400:
            return
        if time.monotonic() - started > TIMEOUT:
            raise RuntimeError(f"volume {volume_id} was not deleted: {resp.text}")
        time.sleep(0.5)


def measure(layout: Layout, runs: int) -> Figures:
    import openstack

    os.environ["OS_CLIENT_CONFIG_FILE"] = str(layout.clouds_yaml)
    conn = openstack.connect(cloud="cascade")
    admin = openstack.connect(cloud="cascade-admin")
    found = Figures()
    image = str(conn.image.find_image("tiny", ignore_missing=False).id)
    network = conn.network.create_network(name=f"bench-move-{uuid.uuid4().hex[:8]}")
    conn.network.create_subnet(network_id=network.id, cidr="10.177.0.0/24", ip_version=4)
    try:
        for _ in range(runs):
            fresh = _boot(conn, "az2", image, network.id)
            started = time.monotonic()
            _until(conn, fresh, "ACTIVE")
            found.fresh.append(time.monotonic() - started)
            moving = _boot(conn, "az1", image, network.id)
            _until(conn, moving, "ACTIVE")
            migrate: dict[str, Any] = {"migrate": {"host": "pod2"}}
            admin.compute.post(f"/servers/{moving}/action", json=migrate, microversion=MV)
            found.to_verify.append(_until(conn, moving, "VERIFY_RESIZE"))
            confirm: dict[str, Any] = {"confirmResize": None}
            admin.compute.post(f"/servers/{moving}/action", json=confirm, microversion=MV)
            found.confirm.append(_until(conn, moving, "ACTIVE"))
            for server_id in (fresh, moving):
                _delete(conn, server_id)
            _volumes(conn, admin, found)
    finally:
        time.sleep(2)
        conn.network.delete_network(network.id, ignore_missing=True)
        conn.close()
        admin.close()
    return found


def _cell(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} s ({', '.join(f'{v:.1f}' for v in values)})"


def render(found: Figures, runs: int) -> str:
    ratio = statistics.median(found.moved) / statistics.median(found.fresh)
    volume_ratio = statistics.median(found.volume_moved) / statistics.median(found.volume_fresh)
    lines = [
        "| | median (each run) |",
        "|---|---|",
        f"| a server booted fresh in pod2, to ACTIVE | {_cell(found.fresh)} |",
        f"| moved pod1 -> pod2: `migrate` to VERIFY_RESIZE | {_cell(found.to_verify)} |",
        f"| moved: `confirmResize` to ACTIVE in pod2 | {_cell(found.confirm)} |",
        f"| moved, in all | {_cell(found.moved)} |",
        f"| moved against booted fresh | {ratio:.2f} x |",
        f"| a volume made fresh in pod2, to available | {_cell(found.volume_fresh)} |",
        f"| a volume moved pod1 -> pod2, to `success` there | {_cell(found.volume_moved)} |",
        f"| moved against made fresh | {volume_ratio:.2f} x |",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `bin/devcloud bench --move "
        f"--runs {runs}` on the devcloud (fake hypervisor, a tiny image; a move stops the "
        "server, takes its image, boots it in the other pod as its project and waits for "
        "each step, its job asking the pods every half second; a volume's move uploads it "
        "to an image, makes it from the image in the other pod and deletes the source, "
        "the fake volume driver copying 1 MiB).",
    ]
    return "\n".join(lines)


async def run(layout: Layout, runs: int) -> str:
    found = await asyncio.to_thread(measure, layout, runs)
    block = render(found, runs)
    DOCS.write_text(replace_block(DOCS.read_text(), HEADING, block, BEGIN, END))
    return block

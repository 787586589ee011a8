"""Two cascade-api replicas behind HAProxy (Debian's package), on the devcloud's MariaDB:
a rolling restart under a steady stream of creates and lists loses no request.

The replicas run with the devcloud's own configuration (its database, Keystone and
pods), each on its own port, beside a second cascade-worker (the devcloud runs one:
two take jobs, one of them checks the pods' health, by its lease); HAProxy
balances them round-robin and checks them. The restart is the one an operator
makes: one replica drained through HAProxy's admin socket (no new request goes
to it), stopped (uvicorn finishes what it holds), started again, made ready once
it answers on its own port, and left to HAProxy's check to see it up; then the other.
"""

from __future__ import annotations

import asyncio
import configparser
import contextlib
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from devcloud import haproxy
from devcloud.layout import Layout
from tests.integration.conftest import DEVCLOUD_DIR
from tests.integration.test_cascade_admin import free_port, token

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent
LOAD_SECONDS_AFTER = 3.0  # the stream goes on this long after the last restart


async def until(what: str, check: Callable[[], Awaitable[bool]], timeout: float = 60.0) -> None:
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < timeout, f"waited {timeout:g} s for {what}"
        await asyncio.sleep(0.1)


@dataclass
class Replica:
    name: str
    port: int
    conf: Path
    log: Path
    proc: asyncio.subprocess.Process | None = None
    pids: list[int] = field(default_factory=list)

    async def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                str(BIN / "cascade-api"), "--config-file", str(self.conf), stdout=out, stderr=out
            )
        self.pids.append(self.proc.pid)

    async def stop(self) -> None:
        assert self.proc is not None
        self.proc.terminate()
        await asyncio.wait_for(self.proc.wait(), 30)


@dataclass
class Stream:
    """Creates and lists as the demo project, one after another, until stopped."""

    url: str
    headers: dict[str, str]
    done: int = 0
    failures: list[str] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    slowest: list[tuple[float, str]] = field(default_factory=list)  # seconds, request

    async def run(self, worker: int) -> None:
        async with httpx.AsyncClient(base_url=self.url, headers=self.headers, timeout=60) as http:
            n = 0
            while not self.stop.is_set():
                n += 1
                name = f"replicas-{worker}-{n}"
                body = {"keypair": {"name": name}}
                await self.check(http.post("/compute/v2.1/os-keypairs", json=body), 201)
                await self.check(http.get("/compute/v2.1/servers/detail"), 200)
                await self.check(http.delete(f"/compute/v2.1/os-keypairs/{name}"), 204)
                await self.check(http.get("/networking/v2.0/networks"), 200)

    async def check(self, call: Awaitable[httpx.Response], status: int) -> None:
        started = time.monotonic()
        try:
            resp = await call
        except httpx.HTTPError as exc:
            self.failures.append(repr(exc))
            return
        self.done += 1
        took = time.monotonic() - started
        pods = resp.headers.get("X-Cascade-Unavailable-Pods", "")
        self.slowest.append((took, f"{resp.request.method} {resp.request.url.path} {pods}"))
        self.slowest = sorted(self.slowest, reverse=True)[:5]
        if resp.status_code != status:
            self.failures.append(
                f"{resp.request.method} {resp.request.url.path}: "
                f"{resp.status_code} {resp.text[:200]}"
            )


@contextlib.asynccontextmanager
async def replicas_behind_haproxy(tmp: Path) -> AsyncIterator[tuple[str, Path, list[Replica]]]:
    layout = Layout(DEVCLOUD_DIR)
    base = configparser.ConfigParser(interpolation=None)
    base.read(layout.home("cascade") / "cascade.conf")
    made = []
    for n in (1, 2):
        conf = configparser.ConfigParser(interpolation=None)
        conf.read_dict(base)
        port = free_port()
        conf["api"]["port"] = str(port)
        path = tmp / f"api{n}.conf"
        with path.open("w") as out:
            conf.write(out)
        made.append(Replica(f"api{n}", port, path, tmp / f"api{n}.log"))
    front, admin = free_port(), tmp / "haproxy.sock"
    (tmp / "haproxy.cfg").write_text(haproxy.config(front, [r.port for r in made], admin))
    for replica in made:
        await replica.start()
    with (tmp / "worker.log").open("wb") as out:
        worker = await asyncio.create_subprocess_exec(
            str(BIN / "cascade-worker"), "--config-file", str(made[0].conf), stdout=out, stderr=out
        )
    with (tmp / "haproxy.log").open("wb") as out:
        proxy = await asyncio.create_subprocess_exec(
            haproxy.BINARY, "-db", "-f", str(tmp / "haproxy.cfg"), stdout=out, stderr=out
        )
    try:
        for replica in made:
            await haproxy.wait_state(admin, replica.name, "UP")
        yield f"http://127.0.0.1:{front}", admin, made
    finally:
        proxy.terminate()
        await proxy.wait()
        worker.terminate()
        await asyncio.wait_for(worker.wait(), 30)
        for replica in made:
            if replica.proc is not None and replica.proc.returncode is None:
                await replica.stop()


async def rolling_restart(admin: Path, replicas: list[Replica]) -> None:
    for replica in replicas:
        await haproxy.command(admin, f"set server replicas/{replica.name} state drain")

        async def idle(name: str = replica.name) -> bool:
            return (await haproxy.server_state(admin, name))[1] == 0

        await until(f"{replica.name} drained", idle)
        await replica.stop()
        await replica.start()

        async def answers(port: int = replica.port) -> bool:
            try:
                async with httpx.AsyncClient(timeout=2) as http:
                    resp = await http.get(f"http://127.0.0.1:{port}/healthcheck")
                    return resp.status_code == 200
            except httpx.HTTPError:
                return False

        # HAProxy shows a server that leaves drain (or maintenance) as UP at once, before
        # its check has seen the restarted process: made ready too early, the next
        # replica's drain would leave no server to take requests (a CI run saw 118 503s)
        await until(f"{replica.name} answering", answers)
        await haproxy.command(admin, f"set server replicas/{replica.name} state ready")
        await haproxy.wait_state(admin, replica.name, "UP")


def test_a_rolling_restart_under_load_loses_no_request(clouds_yaml: Path, tmp_path: Path) -> None:
    headers = {"X-Auth-Token": token("cascade"), "OpenStack-API-Version": "compute 2.79"}

    async def scenario() -> tuple[Stream, list[Replica]]:
        async with replicas_behind_haproxy(tmp_path) as (url, admin, replicas):
            stream = Stream(url, headers)
            workers = [asyncio.create_task(stream.run(n)) for n in range(4)]
            await asyncio.sleep(2)  # the stream is under way
            before = stream.done
            await rolling_restart(admin, replicas)
            await asyncio.sleep(LOAD_SECONDS_AFTER)
            stream.stop.set()
            await asyncio.gather(*workers)
            assert stream.done > before
            return stream, replicas

    stream, replicas = asyncio.run(scenario())
    print(f"{stream.done} requests through HAProxy, {len(stream.failures)} failed")
    print("slowest:", [(round(t, 2), what) for t, what in stream.slowest])
    proxy_log = (tmp_path / "haproxy.log").read_text()
    assert stream.failures == [], (stream.failures[:10], proxy_log[-3000:])
    assert stream.done >= 100
    # each replica was stopped and started again while the stream went on
    assert [len(set(r.pids)) for r in replicas] == [2, 2]
    # the second worker ran beside the devcloud's without a failure
    assert "Traceback" not in (tmp_path / "worker.log").read_text()


def test_the_example_haproxy_config_is_valid() -> None:
    """etc/haproxy/cascade.cfg, as HAProxy itself checks it (no warning either)."""
    example = Path(__file__).resolve().parents[2] / "etc" / "haproxy" / "cascade.cfg"
    checked = subprocess.run(
        [haproxy.BINARY, "-c", "-f", str(example)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stderr
    assert "WARNING" not in checked.stderr, checked.stderr

"""Start, watch and stop the devcloud's daemons, by pid and nothing else.

Each daemon runs in its own session (so its whole process group can be
signalled: uWSGI, nova-conductor and cinder-volume fork children) with its
output in `log/<name>.log`. Its pid file `run/<name>.json` records the pid
and the kernel's start time of that pid, so a recycled pid is never mistaken
for ours and never signalled.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from devcloud.errors import DevcloudError

# Stop order: pods first, then the shared OpenStack services, then the infrastructure.
TIERS = {"infra": 0, "shared": 1, "pod": 2}
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Proc:
    """A daemon of the devcloud.

    It is *ready* when `url` answers with any HTTP status, or else when
    `port` accepts TCP connections, or else when it is still alive after
    `settle` seconds (RPC-only services such as nova-conductor).
    """

    name: str
    argv: tuple[str, ...]
    tier: str
    env: Mapping[str, str] = field(default_factory=dict)
    port: int | None = None
    url: str | None = None
    start_timeout: float = 120.0
    settle: float = 2.0


@dataclass(frozen=True)
class Record:
    """What a pid file says about a started daemon."""

    name: str
    pid: int
    start_ticks: int
    tier: str
    port: int | None
    url: str | None
    log: str


def port_in_use(port: int) -> bool:
    """True if something already listens on 127.0.0.1:`port`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR as servers set it, so a TIME_WAIT leftover does not count as "in use"
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def start_ticks(pid: int) -> int | None:
    """Kernel start time of `pid` (clock ticks since boot), None if no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # the command name (field 2) may contain spaces and parentheses: split after the last ')'
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":  # a zombie is dead for our purposes
        return None
    return int(fields[19])


async def tcp_answers(port: int, timeout: float = 1.0) -> bool:
    """True when a TCP connection to `port` opens within `timeout`. The connect runs in a
    thread: on a loaded machine the event loop can stall past the timeout while other
    probes build their HTTP clients (`status` probes every service at once)."""

    def connect() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout).close()
        except OSError:
            return False
        return True

    return await asyncio.to_thread(connect)


async def http_answers(url: str, timeout: float = 2.0) -> bool:
    """True when `url` gives any HTTP response (even 401/404: the server is up)."""
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            await client.get(url)
    except httpx.HTTPError:
        return False
    return True


class Supervisor:
    """Owns the pid files and logs under one devcloud root."""

    def __init__(self, run_dir: Path, log_dir: Path, home: Path) -> None:
        self.run_dir = run_dir
        self.log_dir = log_dir
        self.home = home
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self.started: list[str] = []  # names started by this process, in order

    # -- records ----------------------------------------------------------------
    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def _pidfile(self, name: str) -> Path:
        return self.run_dir / f"{name}.json"

    def record(self, name: str) -> Record | None:
        try:
            data = json.loads(self._pidfile(name).read_text())
        except (FileNotFoundError, ValueError):
            return None
        return Record(**data)

    def records(self) -> list[Record]:
        if not self.run_dir.exists():
            return []
        found = (self.record(p.stem) for p in sorted(self.run_dir.glob("*.json")))
        return [r for r in found if r is not None]

    def alive(self, record: Record) -> bool:
        child = self._children.get(record.name)
        if child is not None and child.poll() is not None:
            return False
        return start_ticks(record.pid) == record.start_ticks

    def running(self, name: str) -> Record | None:
        """The record of `name` if that very process is still running."""
        record = self.record(name)
        return record if record is not None and self.alive(record) else None

    async def answers(self, record: Record) -> bool:
        if not self.alive(record):
            return False
        if record.url:
            return await http_answers(record.url)
        if record.port:
            return await tcp_answers(record.port)
        return True

    # -- start ------------------------------------------------------------------
    def spawn(self, proc: Proc) -> Record:
        """Start `proc` in its own session; refuse if its port is taken."""
        log = self.log_path(proc.name)
        if proc.port is not None and port_in_use(proc.port):
            raise DevcloudError(
                proc.name,
                f"port 127.0.0.1:{proc.port} is already in use by another program; "
                "stop it or pick another --port-base",
            )
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.home.mkdir(parents=True, exist_ok=True)
        env = {"PATH": BASE_PATH, "HOME": str(self.home), "LANG": "C.UTF-8", **proc.env}
        with log.open("ab") as out:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            out.write(f"\n=== devcloud {stamp}: {' '.join(proc.argv)}\n".encode())
            out.flush()
            try:
                child = subprocess.Popen(
                    proc.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=self.home,
                    start_new_session=True,
                )
            except OSError as exc:
                raise DevcloudError(proc.name, f"cannot start {proc.argv[0]}: {exc}", log) from exc
        ticks = start_ticks(child.pid)
        record = Record(
            name=proc.name,
            pid=child.pid,
            start_ticks=ticks if ticks is not None else -1,
            tier=proc.tier,
            port=proc.port,
            url=proc.url,
            log=str(log),
        )
        self._pidfile(proc.name).write_text(json.dumps(record.__dict__))
        self._children[proc.name] = child
        self.started.append(proc.name)
        return record

    async def wait_ready(self, proc: Proc, record: Record) -> None:
        """Wait until `proc` answers; on death or timeout stop it and raise."""
        log = Path(record.log)
        deadline = time.monotonic() + proc.start_timeout
        born = time.monotonic()
        while True:
            if not self.alive(record):
                child = self._children.get(proc.name)
                code = child.returncode if child is not None else None
                raise DevcloudError(proc.name, f"exited during start-up (exit code {code})", log)
            if proc.url or proc.port:
                if await self.answers(record):
                    return
            elif time.monotonic() - born >= proc.settle:
                return
            if time.monotonic() > deadline:
                await self.stop(proc.name)
                what = proc.url or f"port {proc.port}"
                raise DevcloudError(
                    proc.name, f"did not answer on {what} within {proc.start_timeout:.0f} s", log
                )
            await asyncio.sleep(0.2)

    async def ensure(self, proc: Proc) -> bool:
        """Make `proc` run and answer. Returns True if it had to be (re)started.

        A process that runs but does not answer is a broken part: it is stopped
        and started again.
        """
        record = self.running(proc.name)
        if record is not None:
            # a busy server (every worker at work: a burst of creates) answers late, not
            # never: asked three times before it is taken for broken
            for attempt in range(3):
                if await self.answers(record):
                    return False
                if not self.alive(record) or attempt == 2:
                    break
                await asyncio.sleep(2.0)
            await self.stop(proc.name)
        record = self.spawn(proc)
        await self.wait_ready(proc, record)
        return True

    # -- stop -------------------------------------------------------------------
    async def stop(self, name: str, grace: float = 15.0) -> bool:
        """Stop the process group recorded for `name`; True if something was running."""
        record = self.record(name)
        if record is None:
            return False
        was_running = self.alive(record)
        if was_running:
            self._signal(record, signal.SIGTERM)
            if not await self._gone(record, grace):
                self._signal(record, signal.SIGKILL)
                await self._gone(record, 10.0)
        # children of the group (uWSGI workers, oslo.service forks) may outlive the leader
        if was_running:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(record.pid, signal.SIGKILL)
        child = self._children.pop(name, None)
        if child is not None:
            child.poll()
        self._pidfile(name).unlink(missing_ok=True)
        return was_running

    async def _gone(self, record: Record, timeout: float) -> bool:
        """Poll until the process has exited (a pid that is not our child offers no event)."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive(record):
                return True
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.1)

    def _signal(self, record: Record, sig: signal.Signals) -> None:
        try:
            # the group id is the leader's pid (start_new_session); signal the group only if so
            if os.getpgid(record.pid) == record.pid:
                os.killpg(record.pid, sig)
            else:
                os.kill(record.pid, sig)
        except ProcessLookupError:
            pass

    async def stop_all(self, names: list[str] | None = None) -> list[str]:
        """Stop recorded processes (all, or `names`), pods first, infrastructure last."""
        records = [r for r in self.records() if names is None or r.name in names]
        stopped: list[str] = []
        for tier in sorted(set(TIERS.values()), reverse=True):
            batch = [r.name for r in records if TIERS.get(r.tier, 2) == tier]
            results = await asyncio.gather(*(self.stop(n) for n in batch))
            stopped += [n for n, ok in zip(batch, results, strict=True) if ok]
        return stopped

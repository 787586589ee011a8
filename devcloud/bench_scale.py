"""`devcloud bench --scale`: what one cascade-api costs in front of N pods, N up to 10,000.

The pods are stubs (`devcloud/stubs.py`: one process serving N simulated pods and the
Keystone whose catalog lists them, every answer after `--latency`, 20 ms by default);
the devcloud need not run. For each N, one after the other and side by side in one
run:

- a fresh `cascade-api` on its own SQLite database, with the N pods and a routing for
  each of their servers (10 per pod, the demo project's) written straight into it;
- **cold start**: from the process's start until the first compute version document
  (it needs every pod's microversion range) answers, and then the first merged list;
  the rest is measured once the health check (a `cascade-worker` beside it) has
  reached every pod;
- **merged list**: `GET /servers/detail?limit=1000` through Cascade, p50/p95, against
  the **floor**: the same number of servers listed straight from one stub pod (the
  latency of the slowest pod, the pod's encoding, the transfer) plus the time to
  decode and encode the answer once more (what Cascade cannot avoid doing). Twice: for
  the demo project, whose servers are in every pod, created in turn across them (its
  newest 1,000 are in 1,000 pods: the worst case, every pod asked), and for a project
  that lives in a few of the N pods (`stubs.TEAM_PODS`, 1,000 servers in them: what a
  list costs when it needs a few pods of many);
- **proxied GET** `/servers/{id}` through Cascade against straight to the stub pod: 50
  GETs over the first 50 pods, made twice: the first pass (a server's routing read from
  the database unless a list showed it, a pod's row and flavor names unless a GET of
  that pod read them) and the second (what the process remembers); and a GET of an id
  no routing knows;
- **idle**, after the lists and once the health check's first round has reached
  every pod, over `IDLE_WINDOW` seconds: cascade-api's CPU (share of one core), RSS,
  open TCP connections; the CPU of the cascade-worker that checks the pods' health,
  the checks' request rate at the stubs, and the longest time between two checks of
  one pod (against `[pods] health_interval`).

Loopback only; everything it starts it stops. Figures go into the "Many pods"
section of docs/benchmarks.md (`--write`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from devcloud import stubs
from devcloud.bench_cascade import DOCS, percentile, rss_kib
from devcloud.bench_network import replace_block

COUNTS = (2, 10, 100, 1000, 10000)
SERVERS_PER_POD = 10
LIMIT = 1000
# two and a half rounds of the default health interval: every pod is checked at least
# twice within it, wherever its place in the round
IDLE_WINDOW = 75.0
HEALTH_INTERVAL = 30.0  # the default `[pods] health_interval`
START_TIMEOUT = 600.0
HEADING = "## Many pods (issue: thousands of pods on one API host)"
BEGIN = "<!-- devcloud bench --scale: generated block, replaced by every run -->"
END = "<!-- devcloud bench --scale: end of generated block -->"
LISTEN = "0A"  # a socket's state in /proc/net/tcp
# the stubs' counters of what the health checks ask: each service's version document
HEALTH_KINDS = ("other", *stubs.HEALTH_KINDS)


def runs_for(pods: int) -> int:
    """Lists measured at N pods: fewer where one costs seconds."""
    return 20 if pods <= 100 else 10 if pods <= 1000 else 5


@dataclass
class Lists:
    """One project's merged lists through Cascade and their floor's parts."""

    lists: list[float] = field(default_factory=list)
    listed: int = 0  # servers in the merged page
    left_out: str = ""  # the pods the page names as left out
    direct_lists: list[float] = field(default_factory=list)  # as many from one stub pod
    recode_s: float = 0.0

    @property
    def floor(self) -> float:
        return statistics.median(self.direct_lists) + self.recode_s

    @property
    def ratio(self) -> float:
        return statistics.median(self.lists) / self.floor


@dataclass
class Figures:
    pods: int
    cold_version_s: float = 0.0
    cold_list_s: float = 0.0
    demo: Lists = field(default_factory=Lists)  # servers in every pod, interleaved in time
    team: Lists = field(default_factory=Lists)  # a project in a few of the pods
    gets: list[float] = field(default_factory=list)  # each server's second GET
    first_gets: list[float] = field(default_factory=list)  # and its first
    direct_gets: list[float] = field(default_factory=list)
    unknown_gets: list[float] = field(default_factory=list)
    refused_gets: int = 0  # proxied GETs answered 503 (the pod's breaker open)
    rss_mib: float = 0.0
    idle_cpu: float = 0.0
    connections: int = 0
    health_rate: float = 0.0
    worker_cpu: float = 0.0
    first_round_s: float = 0.0  # from the worker's start until every pod was checked
    probed: int = 0  # pods checked during the idle window
    longest_gap: float = 0.0  # the longest time between two checks of one pod


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def raise_open_files() -> None:
    """Thousands of pods mean thousands of sockets: the soft limit up to the hard one
    (the children started here inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def wait_for(url: str, timeout: float = START_TIMEOUT, ok: int = 200) -> float:
    """Seconds until `url` answers `ok`."""
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=timeout) as http:
        while time.monotonic() - started < timeout:
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(url)).status_code == ok:
                    return time.monotonic() - started
            await asyncio.sleep(0.05)
    raise TimeoutError(f"{url} did not answer {ok} within {timeout:g} s")


@contextlib.asynccontextmanager
async def process(argv: list[str], log: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(*argv, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def run_checked(argv: list[str]) -> None:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    out, _ = await proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"{argv[0]} failed: {out.decode()[-2000:]}")


STUBS = [sys.executable, "-m", "devcloud.stubs"]


def write_conf(home: Path, stub_port: int, api_port: int, database: str, rate: float = 0.0) -> Path:
    """cascade.conf in `home` (made if missing) for a cascade-api in front of the stubs;
    `rate`: each project's reads a second (0: no limit)."""
    home.mkdir(parents=True, exist_ok=True)
    conf = home / "cascade.conf"
    conf.write_text(
        f"[api]\nhost = 127.0.0.1\nport = {api_port}\n"
        f"project_reads_per_second = {rate}\nproject_read_burst = {rate}\n\n"
        f"[database]\nconnection = {database}\n\n"
        f"[keystone]\nauth_url = http://127.0.0.1:{stub_port}/identity/v3\n"
        "username = cascade\npassword = stub\nproject_name = service\n\n"
        "[jobs]\nembedded_worker = false\n"
    )
    return conf


async def prepare(conf: Path, database: str, pods: int, servers: int = SERVERS_PER_POD) -> None:
    """The database migrated and filled (`fill_database`)."""
    await run_checked([_bin("cascade-manage"), "--config-file", str(conf), "db", "upgrade"])
    await fill_database(database, pods, servers)


def api_argv(conf: Path) -> list[str]:
    return [_bin("cascade-api"), "--config-file", str(conf)]


def worker_argv(conf: Path) -> list[str]:
    return [_bin("cascade-worker"), "--config-file", str(conf)]


async def token(stub_url: str, user: str) -> str:
    """A token of `user` from the stubs' Keystone."""
    async with httpx.AsyncClient() as http:
        made = await http.post(
            f"{stub_url}/identity/v3/auth/tokens?nocatalog",
            json={"auth": {"identity": {"password": {"user": {"name": user}}}}},
        )
    return made.headers["X-Subject-Token"]


async def fill_database(database: str, pods: int, servers: int = SERVERS_PER_POD) -> None:
    """N pods and a routing per stub server (`servers` a pod), written straight into
    Cascade's database (through the admin API, registering 10,000 pods would be the
    benchmark)."""
    from sqlalchemy import insert

    from cascade.db.engine import make_engine
    from cascade.db.models import Pod, Routing

    engine = make_engine(database)
    stamp = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=1)
    pod_rows = [
        {
            "id": str(uuid.uuid5(stubs.NAMESPACE, f"pod-{i}")),
            "name": stubs.region(i),
            "region_name": stubs.region(i),
            "az": "az1",
            "pod_az": "nova",
            "enabled": True,
            "weight": 1,
            "tags": [],
            "health_state": "unknown",
            "created_at": stamp,
        }
        for i in range(pods)
    ]
    routing_rows = [
        {
            "id": str(uuid.uuid4()),
            "resource_type": "server",
            "top_id": stubs.server_id(str(i), n),
            "pod_id": pod_rows[i]["id"],
            "bottom_id": stubs.server_id(str(i), n),
            "project_id": stubs.DEMO_PROJECT,
            "status": "active",
            # when the stub pod says the server was made (as the top writes a routing
            # just before its create): the newest servers' pods are known from here
            "created_at": stubs.created(i, n, pods).replace(tzinfo=None),
        }
        for i in range(pods)
        for n in range(servers)
    ]
    team = stubs.project_of(stubs.TEAM)
    routing_rows += [
        {
            "id": str(uuid.uuid4()),
            "resource_type": "server",
            "top_id": stubs.server_id(str(i), n, team),
            "pod_id": pod_rows[i]["id"],
            "bottom_id": stubs.server_id(str(i), n, team),
            "project_id": team,
            "status": "active",
            "created_at": stubs.created(i, n, stubs.team_pods(pods)).replace(tzinfo=None),
        }
        for i in range(stubs.team_pods(pods))
        for n in range(stubs.TEAM_SERVERS)
    ]
    async with engine.begin() as conn:
        await conn.execute(insert(Pod), pod_rows)
        for start in range(0, len(routing_rows), 10000):
            await conn.execute(insert(Routing), routing_rows[start : start + 10000])
    await engine.dispose()


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


class Refused(RuntimeError):
    """Cascade answered 503: the pod's breaker is open."""


async def timed(http: httpx.AsyncClient, url: str, headers: dict[str, str], ok: int) -> float:
    started = time.monotonic()
    resp = await http.get(url, headers=headers)
    took = time.monotonic() - started
    if resp.status_code == 503 and ok != 503:
        raise Refused(resp.text[:300])
    if resp.status_code != ok:
        raise RuntimeError(f"GET {url} answered {resp.status_code}: {resp.text[:300]}")
    return took


def connections(pid: int) -> int:
    """The process's TCP sockets but its listening one (idle ones the pods closed too:
    they hold a descriptor until the client notices)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes and fields[3] != LISTEN:
                count += 1
    return count


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(pods: int, work: Path) -> Figures:
    found = Figures(pods)
    stub_port, api_port = free_port(), free_port()
    stub_url = f"http://127.0.0.1:{stub_port}"
    api_url = f"http://127.0.0.1:{api_port}"
    home = Path(tempfile.mkdtemp(prefix=f"scale-{pods}-", dir=work))
    database = f"sqlite+aiosqlite:///{home / 'cascade.sqlite'}"
    conf = write_conf(home, stub_port, api_port, database)
    await prepare(conf, database, pods)
    stub_argv = [*STUBS, "--pods", str(pods), "--port", str(stub_port)]
    stub_argv += ["--servers", str(SERVERS_PER_POD)]
    async with (
        process(stub_argv, home / "stubs.log"),
        httpx.AsyncClient(timeout=600) as http,
    ):
        await wait_for(f"{stub_url}/_stub/stats")
        async with (
            process(api_argv(conf), home / "cascade-api.log") as api,
            process(worker_argv(conf), home / "cascade-worker.log") as worker,
        ):
            worker_started = time.monotonic()
            found.cold_version_s = await wait_for(f"{api_url}/compute/v2.1/")
            auth = {"X-Auth-Token": await token(stub_url, "demo")}
            listing = f"{api_url}/compute/v2.1/servers/detail?limit={LIMIT}"
            found.cold_list_s = await timed(http, listing, auth, 200)
            # the rest measured once the health check's first round (every service of
            # every pod, as fast as its rate allows) is over: the steady state
            await first_round(found, database, worker_started)
            found.demo = await merged_lists(http, api_url, stub_url, auth, pods)
            team = {"X-Auth-Token": await token(stub_url, stubs.TEAM)}
            found.team = await merged_lists(http, api_url, stub_url, team, pods)
            # each server twice: first as a GET of an id the process may not have seen
            # (its routing read from the database unless the lists showed it, its pod's
            # row and flavor names unless a GET of that pod read them), then again
            for again in (False, True):
                for n in range(50):
                    pod = str(n % pods)
                    sid = stubs.server_id(pod, n % SERVERS_PER_POD)
                    through = f"{api_url}/compute/v2.1/servers/{sid}"
                    try:
                        took = await timed(http, through, auth, 200)
                        (found.gets if again else found.first_gets).append(took)
                    except Refused:
                        found.refused_gets += 1
                    straight = f"{stub_url}/pod/{pod}/compute/v2.1/servers/{sid}"
                    found.direct_gets.append(await timed(http, straight, {}, 200))
            for _ in range(3):
                unknown = f"{api_url}/compute/v2.1/servers/{uuid.uuid4()}"
                found.unknown_gets.append(await timed(http, unknown, auth, 404))
            await idle(found, http, stub_url, api.pid, worker.pid)
    return found


def recode(content: bytes) -> float:
    """Seconds to decode and encode a list's answer once (the floor's second part)."""
    started = time.perf_counter()
    for _ in range(5):
        json.dumps(json.loads(content))
    return (time.perf_counter() - started) / 5


async def merged_lists(
    http: httpx.AsyncClient, api_url: str, stub_url: str, auth: dict[str, str], pods: int
) -> Lists:
    """A project's merged list through Cascade (warmed, then timed), and its floor: as
    many servers listed straight from one stub pod, and one decode and encode."""
    found = Lists()
    listing = f"{api_url}/compute/v2.1/servers/detail?limit={LIMIT}"
    for _ in range(2):  # warm
        await timed(http, listing, auth, 200)
    for _ in range(runs_for(pods)):
        found.lists.append(await timed(http, listing, auth, 200))
    resp = await http.get(listing, headers=auth)
    found.listed = len(resp.json()["servers"])
    found.left_out = resp.headers.get("X-Cascade-Unavailable-Pods", "")
    direct = f"{stub_url}/pod/{stubs.FLOOR}/compute/v2.1/servers/detail?limit={found.listed}"
    for _ in range(runs_for(pods)):
        found.direct_lists.append(await timed(http, direct, {}, 200))
    found.recode_s = recode(resp.content)
    return found


async def first_round(found: Figures, database: str, started: float) -> None:
    """Until the health check has written every pod's first state (the API's own asks
    at cold start reach the stubs too, so their counters cannot tell)."""
    path = database.split(":///", 1)[1]
    while True:
        with contextlib.closing(sqlite3.connect(path, timeout=30)) as db:
            (unchecked,) = db.execute(
                "SELECT count(*) FROM pods WHERE health_checked_at IS NULL"
            ).fetchone()
        if not unchecked:
            break
        if time.monotonic() - started > START_TIMEOUT:
            raise TimeoutError(f"the health check did not reach {unchecked} pods")
        await asyncio.sleep(0.5)
    found.first_round_s = time.monotonic() - started


async def idle(
    found: Figures, http: httpx.AsyncClient, stub_url: str, pid: int, worker: int
) -> None:
    """CPU, RSS, connections and health-check rate while no request comes in."""
    await asyncio.sleep(2)
    await http.post(f"{stub_url}/_stub/reset")
    before, worker_before = cpu_seconds(pid), cpu_seconds(worker)
    started = time.monotonic()
    await asyncio.sleep(IDLE_WINDOW)
    used = cpu_seconds(pid) - before
    seconds = time.monotonic() - started
    found.worker_cpu = (cpu_seconds(worker) - worker_before) / seconds
    stats = (await http.get(f"{stub_url}/_stub/stats")).json()
    probes = (await http.get(f"{stub_url}/_stub/probes")).json()
    found.probed, found.longest_gap = probes["pods"], probes["longest_gap"]
    found.idle_cpu = used / seconds
    found.health_rate = sum(v for k, v in stats.items() if k in HEALTH_KINDS) / seconds
    found.rss_mib = rss_kib(pid)[0] / 1024
    found.connections = connections(pid)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def _gets(r: Figures) -> str:
    refused = f", {r.refused_gets} of 100 answered 503" if r.refused_gets else ""
    straight = statistics.median(r.direct_gets)
    if not r.gets or not r.first_gets:
        return f"- / {ms(straight)}{refused}"
    first, again = statistics.median(r.first_gets), statistics.median(r.gets)
    return (
        f"{ms(first)} / {ms(again)} / {ms(straight)} (+{(first - straight) * 1000:.1f} ms / "
        f"+{(again - straight) * 1000:.1f} ms{refused})"
    )


def render(results: Sequence[Figures], command: str) -> str:
    cpu = os.cpu_count() or 0
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    head = "| figure | " + " | ".join(f"{r.pods:,} pods" for r in results) + " |"
    rows: list[tuple[str, list[str]]] = [
        (
            "servers in the merged page (left out)",
            [
                f"{r.demo.listed}"
                + (f" ({len(r.demo.left_out.split(','))} pods)" if r.demo.left_out else "")
                for r in results
            ],
        ),
        (
            "merged list through Cascade, p50 / p95",
            [
                f"{ms(statistics.median(r.demo.lists))} / {ms(percentile(r.demo.lists, 95))}"
                for r in results
            ],
        ),
        (
            "floor: one stub pod alone + decode and encode",
            [
                f"{ms(statistics.median(r.demo.direct_lists))} + {ms(r.demo.recode_s)}"
                for r in results
            ],
        ),
        (
            "merged list p50 / floor",
            [f"{r.demo.ratio:.2f}x" for r in results],
        ),
        (
            f"a project in {stubs.TEAM_PODS} of the pods ({stubs.TEAM_SERVERS} servers in "
            "each): servers in its merged page; p50 / p95",
            [
                f"{r.team.listed}; {ms(statistics.median(r.team.lists))} / "
                f"{ms(percentile(r.team.lists, 95))}"
                for r in results
            ],
        ),
        (
            "its floor; its merged list p50 / floor",
            [
                f"{ms(statistics.median(r.team.direct_lists))} + {ms(r.team.recode_s)}; "
                f"{r.team.ratio:.2f}x"
                for r in results
            ],
        ),
        (
            "GET /servers/{id} p50 (50 GETs over the first 50 pods, twice): Cascade, "
            "first pass / second pass / straight to the pod",
            [_gets(r) for r in results],
        ),
        (
            "GET of an id no routing knows, p50",
            [ms(statistics.median(r.unknown_gets)) for r in results],
        ),
        (
            "cold start: first version document / then first list",
            [f"{ms(r.cold_version_s)} / {ms(r.cold_list_s)}" for r in results],
        ),
        ("cascade-api RSS after the lists", [f"{r.rss_mib:.0f} MiB" for r in results]),
        (
            f"idle CPU over {IDLE_WINDOW:.0f} s (share of one core)",
            [f"{r.idle_cpu * 100:.1f}%" for r in results],
        ),
        ("open TCP connections (idle)", [str(r.connections) for r in results]),
        ("health-check requests/s at the pods (idle)", [f"{r.health_rate:.1f}" for r in results]),
        (
            f"cascade-worker CPU over {IDLE_WINDOW:.0f} s (it checks the pods' health)",
            [f"{r.worker_cpu * 100:.1f}%" for r in results],
        ),
        (
            "health: first round reached every pod after",
            [ms(r.first_round_s) for r in results],
        ),
        (
            f"health: pods checked in {IDLE_WINDOW:.0f} s / longest time between two checks "
            f"of a pod (interval {HEALTH_INTERVAL:.0f} s)",
            [f"{r.probed:,} / {r.longest_gap:.1f} s" for r in results],
        ),
    ]
    lines = [head, "|---|" + "---|" * len(results)]
    lines += [f"| {name} | " + " | ".join(cells) + " |" for name, cells in rows]
    lines += [
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {cpu} cores, {memory:.0f} GiB, "
        f"with `{command}`: stub pods answer after 20 ms, {SERVERS_PER_POD} servers each; "
        "cascade-api, the stubs and the benchmark share the machine.",
    ]
    return "\n".join(lines)


async def run(counts: Sequence[int], write: bool) -> str:
    raise_open_files()
    results = []
    # kept after a failed run: each N's cascade-api.log and stubs.log say what went wrong
    work = Path(tempfile.gettempdir()) / "cascade-bench-scale"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    for pods in counts:
        print(f"bench --scale: {pods} pods", file=sys.stderr, flush=True)
        results.append(await measure(pods, work))
        print(render(results, "partial"), file=sys.stderr, flush=True)
    shutil.rmtree(work, ignore_errors=True)
    command = "bin/devcloud bench --scale --pods " + ",".join(str(c) for c in counts)
    block = render(results, command)
    if write:
        DOCS.write_text(replace_block(DOCS.read_text(), HEADING, block, BEGIN, END))
    return block

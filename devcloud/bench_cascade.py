"""`devcloud bench --cascade`: what the gateway costs, measured beside the pods in one run.

- overhead: GET /servers/{id} through Cascade and straight to the pod's Nova,
  the same user token, one keep-alive httpx client per path, the two paths
  alternated request by request (each goes first half of the time) after a
  warm-up; p50 and p99 of each;
- fan-out: GET /servers/detail?limit=1000 over the project's servers, spread
  evenly over the pods, through Cascade, as an openstacksdk loop over the pods
  one after the other (merged in Python, newest first as Nova sorts), and
  straight to each pod alone, and straight to every pod at once (the slowest answer:
  on this machine the pods share two cores, so two pods asked at once answer later
  than either alone, as they do through Cascade); the order of the paths rotates from
  run to run;
- memory: RSS of the cascade-api process (children included), idle before the
  measurements and after them;
- MariaDB statements per request that Cascade adds: the server's global
  counters read around a block of requests through Cascade and around the
  same block straight to the pods; the difference is Cascade's own.

Set-up, find-or-create so that a second run reuses it: project and member
user `cascade-bench`, its quotas raised in every pod and at the top, and the
servers (flavor 1, image `tiny`, no network: microversion 2.37+ accepts
`"networks": "none"`) created through Cascade, one pod's AZ after the other in
turn, at most `IN_FLIGHT` at a time. `--cleanup` deletes the servers.

The measurements wait until no tempest or pytest run is going on, and are
repeated when one started meanwhile or when cascade-api was restarted.
Figures are printed as Markdown and written into the Cascade section of
docs/benchmarks.md, between the generated-block markers.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import os
import re
import statistics
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from devcloud import docblock
from devcloud.cloud import supervisor
from devcloud.errors import DevcloudError
from devcloud.identity import Identity
from devcloud.layout import DB_USER, PASSWORD, TOP_REGION, Layout, Pod
from devcloud.rest import Rest
from devcloud.seed import IMAGE_NAME

PROJECT = "cascade-bench"
USER = "cascade-bench"
PREFIX = "cascade-bench-"
MICROVERSION = "2.79"  # what the integration tests use; >= 2.37 for "networks": "none"
FLAVOR = "1"  # m1.tiny: disk 1 GiB (members cannot boot an image with a disk-0 flavor)
FLAVOR_RAM = 512
IN_FLIGHT = 10  # creates and deletes at once: the machine has two cores
OVERHEAD_TARGET = 1.15  # Cascade's p50 at most this times the pod's own
FANOUT_TARGET = 1.2  # Cascade's p50 at most this times the slower pod alone
# Cascade's p50 at most this times every pod asked at once straight (the pods share the
# machine's cores: what a fan-out cannot be faster than here)
TOGETHER_TARGET = 1.1
OVERHEAD_WARMUP = 50
FANOUT_WARMUP = 3
STATEMENT_ROUNDS = 3
BUSY = re.compile(r"tempest run|stestr|pytest")
QUIET_POLL = 30.0
QUIET_MAX = 20 * 60.0
ATTEMPTS = 3
DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADING = "## Cascade (issue: gateway core and Compute API)"
BEGIN = "<!-- devcloud bench --cascade: generated block, replaced by every run -->"
END = "<!-- devcloud bench --cascade: end of generated block -->"
CASCADE = "Cascade"
DIRECT = "straight to the pod's Nova"
SDK = "openstacksdk loop, pods one after the other, merged"
TOGETHER = "every pod at once, straight (the slowest answer)"
# MariaDB's global counters, by the name shown in the table
COUNTERS = {
    "SELECT": ("Com_select",),
    "INSERT/UPDATE/DELETE": ("Com_insert", "Com_update", "Com_delete"),
    "COMMIT": ("Com_commit",),
    "ROLLBACK": ("Com_rollback",),
    "ping": ("Com_admin_commands",),
    "all statements": ("Questions",),
}

T = TypeVar("T")
Request = Callable[[int], Awaitable[None]]  # the n-th request of a block


# -- pure logic ----------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The `q`-th percentile (0-100), interpolated linearly between the closest ranks
    (numpy's default method)."""
    if not values:
        raise ValueError("no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is not within 0-100")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@dataclass(frozen=True)
class Summary:
    """Timings of one path, in seconds."""

    n: int
    p50: float
    p99: float
    mean: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        return cls(
            n=len(values),
            p50=percentile(values, 50),
            p99=percentile(values, 99),
            mean=statistics.fmean(values),
            low=min(values),
            high=max(values),
        )


def rotations(paths: Sequence[T], rounds: int) -> list[list[T]]:
    """The order of the paths in each round: rotated by one every round, so that each
    path goes first (and after each other one) equally often."""
    count = len(paths)
    return [[paths[(r + k) % count] for k in range(count)] for r in range(rounds)]


def verdict(measured: float, limit: float) -> str:
    return "pass" if measured <= limit else "fail"


def share(total: int, parts: int) -> list[int]:
    """`total` split into `parts` counts differing by one at most (the first get more)."""
    return [total // parts + (1 if n < total % parts else 0) for n in range(parts)]


@dataclass(frozen=True)
class Listed:
    """A benchmark server as the top lists it."""

    id: str
    name: str
    az: str
    status: str


@dataclass(frozen=True)
class Plan:
    create: list[tuple[str, str]]  # (name, top AZ)
    delete: list[str]  # server ids
    keep: list[Listed]


def plan(existing: Iterable[Listed], azs: Sequence[str], total: int) -> Plan:
    """What makes the benchmark's servers exactly `total`, spread evenly over `azs`:
    servers in ERROR, in another AZ or in excess go, missing ones are named
    `<PREFIX><az>-<n>` with the smallest numbers not taken."""
    existing = sorted(existing, key=lambda s: (s.name, s.id))
    taken = {s.name for s in existing}
    keep: list[Listed] = []
    create: list[tuple[str, str]] = []
    for az, count in zip(azs, share(total, len(azs)), strict=True):
        usable = [s for s in existing if s.az == az and s.status != "ERROR"]
        keep += usable[:count]
        number = 0
        for _ in range(count - len(usable[:count])):
            while f"{PREFIX}{az}-{number:04d}" in taken:
                number += 1
            name = f"{PREFIX}{az}-{number:04d}"
            taken.add(name)
            create.append((name, az))
    kept = {s.id for s in keep}
    return Plan(create, [s.id for s in existing if s.id not in kept], keep)


def busy(processes: Iterable[tuple[int, str]], ignore: Iterable[int] = ()) -> list[str]:
    """The (pid, command line) pairs that are a tempest or pytest run, as `pid command`."""
    skip = set(ignore)
    return [
        f"{pid} {cmdline}" for pid, cmdline in processes if pid not in skip and BUSY.search(cmdline)
    ]


def replace_block(doc: str, heading: str, block: str) -> str:
    """`doc` with the generated block of the section under `heading` set to `block`: notes
    around the markers stay; a section without markers has its text replaced by the
    block (see `devcloud.docblock`)."""
    return docblock.replace_block(doc, heading, block, BEGIN, END, keep_text=False)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


@dataclass(frozen=True)
class Results:
    when: datetime
    cores: int
    pods: list[str]
    requests: int
    servers: int
    runs: int
    overhead: dict[str, Summary]  # CASCADE, DIRECT
    fanout: dict[str, Summary]  # CASCADE, SDK, "<pod> alone"
    listed: dict[str, int]  # path -> servers in its answer
    rss_before_kib: int
    rss_after_kib: int
    processes: int
    statements: dict[str, dict[str, float]]  # request -> counter -> per request
    memory_gib: float = 0.0
    attempts: int = 1
    notes: list[str] = field(default_factory=list)

    @property
    def overhead_ratio(self) -> float:
        return self.overhead[CASCADE].p50 / self.overhead[DIRECT].p50

    @property
    def slower_pod(self) -> str:
        alone = {k: v for k, v in self.fanout.items() if k.endswith(" alone")}
        return max(alone, key=lambda k: alone[k].p50)

    @property
    def fanout_ratio(self) -> float:
        return self.fanout[CASCADE].p50 / self.fanout[self.slower_pod].p50

    @property
    def together_ratio(self) -> float:
        return self.fanout[CASCADE].p50 / self.fanout[TOGETHER].p50


def command(requests: int, servers: int, runs: int) -> str:
    return f"bin/devcloud bench --cascade --requests {requests} --servers {servers} --runs {runs}"


def render(r: Results) -> str:
    """The figures as Markdown: targets first, then each measurement's table."""
    over, fan = r.overhead, r.fanout
    slower = r.slower_pod
    per_pod = r.servers // max(len(r.pods), 1)
    out = [
        f"Command: `{command(r.requests, r.servers, r.runs)}` (`devcloud/bench_cascade.py`).",
        f"Run of {r.when:%Y-%m-%d %H:%M} UTC on {r.cores} cores ({r.memory_gib:.0f} GiB), "
        f"{len(r.pods)} pods, no tempest or pytest run going on"
        + (
            f" (measured {r.attempts} times: the earlier attempts were disturbed)"
            if r.attempts > 1
            else ""
        )
        + f". Every path as the member user `{USER}` of its own project (one token for all), "
        f"microversion {MICROVERSION}, one request at a time; the {r.servers} servers "
        f"(flavor 1, image `{IMAGE_NAME}`, no network) were created through Cascade, "
        "half in each pod's AZ. The pods' APIs (uWSGI) answer `Connection: close`: every "
        "request to a pod, from the benchmark or from Cascade, opens a new connection; the "
        "benchmark keeps its connection to Cascade alive.",
        "",
        "| figure | target | measured | result |",
        "|---|---|---|---|",
        f"| GET `/servers/{{id}}` p50, Cascade / {DIRECT} (n={over[CASCADE].n} each) "
        f"| ≤ {OVERHEAD_TARGET} x | {ms(over[CASCADE].p50)} / {ms(over[DIRECT].p50)} "
        f"= **{r.overhead_ratio:.2f} x** (+{ms(over[CASCADE].p50 - over[DIRECT].p50)}) "
        f"| {verdict(r.overhead_ratio, OVERHEAD_TARGET)} |",
        f"| GET `/servers/detail?limit=1000` p50, {r.servers} servers in {len(r.pods)} pods: "
        f"Cascade / the slower pod alone ({slower.removesuffix(' alone')}, {per_pod} servers) "
        f"| ≤ {FANOUT_TARGET} x | {ms(fan[CASCADE].p50)} / {ms(fan[slower].p50)} "
        f"= **{r.fanout_ratio:.2f} x** | {verdict(r.fanout_ratio, FANOUT_TARGET)} |",
        f"| the same list p50: Cascade / {TOGETHER} | ≤ {TOGETHER_TARGET} x "
        f"| {ms(fan[CASCADE].p50)} / {ms(fan[TOGETHER].p50)} = **{r.together_ratio:.2f} x** "
        f"| {verdict(r.together_ratio, TOGETHER_TARGET)} |",
        f"| cascade-api RSS ({r.processes} process{'es' if r.processes > 1 else ''}), "
        f"idle before / after the measurements | — | {r.rss_before_kib / 1024:.1f} MiB / "
        f"{r.rss_after_kib / 1024:.1f} MiB | — |",
        "",
        f"GET `/servers/{{id}}`, the two paths alternated request by request after "
        f"{OVERHEAD_WARMUP} warm-up requests each:",
        "",
        "| path | n | p50 | p99 | mean | min | max |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in over.items():
        out.append(
            f"| {name} | {s.n} | {ms(s.p50)} | {ms(s.p99)} | {ms(s.mean)} "
            f"| {ms(s.low)} | {ms(s.high)} |"
        )
    out += [
        "",
        f"GET `/servers/detail?limit=1000`, the paths in an order rotating from run to run "
        f"after {FANOUT_WARMUP} warm-up runs each:",
        "",
        "| path | servers listed | runs | p50 | mean | min | max |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in fan.items():
        out.append(
            f"| {name} | {r.listed.get(name, '?')} | {s.n} | {ms(s.p50)} | {ms(s.mean)} "
            f"| {ms(s.low)} | {ms(s.high)} |"
        )
    if r.statements:
        names = list(COUNTERS)
        out += [
            "",
            "MariaDB statements per request that Cascade adds (the server's global counters "
            "around blocks of requests through Cascade minus the same around blocks straight "
            f"to the pods, median of {STATEMENT_ROUNDS} rounds; `ping` is the connection "
            "pool's pre-ping, not counted in `all statements`; fractions and negative values "
            "are other clients' statements, such as the health checks, falling into a block):",
            "",
            "| request | " + " | ".join(names) + " |",
            "|---|" + "---|" * len(names),
        ]
        for request, counts in r.statements.items():
            out.append(
                f"| {request} | " + " | ".join(f"{counts.get(n, 0):.1f}" for n in names) + " |"
            )
    out += [f"- {note}" for note in r.notes]
    return "\n".join(out)


# -- the machine --------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(c) for c in task.read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def rss_kib(pid: int) -> tuple[int, int]:
    """VmRSS of `pid` and all its descendants (KiB), and how many processes that is."""
    total, count, todo = 0, 0, [pid]
    while todo:
        current = todo.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    count += 1
        except (FileNotFoundError, ProcessLookupError):
            continue
        todo += _children(current)
    return total, count


def memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024 / 1024
    return 0.0


def command_lines() -> list[tuple[int, str]]:
    found = []
    for path in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            raw = path.read_bytes()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        found.append((int(path.parent.name), raw.replace(b"\0", b" ").decode(errors="replace")))
    return found


def busy_now() -> list[str]:
    return busy(command_lines(), ignore=[os.getpid()])


async def wait_quiet(poll: float = QUIET_POLL, limit: float = QUIET_MAX) -> None:
    """Wait (up to `limit`) until no tempest or pytest run is going on."""
    started = time.monotonic()
    while found := busy_now():
        if time.monotonic() - started > limit:
            raise DevcloudError(
                "bench", f"still busy after {limit / 60:.0f} min: " + "; ".join(found)[:500]
            )
        print(f"bench: waiting for {len(found)} test process(es): {found[0][:120]}", flush=True)
        await asyncio.sleep(poll)


@dataclass(frozen=True)
class ApiProcess:
    pid: int
    start_ticks: int


def api_process(layout: Layout) -> ApiProcess:
    record = supervisor(layout).running("cascade-api")
    if record is None:
        raise DevcloudError(
            "cascade-api", "not running (bin/devcloud up starts it)", layout.log / "cascade-api.log"
        )
    return ApiProcess(record.pid, record.start_ticks)


# -- set-up -------------------------------------------------------------------------


def microversion_headers() -> dict[str, str]:
    return {"OpenStack-API-Version": f"compute {MICROVERSION}"}


def top_az(pod: Pod) -> str:
    """The top AZ the devcloud registers pod N under (devcloud/services/cascade.py)."""
    return f"az{pod.number}"


async def ensure_account(admin: Rest, project_name: str = PROJECT, user_name: str = USER) -> str:
    """A project and its member user (default: the benchmark's), found or made; the
    project's id."""
    ident = Identity(admin)
    member = await ident.role("member")
    project = await ident.project(project_name)
    user = await ident.user(user_name, project)
    await ident.grant(project, user, member)
    return project


async def ensure_quotas(admin: Rest, pods: list[Pod], project: str, servers: int) -> None:
    """Room for every server in any one pod, and for all of them at the top."""
    room = servers + IN_FLIGHT
    body = {"quota_set": {"instances": room, "cores": room, "ram": room * FLAVOR_RAM}}
    for pod in pods:
        nova = admin.endpoint("compute", pod.region)
        await admin.call("nova", "PUT", f"{nova}/os-quota-sets/{project}", body)
    top = admin.endpoint("compute", TOP_REGION)
    await admin.call("cascade", "PUT", f"{top}/os-quota-sets/{project}", body)


class Servers:
    """The benchmark's servers, created, found and deleted through Cascade."""

    def __init__(self, user: Rest) -> None:
        self.user = user
        self.top = user.endpoint("compute", TOP_REGION)
        self.headers = microversion_headers()
        self.slots = asyncio.Semaphore(IN_FLIGHT)

    async def listed(self) -> list[Listed]:
        query = urlencode({"name": f"^{PREFIX}", "limit": 1000})
        body = await self.user.call(
            "cascade", "GET", f"{self.top}/servers/detail?{query}", headers=self.headers
        )
        return [
            Listed(
                str(s["id"]),
                str(s["name"]),
                str(s.get("OS-EXT-AZ:availability_zone", "")),
                str(s["status"]),
            )
            for s in body["servers"]
        ]

    async def _status(self, server_id: str, error_fails: bool) -> str | None:
        """The server's status, None once it is gone."""
        found = await self.user.call(
            "cascade", "GET", f"{self.top}/servers/{server_id}", ok=(200, 404), headers=self.headers
        )
        server = found.get("server") if isinstance(found, dict) else None
        if server is None:
            return None
        if server["status"] == "ERROR" and error_fails:
            raise DevcloudError(
                "cascade", f"server {server_id} went to ERROR: {server.get('fault', {})}"
            )
        return str(server["status"])

    async def _until(self, server_id: str, want: str | None) -> None:
        """Until the server's status is `want` (None: gone); ERROR fails a wait for ACTIVE."""
        deadline = time.monotonic() + 300
        while await self._status(server_id, error_fails=want is not None) != want:
            if time.monotonic() > deadline:
                raise DevcloudError("cascade", f"server {server_id}: not {want} within 300 s")
            await asyncio.sleep(1.0)

    async def create(self, name: str, az: str, image: str) -> None:
        async with self.slots:
            body = {
                "server": {
                    "name": name,
                    "imageRef": image,
                    "flavorRef": FLAVOR,
                    "networks": "none",
                    "availability_zone": az,
                }
            }
            made = await self.user.call(
                "cascade", "POST", f"{self.top}/servers", body, headers=self.headers
            )
            await self._until(str(made["server"]["id"]), "ACTIVE")

    async def active(self, server_id: str) -> None:
        async with self.slots:
            await self._until(server_id, "ACTIVE")

    async def delete(self, server_id: str) -> None:
        async with self.slots:
            await self.user.call(
                "cascade", "DELETE", f"{self.top}/servers/{server_id}", ok=(204, 404)
            )
            await self._until(server_id, None)

    async def converge(self, azs: list[str], total: int, image: str) -> Plan:
        todo = plan(await self.listed(), azs, total)
        await asyncio.gather(*(self.delete(sid) for sid in todo.delete))
        # creates alternate between the AZs, so both pods fill at the same pace
        creates = sorted(todo.create, key=lambda c: (c[0].rsplit("-", 1)[1], c[1]))
        # The first server of an AZ alone: Cascade binds the project to a pod of the AZ
        # then, and concurrent first creates race on that binding (a 500: a duplicate key).
        have = {s.az for s in todo.keep}
        first = {az: (name, az) for name, az in reversed(creates) if az not in have}
        for name, az in first.values():
            await self.create(name, az, image)
        await asyncio.gather(
            *(self.active(s.id) for s in todo.keep if s.status != "ACTIVE"),
            *(
                self.create(name, az, image)
                for name, az in creates
                if (name, az) not in first.values()
            ),
        )
        return todo

    async def remove_all(self) -> int:
        found = await self.listed()
        await asyncio.gather(*(self.delete(s.id) for s in found))
        return len(found)


# -- measurements -------------------------------------------------------------------


class Measure:
    """The timed requests: one keep-alive client per path, one request at a time."""

    def __init__(self, layout: Layout, user: Rest, pods: list[Pod], by_pod: dict[str, str]) -> None:
        self.layout = layout
        self.user = user
        self.pods = pods
        self.by_pod = by_pod  # pod name -> one of its servers
        headers = {"X-Auth-Token": user.token, "Accept": "application/json"}
        headers.update(microversion_headers())
        self.top = user.endpoint("compute", TOP_REGION)
        self.nova = {p.name: user.endpoint("compute", p.region) for p in pods}
        self.clients = {
            CASCADE: httpx.AsyncClient(headers=headers, timeout=120.0),
            DIRECT: httpx.AsyncClient(headers=headers, timeout=120.0),
        }
        self.sdk: list[Any] = []

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()
        for conn in self.sdk:
            conn.close()

    async def _get(self, path: str, url: str) -> tuple[float, Any]:
        started = time.perf_counter()
        resp = await self.clients[path].get(url)
        took = time.perf_counter() - started
        if resp.status_code != 200:
            raise DevcloudError(
                "bench", f"GET {url} answered {resp.status_code}: {resp.text[:300]}"
            )
        return took, resp.json()

    def _show_urls(self, n: int) -> dict[str, str]:
        # request n: pod (n // 2), so each path goes first equally often in every pod
        pod = self.pods[(n // 2) % len(self.pods)].name
        server = self.by_pod[pod]
        return {
            CASCADE: f"{self.top}/servers/{server}",
            DIRECT: f"{self.nova[pod]}/servers/{server}",
        }

    async def overhead(self, requests: int) -> dict[str, Summary]:
        """GET /servers/{id}, the servers of the pods in turn, the two paths alternated."""
        for n in range(OVERHEAD_WARMUP):
            for path, url in self._show_urls(n).items():
                await self._get(path, url)
        times: dict[str, list[float]] = {CASCADE: [], DIRECT: []}
        for n, order in enumerate(rotations([CASCADE, DIRECT], requests)):
            urls = self._show_urls(n)
            for path in order:
                times[path].append((await self._get(path, urls[path]))[0])
        return {path: Summary.of(values) for path, values in times.items()}

    def _connect_sdk(self) -> None:
        import openstack  # the test extra; only this benchmark needs it

        self.sdk = [
            openstack.connect(
                auth_url=self.layout.auth_url,
                username=USER,
                password=PASSWORD,
                project_name=PROJECT,
                user_domain_id="default",
                project_domain_id="default",
                region_name=pod.region,
                compute_api_version=MICROVERSION,
                load_yaml_config=False,
                load_envvars=False,
            )
            for pod in self.pods
        ]

    def _sdk_loop(self) -> int:
        found: list[Any] = []
        for conn in self.sdk:
            found += list(conn.compute.servers(details=True, limit=1000))
        found.sort(key=lambda s: (s.created_at, s.id), reverse=True)
        return len(found)

    async def _list(self, path: str) -> tuple[float, int]:
        if path == SDK:
            started = time.perf_counter()
            count = await asyncio.to_thread(self._sdk_loop)
            return time.perf_counter() - started, count
        if path == TOGETHER:
            started = time.perf_counter()
            answers = await asyncio.gather(
                *(
                    self._get(DIRECT, f"{self.nova[p.name]}/servers/detail?limit=1000")
                    for p in self.pods
                )
            )
            return time.perf_counter() - started, sum(len(b["servers"]) for _, b in answers)
        if path == CASCADE:
            took, body = await self._get(CASCADE, f"{self.top}/servers/detail?limit=1000")
        else:
            pod = path.removesuffix(" alone")
            took, body = await self._get(DIRECT, f"{self.nova[pod]}/servers/detail?limit=1000")
        return took, len(body["servers"])

    async def fanout(self, runs: int) -> tuple[dict[str, Summary], dict[str, int]]:
        await asyncio.to_thread(self._connect_sdk)
        paths = [CASCADE, SDK, TOGETHER, *(f"{p.name} alone" for p in self.pods)]
        listed: dict[str, int] = {}
        for _ in range(FANOUT_WARMUP):
            for path in paths:
                listed[path] = (await self._list(path))[1]
        times: dict[str, list[float]] = {path: [] for path in paths}
        for order in rotations(paths, runs):
            for path in order:
                took, count = await self._list(path)
                if count != listed[path]:
                    raise DevcloudError("bench", f"{path}: {count} servers, then {listed[path]}")
                times[path].append(took)
        return {path: Summary.of(times[path]) for path in paths}, listed

    async def statements(self) -> dict[str, dict[str, float]]:
        """MariaDB statements per request added by Cascade (see the module docstring)."""
        url = (
            f"mysql+asyncmy://{DB_USER}:{PASSWORD}@127.0.0.1:"
            f"{self.layout.port('mariadb')}/?charset=utf8mb4"
        )
        engine = create_async_engine(url)
        names = sorted({c for keys in COUNTERS.values() for c in keys})
        query = text(
            "SHOW GLOBAL STATUS WHERE Variable_name IN (" + ", ".join(f"'{n}'" for n in names) + ")"
        )

        async def block(conn: Any, k: int, request: Request) -> dict[str, int]:
            before = dict((await conn.execute(query)).all())
            for n in range(k):
                await request(n)
            after = dict((await conn.execute(query)).all())
            return {n: int(after[n]) - int(before[n]) for n in names}

        def show(path: str) -> Request:
            async def one(n: int) -> None:
                await self._get(path, self._show_urls(n)[path])

            return one

        async def top_list(n: int) -> None:
            await self._list(CASCADE)

        async def pod_lists(n: int) -> None:
            for pod in self.pods:
                await self._list(f"{pod.name} alone")

        cases = {
            "GET `/servers/{id}`": (100, show(CASCADE), show(DIRECT)),
            "GET `/servers/detail?limit=1000`": (10, top_list, pod_lists),
        }
        found: dict[str, dict[str, float]] = {}
        try:
            async with engine.connect() as conn:
                for name, (k, through, direct) in cases.items():
                    rounds: dict[str, list[float]] = {c: [] for c in COUNTERS}
                    for _ in range(STATEMENT_ROUNDS):
                        top = await block(conn, k, through)
                        pods = await block(conn, k, direct)
                        for label, keys in COUNTERS.items():
                            added = sum(top[c] - pods[c] for c in keys)
                            rounds[label].append(added / k)
                    found[name] = {c: statistics.median(v) for c, v in rounds.items()}
        finally:
            await engine.dispose()
        return found


async def _measure(
    layout: Layout, user: Rest, pods: list[Pod], by_pod: dict[str, str], args: Options
) -> Results:
    proc = api_process(layout)
    before, _ = rss_kib(proc.pid)
    disturbed: list[str] = []

    async def watch() -> None:
        while True:
            disturbed.extend(busy_now())
            await asyncio.sleep(2.0)

    watcher = asyncio.create_task(watch())
    measure = Measure(layout, user, pods, by_pod)
    try:
        overhead = await measure.overhead(args.requests)
        fanout, listed = await measure.fanout(args.runs)
        statements = await measure.statements()
    finally:
        watcher.cancel()
        await measure.aclose()
    await asyncio.sleep(2.0)
    after, processes = rss_kib(proc.pid)
    now = api_process(layout)
    if now != proc:
        raise Disturbed(f"cascade-api restarted (pid {proc.pid} -> {now.pid})")
    if disturbed:
        raise Disturbed(f"a test run started meanwhile: {disturbed[0][:120]}")
    return Results(
        when=datetime.now(UTC),
        cores=os.cpu_count() or 0,
        memory_gib=memory_gib(),
        pods=[p.name for p in pods],
        requests=args.requests,
        servers=args.servers,
        runs=args.runs,
        overhead=overhead,
        fanout=fanout,
        listed=listed,
        rss_before_kib=before,
        rss_after_kib=after,
        processes=processes,
        statements=statements,
    )


class Disturbed(Exception):
    """The measurement cannot be trusted: measure again."""


@dataclass(frozen=True)
class Options:
    requests: int = 500
    servers: int = 200
    runs: int = 20
    cleanup: bool = False


async def _measure_quietly(
    layout: Layout, user: Rest, pods: list[Pod], by_pod: dict[str, str], args: Options
) -> Results:
    """Measure with no test run going on; again when disturbed (at most `ATTEMPTS` times)."""
    for attempt in range(1, ATTEMPTS + 1):
        await wait_quiet()
        print(f"bench: measuring (attempt {attempt}) ...", flush=True)
        try:
            results = await _measure(layout, user, pods, by_pod, args)
        except Disturbed as exc:
            print(f"bench: measuring again: {exc}", flush=True)
            continue
        return dataclasses.replace(results, attempts=attempt)
    raise DevcloudError("bench", f"the measurement was disturbed {ATTEMPTS} times")


async def run(layout: Layout, pods: list[Pod], args: Options) -> str:
    """Set up (or clean up), measure, write docs/benchmarks.md; the Markdown printed."""
    if not pods:
        raise DevcloudError("bench", "the devcloud has no pods (bin/devcloud up)")
    api_process(layout)
    async with Rest(layout.auth_url) as admin:
        project = await ensure_account(admin)
        if not args.cleanup:
            await ensure_quotas(admin, pods, project, args.servers)
        glance = layout.url("glance")
        images = await admin.call("glance", "GET", f"{glance}/v2/images?name={IMAGE_NAME}")
        if not images["images"]:
            raise DevcloudError("glance", f"no image {IMAGE_NAME!r} (bin/devcloud up makes it)")
        image = str(images["images"][0]["id"])
    async with Rest(layout.auth_url, user=USER, project=PROJECT) as user:
        servers = Servers(user)
        if args.cleanup:
            gone = await servers.remove_all()
            return f"bench: deleted {gone} server(s) of project {PROJECT}"
        azs = [top_az(p) for p in pods]
        print(f"bench: {args.servers} servers over {', '.join(azs)} ...", flush=True)
        started = time.monotonic()
        todo = await servers.converge(azs, args.servers, image)
        print(
            f"bench: servers ready ({len(todo.create)} created, {len(todo.delete)} deleted) "
            f"in {time.monotonic() - started:.0f} s",
            flush=True,
        )
        if todo.create or todo.delete:
            await asyncio.sleep(10.0)  # let the pods finish what the creates started
        listed = await servers.listed()
        by_pod = {}
        for pod in pods:
            mine = sorted(s.id for s in listed if s.az == top_az(pod))
            if not mine:
                raise DevcloudError("bench", f"no benchmark server in {pod.name}")
            by_pod[pod.name] = mine[0]
        results = await _measure_quietly(layout, user, pods, by_pod, args)
    markdown = render(results)
    DOCS.write_text(replace_block(DOCS.read_text(), HEADING, markdown))
    return markdown + f"\n\n(written into {DOCS})"

"""`devcloud bench --network`: what Cascade's Networking costs, measured in one run.

- server create to ACTIVE in az1 (pod1), three variants alternated run by run
  (each goes first equally often): the first server on a NEW top network
  (network and subnet made at the top just before, so the create materialises
  network, subnet, DHCP port and port in the pod), a server on a top network
  already materialised in the pod, and the pod's own Nova on the demo
  project's `private` network (the direct baseline). The time of the
  POST /servers call alone is kept too: it is where materialisation happens.
  Each server is deleted (and each new network, until it is gone from the
  pod) before the next run;
- a security group rule added at the top: the time from its POST until it is
  in the bottom copy of the group in every pod (one server in each pod's AZ
  uses the group `bench-sg`, so each pod holds a copy named after the top id),
  `RULES` rules one after the other;
- the job queue: jobs per second one `cascade.jobs.worker.Worker` (then two)
  drains with the no-op handler, in this process, on a scratch database of
  the devcloud's MariaDB (`cascade_bench_jobs`, dropped afterwards).

Everything runs as the devcloud's `demo` user (the pods' admin API only looks
for the bottom copies), flavor 1, image `tiny`, loopback only. Names start
with `bench-net-`; leftovers of an interrupted run are deleted first. The
measurements wait until no tempest or pytest run is active (test processes
that are there but idle, together under `IDLE_SHARE` of a core, are tolerated
and reported), and a part is measured again when cascade-api was restarted or
test processes used that much CPU meanwhile.
Figures are printed as Markdown and written into the Networking section of
docs/benchmarks.md, between the generated-block markers.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

from devcloud import docblock, infra
from devcloud.bench_cascade import (
    ATTEMPTS,
    MICROVERSION,
    QUIET_MAX,
    QUIET_POLL,
    ApiProcess,
    api_process,
    busy,
    busy_now,
    command_lines,
    memory_gib,
    microversion_headers,
    percentile,
    rotations,
    top_az,
)
from devcloud.errors import DevcloudError
from devcloud.layout import DB_USER, PASSWORD, TOP_REGION, Layout, Pod
from devcloud.rest import Rest
from devcloud.seed import IMAGE_NAME

USER = PROJECT = "demo"
PREFIX = "bench-net-"
GROUP = "bench-sg"
FLAVOR = "1"
RUNS = 5
RULES = 50
RULE_PORT = 40000  # rule n opens tcp port RULE_PORT + n
RULE_PREFIX = "192.0.2.0/24"
JOBS = 2000
WORKERS = (1, 2)
JOB_DB = "cascade_bench_jobs"
WORKER_POLL = 0.01  # the benchmark workers' [jobs] poll_interval
STATUS_POLL = 0.1  # seconds between two looks at a booting server
RULE_POLL = 0.05  # seconds between two looks at the pods' rules
WAIT = 300.0
IDLE_SHARE = docblock.IDLE_SHARE
SAMPLE = 5.0  # seconds over which a test process's CPU use is sampled before measuring
HZ = os.sysconf("SC_CLK_TCK")
NEW = "new top network"
WARM = "materialised top network"
DIRECT = "straight to the pod's Nova"
VARIANTS = (NEW, WARM, DIRECT)
DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADING = "## Networking (issue: Neutron at the top)"
BEGIN = "<!-- devcloud bench --network: generated block, replaced by every run -->"
END = "<!-- devcloud bench --network: end of generated block -->"

T = TypeVar("T")


# -- pure logic ----------------------------------------------------------------------


def replace_block(doc: str, heading: str, block: str, begin: str = BEGIN, end: str = END) -> str:
    """`doc` with the generated block of the section under `heading` set to `block`; the
    section's hand-written text stays (see `devcloud.docblock`)."""
    return docblock.replace_block(doc, heading, block, begin, end, keep_text=True)


def secs(seconds: float) -> str:
    return f"{seconds:.2f} s"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def each(values: Sequence[float]) -> str:
    """The values in seconds, in the order measured: `1.23, 1.40, ...`."""
    return ", ".join(f"{v:.2f}" for v in values)


def cpu_share(before: dict[int, int], after: dict[int, int], seconds: float, hz: int) -> float:
    """The share of one core that processes used between two samples of their CPU ticks
    (pid -> ticks); a process only in `after` started meanwhile and counts from 0."""
    if seconds <= 0:
        raise ValueError(f"a window of {seconds} s")
    used = sum(max(ticks - before.get(pid, 0), 0) for pid, ticks in after.items())
    return used / hz / seconds


def jobs_per_second(jobs: int, seconds: float) -> float:
    if seconds <= 0:
        raise ValueError(f"a drain of {seconds} s")
    return jobs / seconds


def rule_matches(rule: dict[str, Any], port: int, prefix: str = RULE_PREFIX) -> bool:
    """Whether a pod's rule is the benchmark's rule for `port` (ingress tcp from `prefix`)."""
    return (
        rule.get("direction") == "ingress"
        and str(rule.get("protocol")) == "tcp"
        and rule.get("port_range_min") == port
        and rule.get("port_range_max") == port
        and rule.get("remote_ip_prefix") == prefix
    )


@dataclass(frozen=True)
class Boot:
    """One server create: the POST alone and create to ACTIVE, in seconds."""

    post: float
    active: float


@dataclass(frozen=True)
class Drain:
    workers: int
    jobs: int
    seconds: float
    separate: bool = False  # one process per worker; else all in the benchmark's process

    @property
    def label(self) -> str:
        if not self.separate:
            return f"{self.workers} in the benchmark's process"
        return f"{self.workers} process{'es' if self.workers > 1 else ''}, one worker each"

    @property
    def rate(self) -> float:
        return jobs_per_second(self.jobs, self.seconds)


@dataclass(frozen=True)
class Results:
    when: datetime
    cores: int
    memory_gib: float
    pods: list[str]
    runs: int
    boots: dict[str, list[Boot]]  # variant -> its runs, in the order measured
    network_create: list[float]  # the NEW variant's network + subnet creates at the top
    rules: list[float]  # POST to present in every pod
    rule_posts: list[float]  # the POST alone
    rule_by_pod: dict[str, list[float]]  # POST to present in that pod
    drains: list[Drain]
    worker_poll: float = WORKER_POLL
    attempts: dict[str, int] = field(default_factory=dict)  # part -> attempts it took
    idle_tests: list[str] = field(default_factory=list)  # pids of idle test processes seen
    notes: list[str] = field(default_factory=list)


def command(runs: int) -> str:
    return f"bin/devcloud bench --network --runs {runs}"


def render(r: Results) -> str:
    """The figures as Markdown: one table per measurement, notes last."""
    pod = r.pods[0] if r.pods else "pod1"
    out = docblock.preamble(
        command(r.runs),
        "devcloud/bench_network.py",
        r.when,
        r.cores,
        r.memory_gib,
        len(r.pods),
        r.idle_tests,
        r.attempts,
    )
    out[-1] += (
        f". As the member user `{USER}`, flavor {FLAVOR}, image `{IMAGE_NAME}`, "
        f"microversion {MICROVERSION}, one request at a time; servers are polled every "
        f"{STATUS_POLL:g} s, the pods' rules every {RULE_POLL:g} s."
    )
    out += [
        "",
        f"Server create to ACTIVE in az1 ({pod}), the variants alternated run by run; "
        "each value in the order measured (seconds):",
        "",
        "| variant | n | create → ACTIVE p50 | each | POST `/servers` alone p50 | each |",
        "|---|---|---|---|---|---|",
    ]
    for variant, boots in r.boots.items():
        active = [b.active for b in boots]
        post = [b.post for b in boots]
        out.append(
            f"| {variant} | {len(boots)} | **{secs(percentile(active, 50))}** | {each(active)} "
            f"| {secs(percentile(post, 50))} | {each(post)} |"
        )
    if r.network_create:
        out += [
            "",
            f"The new top network and its subnet (two POSTs to Cascade before the server "
            f"create, not in its time): p50 {ms(percentile(r.network_create, 50))}.",
        ]
    if r.rules:
        out += [
            "",
            f"A security group rule added at the top until it is in the group's copy in every "
            f"pod ({', '.join(r.pods)}), {len(r.rules)} rules one after the other:",
            "",
            "| until | n | p50 | p99 | mean | min | max |",
            "|---|---|---|---|---|---|---|",
        ]
        rows = {"in every pod": r.rules, **{f"in {p}": v for p, v in r.rule_by_pod.items()}}
        rows["the POST alone"] = r.rule_posts
        for name, values in rows.items():
            out.append(
                f"| {name} | {len(values)} | **{ms(percentile(values, 50))}** "
                f"| {ms(percentile(values, 99))} | {ms(statistics.fmean(values))} "
                f"| {ms(min(values))} | {ms(max(values))} |"
            )
    if r.drains:
        out += [
            "",
            f"Job queue on MariaDB, no-op handlers: {r.drains[0].jobs} `noop` jobs enqueued "
            "in a fresh database, then drained by `cascade.jobs.worker.Worker`s (registry "
            f"`DEFAULT`, `poll_interval` {r.worker_poll:g} s, one database engine each); "
            "the clock runs from the workers' start until every job is `done`:",
            "",
            "| workers | jobs | drained in | jobs/s |",
            "|---|---|---|---|",
        ]
        for d in r.drains:
            out.append(f"| {d.label} | {d.jobs} | {secs(d.seconds)} | **{d.rate:.0f}** |")
    out += [f"- {note}" for note in r.notes]
    return "\n".join(out)


# -- the clouds ----------------------------------------------------------------------


class Disturbed(Exception):
    """The measurement cannot be trusted: measure again."""


class Clouds:
    """The calls the benchmark makes: the top and pod1 as `demo`, the pods' admin APIs."""

    def __init__(self, user: Rest, admin: Rest, pods: list[Pod]) -> None:
        self.user = user
        self.admin = admin
        self.pods = pods
        self.headers = microversion_headers()
        self.top_nova = user.endpoint("compute", TOP_REGION)
        self.top_neutron = user.endpoint("network", TOP_REGION) + "/v2.0"
        self.pod_nova = {p.name: user.endpoint("compute", p.region) for p in pods}
        self.pod_neutron = {p.name: user.endpoint("network", p.region) + "/v2.0" for p in pods}
        self.admin_neutron = {p.name: admin.endpoint("network", p.region) + "/v2.0" for p in pods}

    # -- servers
    def nova(self, where: str) -> tuple[str, str]:
        """(service name for errors, compute endpoint) of "top" or a pod's name."""
        return ("cascade", self.top_nova) if where == "top" else ("nova", self.pod_nova[where])

    async def boot(self, where: str, server: dict[str, Any]) -> tuple[str, Boot]:
        """Create a server and wait until it is ACTIVE; its id and the timings."""
        service, base = self.nova(where)
        body = {"server": {"flavorRef": FLAVOR, **server}}
        started = time.perf_counter()
        made = await self.user.call(service, "POST", f"{base}/servers", body, headers=self.headers)
        posted = time.perf_counter()
        server_id = str(made["server"]["id"])
        deadline = posted + WAIT
        while True:
            found = await self.user.call(
                service, "GET", f"{base}/servers/{server_id}", headers=self.headers
            )
            status = found["server"]["status"]
            if status == "ACTIVE":
                break
            if status == "ERROR":
                raise DevcloudError(
                    service,
                    f"server {server_id} ({where}) went to ERROR: {found['server'].get('fault')}",
                )
            if time.perf_counter() > deadline:
                raise DevcloudError(service, f"server {server_id}: not ACTIVE within {WAIT:.0f} s")
            await asyncio.sleep(STATUS_POLL)
        return server_id, Boot(posted - started, time.perf_counter() - started)

    async def delete_server(self, where: str, server_id: str) -> None:
        service, base = self.nova(where)
        url = f"{base}/servers/{server_id}"
        await self.user.call(service, "DELETE", url, ok=(204, 404), headers=self.headers)
        await until(lambda: self._gone(service, url), f"server {server_id} ({where}) to be deleted")

    async def _gone(self, service: str, url: str) -> bool:
        found = await self.user.call(service, "GET", url, ok=(200, 404), headers=self.headers)
        return not (isinstance(found, dict) and "server" in found)

    async def servers(self, where: str) -> list[str]:
        """Ids of the benchmark's servers (named `PREFIX...`) at the top or in a pod."""
        service, base = self.nova(where)
        query = urlencode({"name": f"^{PREFIX}"})
        found = await self.user.call(
            service, "GET", f"{base}/servers?{query}", headers=self.headers
        )
        return [str(s["id"]) for s in found["servers"]]

    # -- networks and security groups at the top
    async def top(self, method: str, path: str, body: Any = None, ok: Sequence[int] = ()) -> Any:
        return await self.user.call(
            "cascade", method, f"{self.top_neutron}{path}", body, ok=ok or (200, 201, 204)
        )

    async def network(self, name: str, cidr: str) -> str:
        made = await self.top("POST", "/networks", {"network": {"name": name}})
        network_id = str(made["network"]["id"])
        subnet = {"network_id": network_id, "cidr": cidr, "ip_version": 4, "name": name}
        await self.top("POST", "/subnets", {"subnet": subnet})
        return network_id

    async def delete_network(self, network_id: str) -> None:
        """Delete a top network once its ports are gone; wait until no pod has a copy."""

        async def no_ports() -> bool:
            found = await self.top("GET", f"/ports?network_id={network_id}")
            return not found["ports"]

        await until(no_ports, f"the top ports of network {network_id} to go")
        await self.top("DELETE", f"/networks/{network_id}", ok=(204, 404))
        await until(
            lambda: self.nowhere("networks", network_id), f"network {network_id} to leave the pods"
        )

    async def group(self, name: str) -> str:
        made = await self.top("POST", "/security-groups", {"security_group": {"name": name}})
        return str(made["security_group"]["id"])

    async def delete_group(self, group_id: str) -> None:
        await self.top("DELETE", f"/security-groups/{group_id}", ok=(204, 404))
        await until(
            lambda: self.nowhere("security-groups", group_id),
            f"security group {group_id} to leave the pods",
        )

    async def named(self, what: str, name: str) -> list[str]:
        return [
            str(o["id"])
            for o in (await self.top("GET", f"/{what}?{urlencode({'name': name})}"))[
                what.replace("-", "_")
            ]
        ]

    # -- the pods' copies (admin API)
    async def copies(self, pod: str, what: str, top_id: str) -> list[dict[str, Any]]:
        """The pod's objects named after a top id (`networks`, `security-groups`)."""
        url = f"{self.admin_neutron[pod]}/{what}?{urlencode({'name': top_id})}"
        found = await self.admin.call("neutron", "GET", url)
        return list(found[what.replace("-", "_")])

    async def nowhere(self, what: str, top_id: str) -> bool:
        for pod in self.pods:
            if await self.copies(pod.name, what, top_id):
                return False
        return True

    async def rules(self, pod: str, group_id: str) -> list[dict[str, Any]]:
        url = f"{self.admin_neutron[pod]}/security-group-rules?security_group_id={group_id}"
        return list((await self.admin.call("neutron", "GET", url))["security_group_rules"])

    async def private(self, pod: str) -> str:
        """The demo project's own `private` network in the pod."""
        url = f"{self.pod_neutron[pod]}/networks?name=private&project_id={self.user.project_id}"
        found = (await self.user.call("neutron", "GET", url))["networks"]
        if not found:
            raise DevcloudError("neutron", f"no `private` network of {PROJECT} in {pod}")
        return str(found[0]["id"])

    async def clean(self) -> list[str]:
        """Delete what an interrupted run left behind; what was deleted."""
        gone = []
        for where in ["top", *(p.name for p in self.pods)]:
            for server_id in await self.servers(where):
                await self.delete_server(where, server_id)
                gone.append(f"server {server_id} ({where})")
        found = await self.top("GET", "/networks")
        for net in found["networks"]:
            if str(net.get("name", "")).startswith(PREFIX):
                await self.delete_network(str(net["id"]))
                gone.append(f"network {net['id']}")
        for group_id in await self.named("security-groups", GROUP):
            await self.delete_group(group_id)
            gone.append(f"security group {group_id}")
        return gone


async def until(check: Callable[[], Awaitable[bool]], what: str, limit: float = WAIT) -> None:
    deadline = time.monotonic() + limit
    while not await check():
        if time.monotonic() > deadline:
            raise DevcloudError("bench", f"timed out after {limit:.0f} s waiting for {what}")
        await asyncio.sleep(0.5)


# -- measurements --------------------------------------------------------------------


@dataclass
class BootResults:
    boots: dict[str, list[Boot]]
    network_create: list[float]


async def measure_boots(clouds: Clouds, pod: Pod, image: str, runs: int) -> BootResults:
    """Part 1: the three variants alternated, each server deleted before the next."""
    az = top_az(pod)
    private = await clouds.private(pod.name)
    boots: dict[str, list[Boot]] = {v: [] for v in VARIANTS}
    created: list[float] = []
    warm = await clouds.network(f"{PREFIX}warm", "10.150.0.0/24")
    try:
        # materialise the warm network in the pod with a server that is not timed
        server_id, _ = await clouds.boot(
            "top",
            {
                "name": f"{PREFIX}warm-up",
                "imageRef": image,
                "availability_zone": az,
                "networks": [{"uuid": warm}],
            },
        )
        await clouds.delete_server("top", server_id)
        if not await clouds.copies(pod.name, "networks", warm):
            raise DevcloudError("bench", f"network {warm} is not in {pod.name} after a server")
        for n, order in enumerate(rotations(list(VARIANTS), runs)):
            for variant in order:
                print(f"bench: run {n + 1}/{runs}: {variant} ...", flush=True)
                server: dict[str, Any] = {"name": f"{PREFIX}{n}", "imageRef": image}
                network = None
                if variant == NEW:
                    started = time.perf_counter()
                    network = await clouds.network(f"{PREFIX}new-{n}", f"10.151.{n % 250}.0/24")
                    created.append(time.perf_counter() - started)
                    server.update(availability_zone=az, networks=[{"uuid": network}])
                    where = "top"
                elif variant == WARM:
                    server.update(availability_zone=az, networks=[{"uuid": warm}])
                    where = "top"
                else:
                    server.update(availability_zone=pod.az, networks=[{"uuid": private}])
                    where = pod.name
                server_id, boot = await clouds.boot(where, server)
                boots[variant].append(boot)
                await clouds.delete_server(where, server_id)
                if network is not None:
                    await clouds.delete_network(network)
    finally:
        await clouds.clean()
    return BootResults(boots, created)


@dataclass
class RuleResults:
    rules: list[float]
    posts: list[float]
    by_pod: dict[str, list[float]]


async def measure_rules(clouds: Clouds, image: str, count: int) -> RuleResults:
    """Part 2: rules added at the top one by one, timed until in every pod's copy."""
    group = await clouds.group(GROUP)
    network = await clouds.network(f"{PREFIX}sg", "10.152.0.0/24")
    out = RuleResults([], [], {p.name: [] for p in clouds.pods})
    try:
        for pod in clouds.pods:
            await clouds.boot(
                "top",
                {
                    "name": f"{PREFIX}sg-{pod.name}",
                    "imageRef": image,
                    "availability_zone": top_az(pod),
                    "networks": [{"uuid": network}],
                    "security_groups": [{"name": GROUP}],
                },
            )
        bottom: dict[str, str] = {}
        for pod in clouds.pods:
            copies = await clouds.copies(pod.name, "security-groups", group)
            if len(copies) != 1:
                raise DevcloudError(
                    "cascade", f"{len(copies)} copies of security group {group} in {pod.name}"
                )
            bottom[pod.name] = str(copies[0]["id"])
        for n in range(count):
            port = RULE_PORT + n
            rule = {
                "security_group_id": group,
                "direction": "ingress",
                "ethertype": "IPv4",
                "protocol": "tcp",
                "port_range_min": port,
                "port_range_max": port,
                "remote_ip_prefix": RULE_PREFIX,
            }
            started = time.perf_counter()
            await clouds.top("POST", "/security-group-rules", {"security_group_rule": rule})
            posted = time.perf_counter()
            seen: dict[str, float] = {}
            while len(seen) < len(bottom):
                waiting = [p for p in bottom if p not in seen]
                found = await asyncio.gather(*(clouds.rules(p, bottom[p]) for p in waiting))
                now = time.perf_counter()
                for pod_name, rules in zip(waiting, found, strict=True):
                    if any(rule_matches(r, port) for r in rules):
                        seen[pod_name] = now - started
                if now - started > WAIT:
                    raise DevcloudError(
                        "cascade", f"rule for port {port} not in {waiting} after {WAIT:.0f} s"
                    )
                if len(seen) < len(bottom):
                    await asyncio.sleep(RULE_POLL)
            out.posts.append(posted - started)
            out.rules.append(max(seen.values()))
            for pod_name, took in seen.items():
                out.by_pod[pod_name].append(took)
    finally:
        await clouds.clean()
    return out


def _job_url(layout: Layout) -> str:
    return (
        f"mysql+asyncmy://{DB_USER}:{PASSWORD}@127.0.0.1:{layout.port('mariadb')}/{JOB_DB}"
        "?charset=utf8mb4"
    )


def _worker_process(url: str, worker_id: str, ready: MpEvent, go: MpEvent, stop: MpEvent) -> None:
    """A child process: one Worker on `url`, started at `go`, stopped at `stop`."""
    asyncio.run(_worker_main(url, worker_id, ready, go, stop))


async def _worker_main(
    url: str, worker_id: str, ready: MpEvent, go: MpEvent, stop: MpEvent
) -> None:
    from sqlalchemy import text

    from cascade.conf import Conf, JobsSection
    from cascade.db.engine import make_engine, sessions
    from cascade.jobs.registry import DEFAULT
    from cascade.jobs.worker import Worker

    engine = make_engine(url)
    try:
        async with engine.connect() as conn:  # connected before the clock starts
            await conn.execute(text("SELECT 1"))
        conf = Conf(jobs=JobsSection(poll_interval=WORKER_POLL))
        worker = Worker(sessions(engine), DEFAULT, conf, worker_id=worker_id)
        ready.set()
        await asyncio.to_thread(go.wait, WAIT)
        task = asyncio.create_task(worker.run())
        await asyncio.to_thread(stop.wait, WAIT * 2)
        worker.stop()
        await asyncio.wait_for(task, 60)
    finally:
        await engine.dispose()


async def _drain(layout: Layout, jobs: int, count: int, separate: bool) -> Drain:
    """Fill a fresh scratch database with `jobs` no-op jobs and time `count` workers
    (in this process, or one child process each) until every job is done."""
    import multiprocessing

    from sqlalchemy import func, select

    from cascade.conf import Conf, JobsSection
    from cascade.db.engine import make_engine, sessions
    from cascade.db.migrate import upgrade
    from cascade.db.models import Job
    from cascade.jobs import queue
    from cascade.jobs.registry import DEFAULT
    from cascade.jobs.worker import Worker

    url = _job_url(layout)
    await infra.recreate_databases(layout, [JOB_DB])
    await upgrade(url)
    watcher = make_engine(url)
    engines = [] if separate else [make_engine(url) for _ in range(count)]
    spawn = multiprocessing.get_context("spawn")
    ready = [spawn.Event() for _ in range(count)]
    go, stop = spawn.Event(), spawn.Event()
    children: list[Any] = []
    tasks: list[asyncio.Task[None]] = []
    crew: list[Worker] = []
    try:
        async with sessions(watcher)() as db:
            for n in range(jobs):
                await queue.enqueue(db, "noop", f"bench-{n}", None, {})
            await db.commit()
        done_query = select(func.count()).select_from(Job).where(Job.status == queue.DONE)
        if separate:
            children = [
                spawn.Process(
                    target=_worker_process,
                    args=(url, f"bench-{i}", ready[i], go, stop),
                    daemon=True,
                )
                for i in range(count)
            ]
            for child in children:
                child.start()
            for flag in ready:
                if not await asyncio.to_thread(flag.wait, 120):
                    raise DevcloudError("bench", "a worker process did not start within 120 s")
            started = time.perf_counter()
            go.set()
        else:
            conf = Conf(jobs=JobsSection(poll_interval=WORKER_POLL))
            crew = [
                Worker(sessions(e), DEFAULT, conf, worker_id=f"bench-{i}")
                for i, e in enumerate(engines)
            ]
            started = time.perf_counter()
            tasks = [asyncio.create_task(w.run()) for w in crew]
        while True:
            async with sessions(watcher)() as db:
                done = int(await db.scalar(done_query) or 0)
            if done >= jobs:  # distinct resource ids: no job superseded another
                break
            if time.perf_counter() - started > WAIT:
                raise DevcloudError("bench", f"{done} of {jobs} jobs done in {WAIT:.0f} s")
            await asyncio.sleep(0.02)
        took = time.perf_counter() - started
    finally:
        stop.set()
        go.set()
        for w in crew:
            w.stop()
        await asyncio.wait_for(asyncio.gather(*tasks), 60)
        for child in children:
            await asyncio.to_thread(child.join, 60)
        for e in [watcher, *engines]:
            await e.dispose()
    if any(child.exitcode != 0 for child in children):
        codes = [child.exitcode for child in children]
        raise DevcloudError("bench", f"a worker process failed (exit codes {codes})")
    return Drain(count, jobs, took, separate)


async def measure_jobs(layout: Layout, jobs: int, workers: Sequence[int] = WORKERS) -> list[Drain]:
    """Part 3: `jobs` no-op jobs drained by one worker in this process, then by N worker
    processes for each N of `workers`; the scratch database is dropped at the end."""
    drains = []
    try:
        for count, separate in [(1, False), *((n, True) for n in workers)]:
            drain = await _drain(layout, jobs, count, separate)
            print(
                f"bench: {drain.label}: {jobs} jobs in {drain.seconds:.2f} s "
                f"({drain.rate:.0f} jobs/s)",
                flush=True,
            )
            drains.append(drain)
    finally:
        await infra.sql(layout, f"DROP DATABASE IF EXISTS `{JOB_DB}`;\n")
    return drains


def _test_ticks() -> dict[int, int]:
    """CPU ticks (user + system) used so far by each tempest or pytest process."""
    found = {}
    for line in busy(command_lines(), ignore=[os.getpid()]):
        pid = int(line.split(" ", 1)[0])
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        found[pid] = int(fields[11]) + int(fields[12])
    return found


async def wait_idle(limit: float = QUIET_MAX) -> list[str]:
    """Wait (up to `limit`) until the tempest and pytest processes, if any, are idle
    (together under `IDLE_SHARE` of a core for `SAMPLE` s); those idle ones."""
    started = time.monotonic()
    while True:
        found = busy_now()
        if not found:
            return []
        before = _test_ticks()
        await asyncio.sleep(SAMPLE)
        share = cpu_share(before, _test_ticks(), SAMPLE, HZ)
        if share < IDLE_SHARE:
            return found
        if time.monotonic() - started > limit:
            raise DevcloudError(
                "bench", f"still busy after {limit / 60:.0f} min: " + "; ".join(found)[:500]
            )
        print(
            f"bench: waiting for {len(found)} test process(es) using {share:.0%} of a core: "
            f"{found[0][:100]}",
            flush=True,
        )
        await asyncio.sleep(QUIET_POLL)


async def _watch(latest: dict[int, int]) -> None:
    """Keep the latest CPU ticks of every test process in `latest` (until cancelled)."""
    while True:
        latest.update(_test_ticks())
        await asyncio.sleep(1.0)


async def _quietly(
    layout: Layout, clouds: Clouds, part: str, measure: Callable[[], Awaitable[T]]
) -> tuple[T, int, list[str]]:
    return await quietly(layout, part, measure, clouds.clean)


async def quietly(
    layout: Layout,
    part: str,
    measure: Callable[[], Awaitable[T]],
    recover: Callable[[], Awaitable[object]],
) -> tuple[T, int, list[str]]:
    """Measure with no test run active and cascade-api not restarted meanwhile; again
    when disturbed (at most `ATTEMPTS` times), after `recover` (e.g. deleting what the
    attempt left). The result, the attempts it took and the idle test processes that
    were there."""
    for attempt in range(1, ATTEMPTS + 1):
        idle = await wait_idle()
        print(f"bench: {part} (attempt {attempt}) ...", flush=True)
        proc = api_process(layout)
        before = _test_ticks()
        latest = dict(before)
        started = time.monotonic()
        watcher = asyncio.create_task(_watch(latest))
        try:
            result = await measure()
        except DevcloudError as exc:
            if _restarted(layout, proc) is None:
                raise
            print(f"bench: measuring again: {exc.message[:300]}", flush=True)
            await _retrying(recover)
            continue
        finally:
            watcher.cancel()
        latest.update(_test_ticks())
        share = cpu_share(before, latest, max(time.monotonic() - started, 1.0), HZ)
        why = _restarted(layout, proc) or (
            f"test processes used {share:.0%} of a core meanwhile" if share >= IDLE_SHARE else None
        )
        if why is None:
            return result, attempt, idle
        print(f"bench: measuring again: {why}", flush=True)
        await _retrying(recover)
    raise DevcloudError("bench", f"{part}: disturbed {ATTEMPTS} times")


def _restarted(layout: Layout, proc: ApiProcess) -> str | None:
    try:
        now = api_process(layout)
    except DevcloudError:
        return "cascade-api is not running"
    return None if now == proc else f"cascade-api restarted (pid {proc.pid} -> {now.pid})"


async def _retrying(step: Callable[[], Awaitable[object]]) -> None:
    """After a disturbed attempt: `step` (e.g. deleting what is left) once cascade-api
    answers again."""
    for _ in range(60):
        try:
            await step()
            return
        except DevcloudError:
            await asyncio.sleep(2.0)
    raise DevcloudError("bench", "cannot recover after a disturbed attempt")


async def run(layout: Layout, pods: list[Pod], runs: int = RUNS) -> str:
    """Clean up leftovers, measure the three parts, write docs/benchmarks.md; the Markdown."""
    if len(pods) < 2:
        raise DevcloudError("bench", "--network needs two pods or more (bin/devcloud up --pods 2)")
    if runs < 1:
        raise DevcloudError("bench", "--runs must be 1 or more")
    api_process(layout)
    async with (
        Rest(layout.auth_url) as admin,
        Rest(layout.auth_url, user=USER, project=PROJECT) as user,
    ):
        glance = layout.url("glance")
        images = await admin.call("glance", "GET", f"{glance}/v2/images?name={IMAGE_NAME}")
        if not images["images"]:
            raise DevcloudError("glance", f"no image {IMAGE_NAME!r} (bin/devcloud up makes it)")
        image = str(images["images"][0]["id"])
        clouds = Clouds(user, admin, pods)
        left = await clouds.clean()
        if left:
            print(f"bench: deleted leftovers of an earlier run: {', '.join(left)}", flush=True)
        boots, boot_attempts, idle = await _quietly(
            layout, clouds, "server creates", lambda: measure_boots(clouds, pods[0], image, runs)
        )
        rules, rule_attempts, idle2 = await _quietly(
            layout, clouds, "security group rules", lambda: measure_rules(clouds, image, RULES)
        )
        drains, job_attempts, idle3 = await _quietly(
            layout, clouds, "job queue", lambda: measure_jobs(layout, JOBS, WORKERS)
        )
    results = Results(
        when=datetime.now(UTC),
        cores=os.cpu_count() or 0,
        memory_gib=memory_gib(),
        pods=[p.name for p in pods],
        runs=runs,
        boots=boots.boots,
        network_create=boots.network_create,
        rules=rules.rules,
        rule_posts=rules.posts,
        rule_by_pod=rules.by_pod,
        drains=drains,
        attempts={
            "server creates": boot_attempts,
            "security group rules": rule_attempts,
            "job queue": job_attempts,
        },
        idle_tests=sorted({i.split(" ", 1)[0] for i in [*idle, *idle2, *idle3]}),
    )
    markdown = render(results)
    DOCS.write_text(replace_block(DOCS.read_text(), HEADING, markdown))
    return markdown + f"\n\n(written into {DOCS})"

"""`devcloud bench --images`: what a top image costs in an independent pod (the devcloud's
pod3: its own Keystone and Glance), measured side by side in one run.

1. Boot to ACTIVE in az3 (POST /servers until the client sees ACTIVE, polled every
   `STATUS_POLL` s; flavor 1, one network): through the top from a new top image
   (`BOOT_MIB` MiB, made fresh every run: its copy into pod3's Glance is part of the
   boot), through the top from the same image again (its copy there), and straight to
   pod3's Nova as pod3's admin (the copy, which has the top image's id, on a network of
   pod3). The last two alternate run by run; one untimed boot of each path first (the
   top network made in pod3, the project mapped there).
2. Copies of `SIZES` MiB: a fresh top image, then a server booted from it in az3 through
   the top (the create that starts the copy); timed from that POST to the copy `active`
   (`GET /v1/images/{id}/copies`, polled every `STATUS_POLL` s), and the copy job's own
   run (`GET /v1/jobs?resource_id=...`, polled as well: the job's `updated_at` while it
   is `running` is its claim, the last one its end; the admin API shows no started or
   finished time of its own). The floor: the same data streamed straight from the top's
   Glance into pod3's Glance by this process (one GET piped into one PUT, nothing
   checked on the way), from the image create to `active`.
3. Memory: VmRSS of cascade-api and cascade-worker (/proc/<pid>/status), sampled every
   `RSS_EVERY` s through part 2: the median over `BASELINE` s before each copy's create,
   the peak from the create to the server ACTIVE, and the last sample then. Every
   `SIZES[0]` MiB copy runs before the first of `SIZES[1]` MiB (memory a copy keeps
   would otherwise hide what the next one needs).
4. GET /servers/{id}, `REQUESTS` per path, one at a time on one httpx client, the paths
   alternated request by request after `WARMUP` each: through the top for a server in
   pod3 and for one in pod1 (as `demo`), straight to pod3's Nova (pod3's admin) and to
   pod1's (`demo`).

Everything the benchmark makes is named `bench-img-`; what an interrupted run left is
deleted first, everything at the end. Top images are uploaded straight to the top's
Glance (Cascade's Image API relays uploads, but it is not what is measured) and deleted
through the top's Image API, so that Cascade deletes their copies in pod3 (waited for).
The parts wait until no tempest or pytest run is active and are measured again when
cascade-api restarted or test processes used CPU meanwhile (as `bench --network`).
Progress goes to stderr; the figures are printed as Markdown and written into
docs/benchmarks.md, between the generated-block markers of their section.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import statistics
import threading
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from devcloud import docblock
from devcloud.bench_cascade import api_process, memory_gib, percentile, rotations
from devcloud.bench_network import Boot, quietly
from devcloud.bench_volume import say
from devcloud.cloud import supervisor
from devcloud.errors import DevcloudError
from devcloud.layout import TOP_REGION, Layout, Pod
from devcloud.rest import Rest

RUNS = 3
REQUESTS = 200
WARMUP = 20
PREFIX = "bench-img-"
MICROVERSION = "2.79"
FLAVOR = "1"  # m1.tiny: 1 GiB of disk, room for every image here
MIB = 1024 * 1024
BOOT_MIB = 1  # the new image of each boot run (the size of the devcloud's `tiny`)
SIZES = (100, 300)  # MiB copied in part 2; the first is the throughput's, both the memory's
CHUNK = MIB  # upload chunks
STATUS_POLL = 0.1
GONE_POLL = 0.5
RSS_EVERY = 0.1
BASELINE = 2.0  # seconds of quiet before each copy, its samples the baseline
WAIT = 600.0
PROCESSES = ("cascade-api", "cascade-worker")
TOP_NEW = "through the top, a new top image (copied into pod3 first)"
TOP_AGAIN = "through the top, the same image again (its copy in pod3)"
DIRECT = "straight to pod3's Nova (pod3's admin, the copy, a pod3 network)"
BOOTS = (TOP_NEW, TOP_AGAIN, DIRECT)
COPY = "create → copy active"
JOB = "the copy job's own run (claimed → done)"
QUEUED = "the copy job, queued → done"
FLOOR = "floor: top Glance → pod3 Glance straight, one stream"
READ_TOP_INDEPENDENT = "through the top, a server in pod3 (independent)"
READ_INDEPENDENT = "straight to pod3's Nova"
READ_TOP_SHARED = "through the top, a server in pod1 (shared)"
READ_SHARED = "straight to pod1's Nova"
READS = (READ_TOP_INDEPENDENT, READ_INDEPENDENT, READ_TOP_SHARED, READ_SHARED)
DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADING = "## Images in an independent pod (issue: independent pods)"
BEGIN = "<!-- devcloud bench --images: generated block, replaced by every run -->"
END = "<!-- devcloud bench --images: end of generated block -->"
METHOD = (
    "What is measured, all in one run of `bin/devcloud bench --images`\n"
    "(`devcloud/bench_images.py`), against pod3, the devcloud's independent pod\n"
    "(its own Keystone and Glance, top AZ az3): (1) a server's boot to ACTIVE in\n"
    "az3 through the top from a new top image (its copy into pod3's Glance part of\n"
    "the boot), from the same image again, and straight to pod3's Nova; (2) the\n"
    "copy of a 100 MiB and a 300 MiB image started by a server create, to the copy\n"
    "active, the copy job's own run, and the same data streamed straight from\n"
    "Glance to Glance (the floor); (3) the resident memory of cascade-api and\n"
    "cascade-worker during those copies; (4) GET `/servers/{id}` through the top\n"
    "for a server in pod3 and one in pod1, and straight to each pod."
)


# -- pure logic ----------------------------------------------------------------------


@dataclass(frozen=True)
class Spread:
    """Several measurements of one thing: median, min, max."""

    n: int
    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        if not values:
            raise ValueError("no values")
        return cls(len(values), statistics.median(values), min(values), max(values))


def mib_per_s(size: int, seconds: float) -> float:
    """Throughput of `size` bytes in `seconds`, in MiB/s."""
    if seconds <= 0:
        raise ValueError(f"{seconds} s")
    return size / MIB / seconds


def ratio(measured: float, baseline: float) -> float:
    if baseline <= 0:
        raise ValueError(f"a baseline of {baseline}")
    return measured / baseline


def stamp(value: str) -> datetime:
    """A time of the admin API (ISO 8601, Cascade's clock: UTC, no zone given)."""
    found = datetime.fromisoformat(value)
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def leased_pid(leased_by: str | None) -> int | None:
    """The process id in a worker's name (`host:pid:random`, `cascade.jobs.worker`)."""
    parts = (leased_by or "").split(":")
    return int(parts[-2]) if len(parts) >= 3 and parts[-2].isdigit() else None


@dataclass(frozen=True)
class JobRun:
    """A copy job as the admin API showed it while it ran: queued, claimed (its first
    `updated_at` while `running`, None if never seen running), finished (its last
    `updated_at` once `done`), who ran it, and how many attempts failed before."""

    created: datetime
    claimed: datetime | None
    finished: datetime
    worker_pid: int | None
    failed_attempts: int

    @property
    def own(self) -> float | None:
        """Seconds from the claim to done: the job's own run."""
        return None if self.claimed is None else (self.finished - self.claimed).total_seconds()

    @property
    def total(self) -> float:
        """Seconds from queued to done."""
        return (self.finished - self.created).total_seconds()


def job_run(seen: Sequence[Mapping[str, Any]]) -> JobRun:
    """The job's run from its views in the order they were read (the last one `done`)."""
    if not seen or seen[-1].get("status") != "done":
        raise ValueError("the job is not done")
    last = seen[-1]
    running = [v for v in seen if v.get("status") == "running" and v.get("updated_at")]
    claimed = min((stamp(str(v["updated_at"])) for v in running), default=None)
    pids = [leased_pid(v.get("leased_by")) for v in running]
    return JobRun(
        created=stamp(str(last["created_at"])),
        claimed=claimed,
        finished=stamp(str(last["updated_at"])),
        worker_pid=next((p for p in pids if p is not None), None),
        failed_attempts=int(last.get("attempts") or 0),
    )


def copy_status(copies: Mapping[str, Any], pod_name: str) -> str:
    """The image's status in `pod_name` from `GET /v1/images/{id}/copies`."""
    for found in copies.get("copies") or []:
        if found.get("pod_name") == pod_name:
            if found.get("job_status") == "failed":
                raise DevcloudError("cascade", f"the copy into {pod_name} failed: {found}")
            return str(found.get("status"))
    raise DevcloudError("cascade", f"no pod {pod_name} in {copies}")


@dataclass(frozen=True)
class Window:
    """One process's RSS around one copy, in KiB."""

    baseline: float  # the median before the copy's create
    peak: int  # the highest from the create to the server ACTIVE
    after: int  # the last sample of that span

    @property
    def growth(self) -> float:
        return self.peak - self.baseline


def window(samples: Sequence[tuple[float, int]], start: float, end: float) -> Window:
    """`samples` (monotonic time, KiB) cut around a copy created at `start`, its server
    ACTIVE at `end`: the baseline is the median of the `BASELINE` s before `start`."""
    before = [kib for t, kib in samples if start - BASELINE <= t < start]
    during = [kib for t, kib in samples if start <= t <= end]
    if not before or not during:
        raise ValueError(f"no samples around {start:.1f}-{end:.1f}")
    return Window(statistics.median(before), max(during), during[-1])


@dataclass(frozen=True)
class Copy:
    """One copy of `size` MiB: what the client saw, the job, the floor, the memory."""

    size: int  # MiB
    to_active: float  # seconds from the server create to the copy active
    job: JobRun
    floor: float  # seconds, the straight stream
    memory: dict[str, Window]  # process -> its RSS around the copy
    post: float = 0.0  # the server create's POST alone (it waits for the copy)
    to_queued: float | None = None  # seconds from the create to the job queued (wall clock)

    @property
    def bytes(self) -> int:
        return self.size * MIB


@dataclass(frozen=True)
class Results:
    when: datetime
    cores: int
    memory_gib: float
    pods: list[str]
    runs: int
    requests: int
    boots: dict[str, list[Boot]]  # BOOTS -> the runs, in the order measured
    copies: list[Copy]  # in the order measured
    reads: dict[str, list[float]]  # READS -> seconds per request
    pids: dict[str, int] = field(default_factory=dict)  # process name -> pid
    hashing: float | None = None  # seconds for MD5 + SHA-512 of SIZES[0] MiB here
    attempts: dict[str, int] = field(default_factory=dict)
    idle_tests: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def command(runs: int, requests: int) -> str:
    return f"bin/devcloud bench --images --runs {runs} --requests {requests}"


def secs(seconds: float) -> str:
    return f"{seconds:.2f} s"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


def signed_mib(kib: float) -> str:
    return f"{'+' if kib >= 0 else '-'}{abs(kib) / 1024:.1f} MiB"


def spread_cell(values: Sequence[float]) -> str:
    s = Spread.of(values)
    return f"**{secs(s.median)}** ({secs(s.low)} - {secs(s.high)})"


def rate_cell(size: int, values: Sequence[float]) -> str:
    """Median seconds and MiB/s (min - max of the rates)."""
    s = Spread.of(values)
    rates = [mib_per_s(size, v) for v in values]
    return (
        f"{secs(s.median)}: **{mib_per_s(size, s.median):.0f} MiB/s** "
        f"({min(rates):.0f} - {max(rates):.0f})"
    )


def breakdown(size: int, copies: Sequence[Copy]) -> str | None:
    """`size` MiB: the create to the job queued, queued to claimed, the job's run, done to
    the copy seen active (medians); None without the times it needs."""
    timed = [c for c in copies if c.to_queued is not None and c.job.own is not None]
    if not timed:
        return None

    def med(values: Iterable[float]) -> str:
        return secs(statistics.median(values))

    return (
        f"{size} MiB: the create to the job queued {med(c.to_queued or 0.0 for c in timed)}, "
        f"queued to claimed {med(c.job.total - (c.job.own or 0.0) for c in timed)}, "
        f"the job's run {med(c.job.own or 0.0 for c in timed)}, done to the copy seen active "
        f"{med(c.to_active - (c.to_queued or 0.0) - c.job.total for c in timed)}"
    )


def process_of(pid: int | None, pids: Mapping[str, int]) -> str:
    name = next((n for n, p in pids.items() if p == pid), None)
    return f"{name} (pid {pid})" if name else f"pid {pid}"


def render(r: Results) -> str:
    """The figures as Markdown: one table per part, notes last."""
    out = docblock.preamble(
        command(r.runs, r.requests),
        "devcloud/bench_images.py",
        r.when,
        r.cores,
        r.memory_gib,
        len(r.pods),
        r.idle_tests,
        r.attempts,
    )
    out[-1] += (
        ". pod3 is independent (its own Keystone and Glance, top AZ az3); through the top "
        f"as the member user `demo`, microversion {MICROVERSION}, flavor {FLAVOR}, one "
        "request at a time."
    )
    if r.boots:
        out += [
            "",
            f"Server create to ACTIVE in az3 ({r.runs} run{'s' if r.runs != 1 else ''}; each "
            f"run a new {BOOT_MIB} MiB "
            "top image, the last two paths alternated; every server deleted before the "
            f"next; polled every {STATUS_POLL:g} s):",
            "",
            "| path | create → ACTIVE median (min - max) | POST `/servers` alone, median |",
            "|---|---|---|",
        ]
        for path, boots in r.boots.items():
            post = statistics.median(b.post for b in boots)
            out.append(f"| {path} | {spread_cell([b.active for b in boots])} | {secs(post)} |")
        if DIRECT in r.boots:
            direct = statistics.median(b.active for b in r.boots[DIRECT])
            parts = []
            for path, label in ((TOP_NEW, "new image"), (TOP_AGAIN, "image copied")):
                if path in r.boots:
                    top = statistics.median(b.active for b in r.boots[path])
                    parts.append(
                        f"{label} **{ratio(top, direct):.2f} x** "
                        f"({'+' if top >= direct else '-'}{ms(abs(top - direct))})"
                    )
            if parts:
                out += ["", "Through the top / straight, medians: " + "; ".join(parts) + "."]
    sizes = sorted({c.size for c in r.copies})
    if r.copies:
        out += [
            "",
            "Image copies into pod3 (a fresh top image each, copied by a server create in "
            "az3; the job's times are its `updated_at` while `running` and once `done`, "
            f"read every {STATUS_POLL:g} s; median seconds, MiB/s of the median (min - max "
            "of the runs)):",
            "",
            "| size | runs | "
            + " | ".join([COPY, JOB, QUEUED, FLOOR])
            + " | against the floor (create → active; job's own run) "
            "| POST `/servers` alone (it waits for the copy) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for size in sizes:
            mine = [c for c in r.copies if c.size == size]
            own = [c.job.own for c in mine if c.job.own is not None]
            size_b = size * MIB
            to_active = statistics.median(c.to_active for c in mine)
            floor = statistics.median(c.floor for c in mine)
            against = f"{ratio(to_active, floor):.2f} x"
            if own:
                against += f"; {ratio(statistics.median(own), floor):.2f} x"
            out.append(
                f"| {size} MiB | {len(mine)} | {rate_cell(size_b, [c.to_active for c in mine])} "
                f"| {rate_cell(size_b, own) if own else 'not seen running'} "
                f"| {rate_cell(size_b, [c.job.total for c in mine])} "
                f"| {rate_cell(size_b, [c.floor for c in mine])} "
                f"| {against} | {secs(statistics.median(c.post for c in mine))} |"
            )
        steps = [breakdown(size, [c for c in r.copies if c.size == size]) for size in sizes]
        if any(steps):
            out += [
                "",
                "Where a copy's time goes (medians): " + "; ".join(filter(None, steps)) + ".",
            ]
        out += [
            "",
            f"Resident memory (VmRSS) during those copies, sampled every {RSS_EVERY:g} s: "
            f"baseline the median of the {BASELINE:g} s before the create, peak from the "
            "create to the server ACTIVE (each run in the order measured):",
            "",
            "| size | process | baseline | peak | peak - baseline | last sample |",
            "|---|---|---|---|---|---|",
        ]
        for size in sizes:
            mine = [c for c in r.copies if c.size == size]
            for name in PROCESSES:
                windows = [c.memory[name] for c in mine if name in c.memory]
                if not windows:
                    continue
                growth = [w.growth for w in windows]
                each = ", ".join(signed_mib(g) for g in growth)
                baseline = statistics.median(w.baseline for w in windows)
                out.append(
                    f"| {size} MiB | {name} | {mib(baseline)} "
                    f"| {mib(max(w.peak for w in windows))} "
                    f"| **{signed_mib(max(growth))}** ({each}) | {mib(windows[-1].after)} |"
                )
    if r.reads:
        out += [
            "",
            f"GET `/servers/{{id}}`, {r.requests} per path on one httpx client, the paths "
            f"alternated request by request after {WARMUP} warm-up requests each:",
            "",
            "| path | n | p50 | p95 |",
            "|---|---|---|---|",
        ]
        for path, values in r.reads.items():
            out.append(
                f"| {path} | {len(values)} | **{ms(percentile(values, 50))}** "
                f"| {ms(percentile(values, 95))} |"
            )
        lines = []
        for through, straight, pod in (
            (READ_TOP_INDEPENDENT, READ_INDEPENDENT, "pod3 (independent)"),
            (READ_TOP_SHARED, READ_SHARED, "pod1 (shared)"),
        ):
            if through in r.reads and straight in r.reads:
                t, d = percentile(r.reads[through], 50), percentile(r.reads[straight], 50)
                lines.append(
                    f"{pod}: {'+' if t >= d else '-'}{ms(abs(t - d))}, **{ratio(t, d):.2f} x**"
                )
        if lines:
            out += ["", "p50 through the top against straight: " + "; ".join(lines) + "."]
    notes = list(r.notes)
    ran = {c.job.worker_pid for c in r.copies}
    if ran:
        notes.insert(
            0,
            "The copies ran in "
            + ", ".join(process_of(pid, r.pids) for pid in sorted(ran, key=str))
            + " (the job's `leased_by` while it ran).",
        )
    if r.hashing is not None and sizes:
        notes.append(
            f"MD5 and SHA-512 of {sizes[0]} MiB (what a copy works out on the way) take "
            f"{secs(r.hashing)} in one Python process on this machine."
        )
    failed = sum(c.job.failed_attempts for c in r.copies)
    if failed:
        notes.append(f"{failed} copy attempt(s) failed and were retried (counted in).")
    if notes:
        out += ["", *(f"- {note}" for note in notes)]
    return "\n".join(out)


def replace_block(doc: str, block: str, heading: str = HEADING, method: str = METHOD) -> str:
    """`doc` with the generated block of the section under `heading` set to `block`; the
    section's hand-written text stays (see `devcloud.docblock`). A missing section is
    appended with `method` above the block."""
    if any(line.rstrip() == heading for line in doc.splitlines()):
        return docblock.replace_block(doc, heading, block, BEGIN, END, keep_text=True)
    return doc.rstrip() + f"\n\n{heading}\n\n{method.strip()}\n\n{BEGIN}\n{block.strip()}\n{END}\n"


def is_bench(name: object) -> bool:
    return str(name or "").startswith(PREFIX)


def glance_root(url: str) -> str:
    return url.rstrip("/").removesuffix("/v2")


# -- the machine --------------------------------------------------------------------


def vm_rss_kib(pid: int) -> int:
    """VmRSS of `pid` in KiB (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


class Sampler:
    """VmRSS of some processes every `every` s, in a thread of its own (the event loop's
    waits do not delay it)."""

    def __init__(self, pids: Mapping[str, int], every: float = RSS_EVERY) -> None:
        self.pids = dict(pids)
        self.every = every
        self.samples: dict[str, list[tuple[float, int]]] = {name: [] for name in self.pids}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            for name, pid in self.pids.items():
                self.samples[name].append((now, vm_rss_kib(pid)))
            self._stop.wait(self.every)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def windows(self, start: float, end: float) -> dict[str, Window]:
        return {name: window(list(s), start, end) for name, s in self.samples.items()}


def cascade_pids(layout: Layout) -> dict[str, int]:
    sup = supervisor(layout)
    found = {}
    for name in PROCESSES:
        record = sup.running(name)
        if record is None:
            raise DevcloudError(name, "not running (bin/devcloud up starts it)")
        found[name] = record.pid
    return found


def hashing_seconds(size: int) -> float:
    """MD5 and SHA-512 over `size` bytes in 1 MiB pieces, as a copy works them out."""
    data = os.urandom(CHUNK)
    md5 = hashlib.md5(usedforsecurity=False)
    sha = hashlib.sha512()
    started = time.perf_counter()
    for _ in range(size // CHUNK):
        md5.update(data)
        sha.update(data)
    return time.perf_counter() - started


# -- the clouds ----------------------------------------------------------------------


class Clouds:
    """The calls the benchmark makes, all on one httpx client: the top as `demo`,
    Cascade's admin API as the top's admin, pod3 as its own admin, pod1 as `demo`."""

    def __init__(
        self, layout: Layout, user: Rest, admin: Rest, pod_admin: Rest, pod: Pod, shared: Pod
    ) -> None:
        self.user, self.admin, self.pod_admin = user, admin, pod_admin
        self.pod, self.shared = pod, shared
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(WAIT, connect=30.0))
        self.top_nova = user.endpoint("compute", TOP_REGION)
        self.top_neutron = user.endpoint("network", TOP_REGION) + "/v2.0"
        self.top_image = glance_root(user.endpoint("image", TOP_REGION))
        self.glance = layout.url("glance")  # the top's Glance, straight
        self.cascade = layout.url("cascade")  # Cascade's admin API
        self.pod_nova = pod_admin.endpoint("compute", pod.region)
        self.pod_neutron = pod_admin.endpoint("network", pod.region) + "/v2.0"
        self.pod_glance = glance_root(pod_admin.endpoint("image", pod.region))
        self.shared_nova = user.endpoint("compute", shared.region)
        self.shared_neutron = admin.endpoint("network", shared.region) + "/v2.0"
        self.pod_id = ""
        self.top_network = ""
        self.pod_network = ""

    async def aclose(self) -> None:
        await self.http.aclose()

    @staticmethod
    def headers(who: Rest, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        found = {
            "X-Auth-Token": who.token,
            "Accept": "application/json",
            "OpenStack-API-Version": f"compute {MICROVERSION}",
        }
        found.update(extra or {})
        return found

    async def call(
        self,
        who: Rest,
        service: str,
        method: str,
        url: str,
        body: Any = None,
        ok: Sequence[int] = (200, 201, 202, 204),
        raw: bool = False,
    ) -> Any:
        """The decoded answer (None when empty); with `raw`, its status code."""
        try:
            resp = await self.http.request(method, url, json=body, headers=self.headers(who))
        except httpx.HTTPError as exc:
            raise DevcloudError(service, f"{method} {url} failed: {exc!r}") from exc
        if resp.status_code not in ok:
            raise DevcloudError(
                service, f"{method} {url} answered {resp.status_code}: {resp.text[:500]}"
            )
        if raw:
            return resp.status_code
        return resp.json() if resp.content else None

    async def found(self, who: Rest, service: str, url: str) -> bool:
        """Whether GET `url` answers 200 (False on 404; anything else is an error)."""
        status: int = await self.call(who, service, "GET", url, ok=(200, 404), raw=True)
        return status == 200

    async def until(self, what: str, check: Any, limit: float = WAIT) -> None:
        deadline = time.monotonic() + limit
        while not await check():
            if time.monotonic() > deadline:
                raise DevcloudError("bench", f"timed out after {limit:.0f} s waiting for {what}")
            await asyncio.sleep(GONE_POLL)

    # -- where things are
    def nova(self, where: str) -> tuple[Rest, str, str]:
        """(who, service name for errors, compute endpoint) of `top` or `pod` (pod3
        straight)."""
        if where == "top":
            return self.user, "cascade", self.top_nova
        return self.pod_admin, "nova", self.pod_nova

    async def find_pod_id(self) -> str:
        pods = (await self.call(self.admin, "cascade", "GET", f"{self.cascade}/v1/pods"))["pods"]
        found = [p for p in pods if p["name"] == self.pod.name]
        if not found or found[0].get("identity") != "independent":
            raise DevcloudError("bench", f"Cascade has no independent pod {self.pod.name}")
        self.pod_id = str(found[0]["id"])
        return self.pod_id

    # -- networks
    async def networks(self) -> None:
        """A top network (it spans the pods) and one of pod3's own, each with a subnet."""
        made = await self.call(
            self.user,
            "cascade",
            "POST",
            f"{self.top_neutron}/networks",
            {"network": {"name": f"{PREFIX}top"}},
        )
        self.top_network = str(made["network"]["id"])
        subnet = {"network_id": self.top_network, "cidr": "10.181.0.0/24", "ip_version": 4}
        await self.call(
            self.user, "cascade", "POST", f"{self.top_neutron}/subnets", {"subnet": subnet}
        )
        made = await self.call(
            self.pod_admin,
            "neutron",
            "POST",
            f"{self.pod_neutron}/networks",
            {"network": {"name": f"{PREFIX}pod"}},
        )
        self.pod_network = str(made["network"]["id"])
        subnet = {"network_id": self.pod_network, "cidr": "10.182.0.0/24", "ip_version": 4}
        await self.call(
            self.pod_admin, "neutron", "POST", f"{self.pod_neutron}/subnets", {"subnet": subnet}
        )

    async def delete_top_network(self, network_id: str) -> None:
        """Once its ports are gone; until no pod keeps its copy."""

        async def no_ports() -> bool:
            url = f"{self.top_neutron}/ports?network_id={network_id}"
            return not (await self.call(self.user, "cascade", "GET", url))["ports"]

        await self.until(f"the ports of top network {network_id} to go", no_ports)
        url = f"{self.top_neutron}/networks/{network_id}"
        await self.call(self.user, "cascade", "DELETE", url, ok=(204, 404))

        async def nowhere() -> bool:
            query = urlencode({"name": network_id})
            for who, base in (
                (self.pod_admin, self.pod_neutron),
                (self.admin, self.shared_neutron),
            ):
                found = await self.call(who, "neutron", "GET", f"{base}/networks?{query}")
                if found["networks"]:
                    return False
            return True

        await self.until(f"top network {network_id} to leave the pods", nowhere)

    async def delete_pod_network(self, network_id: str) -> None:
        async def no_ports() -> bool:
            url = f"{self.pod_neutron}/ports?network_id={network_id}&device_owner=compute:nova"
            return not (await self.call(self.pod_admin, "neutron", "GET", url))["ports"]

        await self.until(f"the servers' ports of pod3 network {network_id} to go", no_ports)
        url = f"{self.pod_neutron}/networks/{network_id}"
        await self.call(self.pod_admin, "neutron", "DELETE", url, ok=(204, 404))

    # -- servers
    async def post_server(
        self, where: str, name: str, image: str, az: str | None = None
    ) -> tuple[str, float]:
        """POST /servers; the server's id and how long the POST took."""
        who, service, base = self.nova(where)
        network = self.top_network if where == "top" else self.pod_network
        server: dict[str, Any] = {
            "name": name,
            "imageRef": image,
            "flavorRef": FLAVOR,
            "networks": [{"uuid": network}],
        }
        if az is not None:
            server["availability_zone"] = az
        started = time.perf_counter()
        made = await self.call(who, service, "POST", f"{base}/servers", {"server": server})
        return str(made["server"]["id"]), time.perf_counter() - started

    async def active(self, where: str, server_id: str) -> None:
        who, service, base = self.nova(where)
        deadline = time.monotonic() + WAIT
        while True:
            found = await self.call(who, service, "GET", f"{base}/servers/{server_id}")
            status = found["server"]["status"]
            if status == "ACTIVE":
                return
            if status == "ERROR" or time.monotonic() > deadline:
                raise DevcloudError(
                    service,
                    f"server {server_id} ({where}) is {status}: {found['server'].get('fault')}",
                )
            await asyncio.sleep(STATUS_POLL)

    async def boot(
        self, where: str, name: str, image: str, az: str | None = None
    ) -> tuple[str, Boot]:
        started = time.perf_counter()
        server_id, post = await self.post_server(where, name, image, az)
        await self.active(where, server_id)
        return server_id, Boot(post, time.perf_counter() - started)

    async def delete_server(self, where: str, server_id: str) -> None:
        who, service, base = self.nova(where)
        url = f"{base}/servers/{server_id}"
        await self.call(who, service, "DELETE", url, ok=(204, 404))

        async def gone() -> bool:
            return not await self.found(who, service, url)

        await self.until(f"server {server_id} ({where}) to go", gone)

    async def servers(self, where: str) -> list[str]:
        who, service, base = self.nova(where)
        query = urlencode({"name": f"^{PREFIX}"})
        found = await self.call(who, service, "GET", f"{base}/servers?{query}")
        return [str(s["id"]) for s in found["servers"]]

    # -- images
    async def upload(self, name: str, size: int) -> str:
        """A private top image of `size` random bytes, uploaded straight to the top's
        Glance as `demo`; its id once active."""
        body = {"name": name, "disk_format": "raw", "container_format": "bare"}
        url = f"{self.glance}/v2/images"
        image_id = str((await self.call(self.user, "glance", "POST", url, body, ok=(201,)))["id"])

        async def data() -> AsyncIterator[bytes]:
            left = size
            while left:
                piece = min(CHUNK, left)
                yield os.urandom(piece)
                left -= piece

        headers = self.headers(
            self.user,
            {"Content-Type": "application/octet-stream", "Content-Length": str(size)},
        )
        resp = await self.http.put(f"{url}/{image_id}/file", content=data(), headers=headers)
        if resp.status_code != 204:
            raise DevcloudError("glance", f"upload of {name}: {resp.status_code} {resp.text[:300]}")
        found = await self.call(self.user, "glance", "GET", f"{url}/{image_id}")
        if found["status"] != "active" or found["size"] != size:
            raise DevcloudError("glance", f"image {image_id} is {found['status']} after upload")
        return image_id

    async def delete_image(self, image_id: str) -> None:
        """The top image deleted through the top's Image API (Cascade queues the deletion
        of its copies), until pod3 has no copy left."""
        url = f"{self.top_image}/v2/images/{image_id}"
        await self.call(self.user, "cascade", "DELETE", url, ok=(204, 404))

        async def no_copy() -> bool:
            url = f"{self.pod_glance}/v2/images/{image_id}"
            return not await self.found(self.pod_admin, "glance", url)

        await self.until(f"the copy of image {image_id} to leave {self.pod.name}", no_copy)

    async def copies(self, image_id: str) -> str:
        url = f"{self.cascade}/v1/images/{image_id}/copies"
        return copy_status(await self.call(self.admin, "cascade", "GET", url), self.pod.name)

    async def job(self, image_id: str) -> dict[str, Any] | None:
        """The latest `image.copy` job of the image into pod3, as the admin API shows it."""
        query = urlencode({"type": "image.copy", "resource_id": f"{image_id}@{self.pod_id}"})
        found = await self.call(self.admin, "cascade", "GET", f"{self.cascade}/v1/jobs?{query}")
        jobs: list[dict[str, Any]] = found["jobs"]
        return jobs[-1] if jobs else None

    async def floor(self, image_id: str, size: int, name: str) -> float:
        """The top image's data streamed straight into a new image of pod3's Glance (as
        pod3's admin): seconds from the create to `active`. The image is deleted after."""
        started = time.perf_counter()
        body = {"name": name, "disk_format": "raw", "container_format": "bare"}
        url = f"{self.pod_glance}/v2/images"
        made = await self.call(self.pod_admin, "glance", "POST", url, body, ok=(201,))
        target = f"{url}/{made['id']}"
        try:
            source = f"{self.glance}/v2/images/{image_id}/file"
            async with self.http.stream("GET", source, headers=self.headers(self.user)) as data:
                if data.status_code != 200:
                    raise DevcloudError("glance", f"GET {source} answered {data.status_code}")
                headers = self.headers(
                    self.pod_admin,
                    {"Content-Type": "application/octet-stream", "Content-Length": str(size)},
                )
                put = await self.http.put(
                    f"{target}/file", content=data.aiter_raw(), headers=headers
                )
            if put.status_code != 204:
                raise DevcloudError("glance", f"PUT {target}/file answered {put.status_code}")
            for _ in range(int(WAIT / STATUS_POLL)):
                shown = await self.call(self.pod_admin, "glance", "GET", target)
                if shown["status"] == "active":
                    return time.perf_counter() - started
                await asyncio.sleep(STATUS_POLL)
            raise DevcloudError("glance", f"{target} not active in {WAIT:.0f} s")
        finally:
            await self.call(self.pod_admin, "glance", "DELETE", target, ok=(204, 404))

    # -- leftovers
    async def clean(self, networks: bool = False) -> list[str]:
        """Delete what the benchmark (or an interrupted run) left: servers, images, and
        with `networks` the networks; what was deleted."""
        gone = []
        for where in ("top", "pod"):
            for server_id in await self.servers(where):
                await self.delete_server(where, server_id)
                gone.append(f"server {server_id} ({where})")
        query = urlencode({"owner": self.user.project_id, "limit": 1000})
        found = await self.call(self.user, "glance", "GET", f"{self.glance}/v2/images?{query}")
        for image in found["images"]:
            if is_bench(image.get("name")):
                await self.delete_image(str(image["id"]))
                gone.append(f"top image {image['id']}")
        query = urlencode({"owner": self.pod_admin.project_id, "limit": 1000})
        url = f"{self.pod_glance}/v2/images?{query}"
        for image in (await self.call(self.pod_admin, "glance", "GET", url))["images"]:
            if str(image.get("name") or "").startswith(f"{PREFIX}floor-"):  # never a copy
                url = f"{self.pod_glance}/v2/images/{image['id']}"
                await self.call(self.pod_admin, "glance", "DELETE", url, ok=(204, 404))
                gone.append(f"pod3 image {image['id']}")
        if networks:
            url = f"{self.top_neutron}/networks"
            for net in (await self.call(self.user, "cascade", "GET", url))["networks"]:
                if is_bench(net.get("name")):
                    await self.delete_top_network(str(net["id"]))
                    gone.append(f"top network {net['id']}")
            url = f"{self.pod_neutron}/networks"
            for net in (await self.call(self.pod_admin, "neutron", "GET", url))["networks"]:
                if is_bench(net.get("name")):
                    await self.delete_pod_network(str(net["id"]))
                    gone.append(f"pod3 network {net['id']}")
        return gone


# -- measurements --------------------------------------------------------------------


async def warm_up(clouds: Clouds, image: str) -> None:
    """One untimed boot of each path: the top network made in pod3, demo's project
    mapped there, the image's copy made."""
    for where, az in (("top", clouds.pod.az), ("pod", None)):
        server_id, _ = await clouds.boot(where, f"{PREFIX}warm-up", image, az)
        await clouds.delete_server(where, server_id)


async def measure_boots(clouds: Clouds, image: str, runs: int) -> dict[str, list[Boot]]:
    """Part 1: per run a new top image; booted through the top (copied first), again,
    and straight in pod3 from its copy."""
    await warm_up(clouds, image)
    boots: dict[str, list[Boot]] = {path: [] for path in BOOTS}
    where = {TOP_NEW: "top", TOP_AGAIN: "top", DIRECT: "pod"}
    az = {TOP_NEW: clouds.pod.az, TOP_AGAIN: clouds.pod.az, DIRECT: None}
    for n, order in enumerate(rotations([TOP_AGAIN, DIRECT], runs)):
        fresh = await clouds.upload(f"{PREFIX}boot-{n}", BOOT_MIB * MIB)
        try:
            for path in (TOP_NEW, *order):
                say(f"boot {n + 1}/{runs}: {path} ...")
                server_id, boot = await clouds.boot(where[path], f"{PREFIX}{n}", fresh, az[path])
                boots[path].append(boot)
                await clouds.delete_server(where[path], server_id)
        finally:
            await clouds.clean()
    return boots


async def measure_copy(clouds: Clouds, sampler: Sampler, size: int, n: int) -> Copy:
    """One copy of a fresh `size` MiB top image into pod3, started by a server create."""
    image = await clouds.upload(f"{PREFIX}copy-{size}-{n}", size * MIB)
    try:
        await asyncio.sleep(BASELINE)  # quiet: the baseline's samples
        start = time.monotonic()
        started = time.perf_counter()
        wall = datetime.now(UTC)  # to compare with the job's times (Cascade's clock, here)
        create = asyncio.create_task(
            clouds.post_server("top", f"{PREFIX}copy-{size}-{n}", image, clouds.pod.az)
        )
        seen: list[dict[str, Any]] = []
        try:
            to_active = await _copied(clouds, image, create, seen, started)
            server_id, post = await create
        finally:
            if not create.done():
                create.cancel()
        await clouds.active("top", server_id)
        end = time.monotonic()
        while not seen or seen[-1].get("status") != "done":
            await asyncio.sleep(STATUS_POLL)
            job = await clouds.job(image)
            if job is not None:
                seen.append(job)
        floor = await clouds.floor(image, size * MIB, f"{PREFIX}floor-{size}-{n}")
        await clouds.delete_server("top", server_id)
        ran = job_run(seen)
        queued = (ran.created - wall).total_seconds()
        memory = sampler.windows(start, end)
        return Copy(size, to_active, ran, floor, memory, post, queued)
    finally:
        await clouds.clean()


async def _copied(
    clouds: Clouds,
    image: str,
    create: asyncio.Task[tuple[str, float]],
    seen: list[dict[str, Any]],
    started: float,
) -> float:
    """Seconds from `started` until the image's copy in pod3 is active, its job's views
    kept in `seen`; the create's error if it fails first."""
    while True:
        job = await clouds.job(image)
        if job is not None:
            seen.append(job)
        if await clouds.copies(image) == "active":
            return time.perf_counter() - started
        if create.done():
            await create  # raises its error; else the copy is active by now
        if time.perf_counter() - started > WAIT:
            raise DevcloudError("bench", f"image {image}: no copy in {WAIT:.0f} s")
        await asyncio.sleep(STATUS_POLL)


async def measure_copies(clouds: Clouds, pids: Mapping[str, int], runs: int) -> list[Copy]:
    """Parts 2 and 3: `runs` copies of each size, the smaller size first, RSS sampled."""
    found = []
    with Sampler(pids) as sampler:
        for size in SIZES:
            for n in range(runs):
                say(f"copy of {size} MiB, run {n + 1}/{runs} ...")
                found.append(await measure_copy(clouds, sampler, size, n))
    return found


async def measure_reads(clouds: Clouds, image: str, requests: int) -> dict[str, list[float]]:
    """Part 4: a server in pod3 and one in pod1, both through the top; GET each through
    the top and straight, alternated request by request."""
    in_pod, _ = await clouds.boot("top", f"{PREFIX}read-pod3", image, clouds.pod.az)
    in_shared, _ = await clouds.boot("top", f"{PREFIX}read-pod1", image, clouds.shared.az)
    try:
        paths = {
            READ_TOP_INDEPENDENT: (clouds.user, f"{clouds.top_nova}/servers/{in_pod}"),
            READ_INDEPENDENT: (clouds.pod_admin, f"{clouds.pod_nova}/servers/{in_pod}"),
            READ_TOP_SHARED: (clouds.user, f"{clouds.top_nova}/servers/{in_shared}"),
            READ_SHARED: (clouds.user, f"{clouds.shared_nova}/servers/{in_shared}"),
        }

        async def get(path: str) -> float:
            who, url = paths[path]
            started = time.perf_counter()
            resp = await clouds.http.get(url, headers=clouds.headers(who))
            took = time.perf_counter() - started
            if resp.status_code != 200:
                raise DevcloudError("bench", f"GET {url} answered {resp.status_code}")
            return took

        for _ in range(WARMUP):
            for path in paths:
                await get(path)
        times: dict[str, list[float]] = {path: [] for path in paths}
        for order in rotations(list(paths), requests):
            for path in order:
                times[path].append(await get(path))
        return times
    finally:
        await clouds.clean()


async def run(layout: Layout, pods: list[Pod], runs: int = RUNS, requests: int = REQUESTS) -> str:
    """Clean up leftovers, measure the four parts, write docs/benchmarks.md; the Markdown."""
    independent = [p for p in pods if p.independent]
    shared = [p for p in pods if not p.independent]
    if not independent or not shared:
        raise DevcloudError(
            "bench",
            "--images needs an independent pod and a shared one (devcloud up "
            "--pods 3 --independent 1)",
        )
    if runs < 1 or requests < 1:
        raise DevcloudError("bench", "--runs and --requests must be 1 or more")
    pod, pod1 = independent[0], shared[0]
    api_process(layout)
    pids = cascade_pids(layout)
    async with (
        Rest(layout.auth_url) as admin,
        Rest(layout.auth_url, user="demo", project="demo") as user,
        Rest(layout.pod_auth_url(pod)) as pod_admin,
    ):
        clouds = Clouds(layout, user, admin, pod_admin, pod, pod1)
        try:
            await clouds.find_pod_id()
            left = await clouds.clean(networks=True)
            if left:
                say(f"deleted leftovers of an earlier run: {', '.join(left)}")
            glance = layout.url("glance")
            tiny = await user.call("glance", "GET", f"{glance}/v2/images?name=tiny")
            if not tiny["images"]:
                raise DevcloudError("glance", "no image 'tiny' (bin/devcloud up makes it)")
            image = str(tiny["images"][0]["id"])
            await clouds.networks()
            try:
                boots, boot_attempts, idle = await quietly(
                    layout, "boots in az3", lambda: measure_boots(clouds, image, runs), clouds.clean
                )
                copies, copy_attempts, idle2 = await quietly(
                    layout, "image copies", lambda: measure_copies(clouds, pids, runs), clouds.clean
                )
                reads, read_attempts, idle3 = await quietly(
                    layout,
                    "GET /servers/{id}",
                    lambda: measure_reads(clouds, image, requests),
                    clouds.clean,
                )
            finally:
                await clouds.clean(networks=True)
        finally:
            await clouds.aclose()
    hashing = await asyncio.to_thread(hashing_seconds, SIZES[0] * MIB)
    results = Results(
        when=datetime.now(UTC),
        cores=os.cpu_count() or 0,
        memory_gib=memory_gib(),
        pods=[p.name for p in pods],
        runs=runs,
        requests=requests,
        boots=boots,
        copies=copies,
        reads=reads,
        pids=pids,
        hashing=hashing,
        attempts={
            "boots": boot_attempts,
            "copies": copy_attempts,
            "reads": read_attempts,
        },
        idle_tests=sorted({i.split(" ", 1)[0] for i in [*idle, *idle2, *idle3]}),
    )
    markdown = render(results)
    DOCS.write_text(replace_block(DOCS.read_text(), markdown))
    return markdown + f"\n\n(written into {DOCS})"

"""`devcloud bench --audit`: what an audit of a pod costs, and what it costs tenants.

For each N of objects (servers) in the audited pod, side by side in one run: two stub
pods (`devcloud/stubs.py`, every answer after 20 ms, N servers each) behind a fresh
`cascade-api` on its own SQLite database, a routing for each server written straight
into it, and a `cascade-worker` beside it that runs the audit's job (as a deployment
with many pods runs its workers apart from the API; the default `[audit] page_size`).

- **audit alone**: an audit of pod 0 started through `/v1/audits` with no other load,
  its duration (the run's `finished_at - started_at`) and its findings (none expected:
  the top knows every server);
- **tenants' GETs**: `GET /servers/{id}` of pod 0's servers through Cascade at
  CONCURRENCY in flight for WINDOW seconds, p50/p95 and rate: before, while audits of
  pod 0 run back to back (each one's duration kept), and after.

The target: tenants' latency within 10% of before while an audit runs. Loopback only;
everything it starts it stops. Figures go into docs/benchmarks.md, "Audits"
(`--write`).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from devcloud import bench_scale, stubs
from devcloud.bench_cascade import DOCS, percentile
from devcloud.bench_network import replace_block

COUNTS = (1000, 10000)
PODS = 2
CONCURRENCY = 8
WINDOW = 20.0
HEADING = "## Audits (issue: operating many pods)"
BEGIN = "<!-- devcloud bench --audit: generated block, replaced by every run -->"
END = "<!-- devcloud bench --audit: end of generated block -->"


@dataclass
class Load:
    """Tenants' GETs over one window."""

    took: list[float] = field(default_factory=list)
    seconds: float = 0.0
    failed: int = 0

    @property
    def rate(self) -> float:
        return len(self.took) / self.seconds if self.seconds else 0.0


@dataclass
class Figures:
    objects: int
    alone_s: float = 0.0
    findings: int = -1
    under_load_s: list[float] = field(default_factory=list)
    before: Load = field(default_factory=Load)
    during: Load = field(default_factory=Load)
    after: Load = field(default_factory=Load)


def pod_id(index: int) -> str:
    return str(uuid.uuid5(stubs.NAMESPACE, f"pod-{index}"))


async def audit(http: httpx.AsyncClient, api: str, admin: dict[str, str]) -> tuple[float, int]:
    """One audit of pod 0 to its end: its duration (seconds) and its findings."""
    made = await http.post(f"{api}/v1/audits", json={"audit": {"pod_id": pod_id(0)}}, headers=admin)
    made.raise_for_status()
    url = f"{api}/v1/audits/{made.json()['audit']['id']}"
    while True:
        shown = (await http.get(url, headers=admin)).json()["audit"]
        if shown["status"] in ("done", "failed"):
            if shown["status"] == "failed" or shown["pods_unavailable"]:
                raise RuntimeError(f"the audit did not end well: {shown}")
            took = datetime.fromisoformat(shown["finished_at"]) - datetime.fromisoformat(
                shown["started_at"]
            )
            return took.total_seconds(), sum(shown["counts"].values())
        await asyncio.sleep(0.2)


async def load(
    http: httpx.AsyncClient, api: str, auth: dict[str, str], objects: int, seconds: float
) -> Load:
    """GETs of random servers of pod 0 through Cascade, CONCURRENCY in flight."""
    found = Load()
    rng = random.Random(objects)
    deadline = time.monotonic() + seconds
    started = time.monotonic()

    async def one_after_another() -> None:
        while time.monotonic() < deadline:
            sid = stubs.server_id("0", rng.randrange(objects))
            at = time.monotonic()
            resp = await http.get(f"{api}/compute/v2.1/servers/{sid}", headers=auth)
            if resp.status_code == 200:
                found.took.append(time.monotonic() - at)
            else:
                found.failed += 1

    await asyncio.gather(*(one_after_another() for _ in range(CONCURRENCY)))
    found.seconds = time.monotonic() - started
    return found


async def measure(objects: int, work: Path) -> Figures:
    found = Figures(objects)
    stub_port, api_port = bench_scale.free_port(), bench_scale.free_port()
    stub_url, api = f"http://127.0.0.1:{stub_port}", f"http://127.0.0.1:{api_port}"
    home = Path(tempfile.mkdtemp(prefix=f"audit-{objects}-", dir=work))
    database = f"sqlite+aiosqlite:///{home / 'cascade.sqlite'}"
    conf = bench_scale.write_conf(home, stub_port, api_port, database)
    conf.write_text(conf.read_text() + "\n[audit]\ninterval = 0\n")
    await bench_scale.prepare(conf, database, PODS, objects)
    stub_argv = [*bench_scale.STUBS, "--pods", str(PODS), "--port", str(stub_port)]
    stub_argv += ["--servers", str(objects)]
    async with (
        bench_scale.process(stub_argv, home / "stubs.log"),
        httpx.AsyncClient(timeout=600, limits=httpx.Limits(max_connections=64)) as http,
    ):
        await bench_scale.wait_for(f"{stub_url}/_stub/stats")
        async with (
            bench_scale.process(bench_scale.api_argv(conf), home / "cascade-api.log"),
            bench_scale.process(bench_scale.worker_argv(conf), home / "cascade-worker.log"),
        ):
            await bench_scale.wait_for(f"{api}/compute/v2.1/")
            auth = {"X-Auth-Token": await bench_scale.token(stub_url, "demo")}
            admin = {"X-Auth-Token": await bench_scale.token(stub_url, "admin")}
            await load(http, api, auth, objects, 3.0)  # warm: routings read, pools open
            found.alone_s, found.findings = await audit(http, api, admin)
            found.before = await load(http, api, auth, objects, WINDOW)
            stop = asyncio.Event()

            async def audits() -> None:
                while not stop.is_set():
                    took, _ = await audit(http, api, admin)
                    found.under_load_s.append(took)

            running = asyncio.create_task(audits())
            await asyncio.sleep(0.5)  # the first audit under way
            found.during = await load(http, api, auth, objects, WINDOW)
            stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                await running
            found.after = await load(http, api, auth, objects, WINDOW)
    return found


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _latency(load: Load) -> str:
    if not load.took:
        return "none answered"
    return (
        f"{ms(percentile(load.took, 50))} / {ms(percentile(load.took, 95))}, "
        f"{load.rate:.0f}/s" + (f", {load.failed} failed" if load.failed else "")
    )


def render(results: Sequence[Figures], command: str) -> str:
    head = "| | " + " | ".join(f"{r.objects:,} objects" for r in results) + " |"
    rows = [
        ("audit of the pod, nothing else running", [f"{r.alone_s:.2f} s" for r in results]),
        ("findings (none expected)", [f"{r.findings}" for r in results]),
        (
            "audits under the tenants' load (each run)",
            [", ".join(f"{s:.2f} s" for s in r.under_load_s) for r in results],
        ),
        ("tenants' GET p50 / p95, rate: before", [_latency(r.before) for r in results]),
        ("the same while audits of the pod run", [_latency(r.during) for r in results]),
        ("the same after", [_latency(r.after) for r in results]),
        (
            "p50 / p95 while audited, against before",
            [
                f"{percentile(r.during.took, 50) / percentile(r.before.took, 50):.2f} x / "
                f"{percentile(r.during.took, 95) / percentile(r.before.took, 95):.2f} x"
                for r in results
            ],
        ),
    ]
    lines = [head, "|---|" + "---|" * len(results)]
    lines += [f"| {name} | " + " | ".join(cells) + " |" for name, cells in rows]
    lines += [
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `{command}`: {PODS} stub pods "
        f"(20 ms an answer) with N servers each, pod 0 audited; tenants' GETs "
        f"`/servers/{{id}}` of pod 0's servers, {CONCURRENCY} in flight, {WINDOW:.0f} s a "
        "window; cascade-api, cascade-worker (which runs the audits), the stubs and the "
        "benchmark share the machine's cores.",
    ]
    return "\n".join(lines)


async def run(counts: Sequence[int], write: bool) -> str:
    bench_scale.raise_open_files()
    work = Path(tempfile.gettempdir()) / "cascade-bench-audit"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    results = []
    for objects in counts:
        print(f"bench --audit: {objects} objects", file=sys.stderr, flush=True)
        results.append(await measure(objects, work))
        print(render(results, "partial"), file=sys.stderr, flush=True)
    shutil.rmtree(work, ignore_errors=True)
    command = "bin/devcloud bench --audit --objects " + ",".join(str(c) for c in counts)
    block = render(results, command)
    if write:
        DOCS.write_text(replace_block(DOCS.read_text(), HEADING, block, BEGIN, END))
    return block

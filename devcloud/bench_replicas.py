"""`devcloud bench --scale`'s last part: proxied GETs a second, with replicas, and one
project over its rate limit beside another.

With `PODS` stub pods (`devcloud/stubs.py`, 20 ms an answer) and ApacheBench (`ab`, in
C: a Python client would spend the cores the replicas are measured on) keeping
`CONCURRENCY` GETs of one server in flight for `SECONDS`:

- straight to the stub pod, through one cascade-api, and through two behind HAProxy
  (Debian's package, round-robin): GETs a second and failed ones;
- rate limits (`[api] project_reads_per_second` = `RATE`): the demo project's GET
  `/servers/{id}` p50 alone, and while another project floods the top with lists
  past its limit (answered 429).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from devcloud import bench_scale, haproxy, stubs
from devcloud.bench_cascade import DOCS
from devcloud.bench_network import replace_block
from devcloud.errors import DevcloudError

PODS = 100
CONCURRENCY = 64
SECONDS = 10
RATE = 100.0
AB = shutil.which("ab") or "/usr/bin/ab"  # apache2-utils: `bin/devcloud up` installs it


@dataclass
class Load:
    per_second: float
    failed: int  # no answer, or not a 2xx
    total: int
    non_2xx: int  # the flood's: its project's lists past the limit, answered 429


@dataclass
class Replicas:
    direct: Load
    one: Load
    two: Load
    alone_ms: float
    beside_flood_ms: float
    flood: Load
    flood_refused: int


async def ab(url: str, token: str, seconds: int = SECONDS, concurrency: int = CONCURRENCY) -> Load:
    """`ab -k` on `url` for `seconds`: requests a second, failed ones (non-2xx counted)."""
    proc = await asyncio.create_subprocess_exec(
        AB, "-k", "-q", "-c", str(concurrency), "-t", str(seconds), "-n", "10000000",
        "-H", f"X-Auth-Token: {token}", url,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    out = (await proc.communicate())[0].decode()

    def number(label: str) -> float:
        found = re.search(rf"^{label}:\s+([\d.]+)", out, re.MULTILINE)
        return float(found.group(1)) if found else 0.0

    # ab's "Failed requests" also counts answers whose length differs from the first's
    broken = sum(int(n) for n in re.findall(r"(?:Connect|Receive|Exceptions): (\d+)", out))
    non_2xx = int(number("Non-2xx responses"))
    total = int(number("Complete requests"))
    return Load(number("Requests per second"), broken + non_2xx, total, non_2xx)


async def timed_gets(url: str, token: str, count: int = 100) -> float:
    """p50 of `count` GETs of `url` one after another, in ms."""
    took = []
    async with httpx.AsyncClient(headers={"X-Auth-Token": token}, timeout=60) as http:
        for _ in range(count):
            started = time.monotonic()
            resp = await http.get(url)
            took.append(time.monotonic() - started)
            if resp.status_code != 200:
                raise RuntimeError(f"GET {url}: {resp.status_code} {resp.text[:200]}")
    return statistics.median(took) * 1000


@contextlib.asynccontextmanager
async def serving(conf: Path, port: int) -> AsyncIterator[str]:
    """cascade-api with `conf` until the block ends, once it answers: its compute URL."""
    async with bench_scale.process(bench_scale.api_argv(conf), conf.parent / "api.log"):
        url = f"http://127.0.0.1:{port}/compute/v2.1"
        await bench_scale.wait_for(f"{url}/")
        yield url


async def measure(work: Path) -> Replicas:
    stub_port = bench_scale.free_port()
    stub_url = f"http://127.0.0.1:{stub_port}"
    home = work / "replicas"
    home.mkdir()
    database = f"sqlite+aiosqlite:///{home / 'cascade.sqlite'}"
    ports = [bench_scale.free_port() for _ in range(3)]
    # two replicas without limits, and one whose projects may read RATE a second
    confs = [
        bench_scale.write_conf(home / f"api{n}", stub_port, port, database, rate=rate)
        for n, (port, rate) in enumerate(zip(ports, (0.0, 0.0, RATE), strict=True), 1)
    ]
    await bench_scale.prepare(confs[0], database, PODS)
    stub_argv = [*bench_scale.STUBS, "--pods", str(PODS), "--port", str(stub_port)]
    sid = stubs.server_id("0", 0)
    front, admin = bench_scale.free_port(), home / "haproxy.sock"
    (home / "haproxy.cfg").write_text(haproxy.config(front, ports[:2], admin))
    async with bench_scale.process(stub_argv, home / "stubs.log"):
        await bench_scale.wait_for(f"{stub_url}/_stub/stats")
        token = await bench_scale.token(stub_url, "demo")
        flooder = await bench_scale.token(stub_url, "flooder")
        direct = await ab(f"{stub_url}/pod/0/compute/v2.1/servers/{sid}", token)
        async with serving(confs[0], ports[0]) as one_url:
            show = f"{one_url}/servers/{sid}"
            await timed_gets(show, token, 20)  # warm
            one = await ab(show, token)
            async with (
                serving(confs[1], ports[1]),
                bench_scale.process(
                    [haproxy.BINARY, "-db", "-f", str(home / "haproxy.cfg")], home / "haproxy.log"
                ),
            ):
                for name in ("api1", "api2"):
                    await haproxy.wait_state(admin, name, "UP")
                two = await ab(f"http://127.0.0.1:{front}/compute/v2.1/servers/{sid}", token)
        async with serving(confs[2], ports[2]) as limited:
            show = f"{limited}/servers/{sid}"
            await timed_gets(show, token, 20)  # warm
            alone = await timed_gets(show, token)
            flooding = asyncio.create_task(ab(f"{limited}/servers/detail", flooder))
            await asyncio.sleep(1)
            beside = await timed_gets(show, token)
            flood = await flooding
    return Replicas(direct, one, two, alone, beside, flood, flood.non_2xx)


def render(r: Replicas) -> str:
    def load(x: Load) -> str:
        return f"{x.per_second:,.0f}/s ({x.failed} failed of {x.total:,})"

    return "\n".join(
        [
            f"Proxied GET `/servers/{{id}}` under load ({PODS} stub pods, `ab -k -c "
            f"{CONCURRENCY}` for {SECONDS} s): straight to the stub pod {load(r.direct)}; "
            f"through one cascade-api {load(r.one)}; through two behind HAProxy "
            f"{load(r.two)}.",
            "",
            f"Rate limits (`[api] project_reads_per_second = {RATE:g}`): the demo project's "
            f"GET `/servers/{{id}}` p50 {r.alone_ms:.1f} ms alone, {r.beside_flood_ms:.1f} ms "
            f"while another project floods the top with lists ({r.flood.total:,} requests "
            f"in {SECONDS} s, {r.flood_refused:,} of them answered 429).",
        ]
    )


BEGIN = "<!-- devcloud bench --scale (replicas): generated block, replaced by every run -->"
END = "<!-- devcloud bench --scale (replicas): end of generated block -->"


async def run() -> str:
    """The figures above, written into docs/benchmarks.md's "Many pods" section."""
    for needed in (AB, haproxy.BINARY):
        if not Path(needed).exists():
            raise DevcloudError("bench", f"{needed} is missing: `bin/devcloud up` installs it")
    bench_scale.raise_open_files()
    work = Path(tempfile.mkdtemp(prefix="cascade-bench-replicas-"))
    block = render(await measure(work))
    shutil.rmtree(work, ignore_errors=True)
    DOCS.write_text(replace_block(DOCS.read_text(), bench_scale.HEADING, block, BEGIN, END))
    return block

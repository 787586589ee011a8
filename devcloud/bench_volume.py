"""`devcloud bench --volume`: what Cascade's Block Storage costs, measured in one run.

- volume create to `available` (1 GB, az1 = pod1) through Cascade and straight
  to pod1's Cinder, the two paths alternated run by run (each goes first
  equally often) after one untimed warm-up create each; the POST /volumes
  call alone is kept too. Volumes are polled every `STATUS_POLL` s; each is
  deleted, and gone, before the next run (not timed);
- GET /volumes/detail?limit=1000 over `count` volumes spread evenly over the
  pods (created through Cascade, `IN_FLIGHT` at a time): through Cascade,
  straight to the pod holding the larger half alone, and as an openstacksdk
  style client loop (every pod's list fetched one after the other, merged and
  sorted client-side as Cinder sorts: created_at, then id, newest first); the
  paths alternated run by run after one warm-up each.

Everything runs as the devcloud's `demo` user, one token for every path,
microversion `MICROVERSION` on every call. For the list part the demo
project's volume quotas (`volumes`, `gigabytes`) are raised to unlimited by
the admin in every pod and at the top, and restored at the end (the pods set
back to the values read before, the top's project limits deleted). Names
start with `bench-vol-`; leftovers of an interrupted run are deleted first.
The measurements wait until no tempest or pytest run is active (as
`bench --network` does) and a part is measured again when cascade-api was
restarted or test processes used CPU meanwhile. Progress goes to stderr; the
figures are printed as Markdown and written into the Block Storage section of
docs/benchmarks.md, between the generated-block markers.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from devcloud import docblock
from devcloud.bench_cascade import (
    api_process,
    memory_gib,
    percentile,
    rotations,
    share,
    top_az,
)
from devcloud.bench_network import quietly
from devcloud.errors import DevcloudError
from devcloud.layout import TOP_REGION, Layout, Pod
from devcloud.rest import Rest

USER = PROJECT = "demo"
PREFIX = "bench-vol-"
MICROVERSION = "3.60"
HEADERS = {"OpenStack-API-Version": f"volume {MICROVERSION}"}
SIZE = 1  # GB
RUNS = 50  # creates per path
COUNT = 300  # volumes for the list, spread over the pods
LISTS = 20  # lists per path
LIMIT = 1000
IN_FLIGHT = 10  # creates and deletes at once when making or removing the list's volumes
STATUS_POLL = 0.1  # seconds between two looks at a timed create
BULK_POLL = 0.5  # the same for the list's volumes (not timed)
GONE_POLL = 0.25  # seconds between two looks at a deleted volume
WAIT = 300.0
QUOTAS = ("volumes", "gigabytes")
UNLIMITED = -1
CASCADE = "through Cascade"
DIRECT = "straight to the pod's Cinder"
SDK = "openstacksdk-style loop, pods one after the other, merged"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADING = "## Block Storage"
BEGIN = "<!-- devcloud bench --volume: generated block, replaced by every run -->"
END = "<!-- devcloud bench --volume: end of generated block -->"
METHOD = (
    "What is measured, all in one run of `bin/devcloud bench --volume`\n"
    "(`devcloud/bench_volume.py`), as the `demo` user with one token for every\n"
    "path, microversion 3.60: (1) volume create (1 GB) to `available` in az1\n"
    "(pod1) through Cascade and straight to pod1's Cinder, the two paths\n"
    "alternated run by run, each volume deleted before the next run; (2) GET\n"
    "`/volumes/detail?limit=1000` over volumes spread evenly over the pods,\n"
    "through Cascade, straight to the pod holding the larger half alone, and as\n"
    "an openstacksdk-style client loop that fetches every pod's list one after\n"
    "the other and merges them (created_at, then id, newest first), the paths\n"
    "alternated run by run. For (2) the demo project's volume quotas are raised\n"
    "by the admin in every pod and at the top, and restored afterwards."
)

T = TypeVar("T")


def say(message: str) -> None:
    """A progress line on stderr (stdout carries the Markdown)."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


# -- pure logic ----------------------------------------------------------------------


@dataclass(frozen=True)
class Stats:
    """Timings of one path, in seconds."""

    n: int
    p50: float
    p90: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Stats:
        return cls(
            n=len(values),
            p50=percentile(values, 50),
            p90=percentile(values, 90),
            high=max(values),
        )


@dataclass(frozen=True)
class Create:
    """One volume create: the POST alone and create to `available`, in seconds."""

    post: float
    available: float


def ratio(measured: float, baseline: float) -> float:
    if baseline <= 0:
        raise ValueError(f"a baseline of {baseline}")
    return measured / baseline


def merge(*lists: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Every pod's volumes in one list, as Cinder orders its own: created_at, then id,
    newest first (what a client looping over the pods has to do itself)."""
    volumes = [v for found in lists for v in found]
    return sorted(
        volumes, key=lambda v: (str(v.get("created_at") or ""), str(v.get("id"))), reverse=True
    )


def spread(count: int, azs: Sequence[str]) -> list[tuple[str, str]]:
    """`count` volumes as (name, top AZ), spread evenly over `azs` (the first get more),
    one AZ after the other in turn."""
    per_az = dict(zip(azs, share(count, len(azs)), strict=True))
    out = []
    for n in range(max(per_az.values(), default=0)):
        out += [(f"{PREFIX}list-{az}-{n:04d}", az) for az in azs if n < per_az[az]]
    return out


def larger_half(per_pod: Mapping[str, int]) -> str:
    """The pod holding the most volumes (the first of equals): the slower one to list."""
    if not per_pod:
        raise ValueError("no pods")
    return max(per_pod, key=lambda p: per_pod[p])  # max keeps the first of equals


def alone(pod: str) -> str:
    return f"{pod} alone (the larger half, straight)"


def batches(items: Sequence[T], size: int) -> list[list[T]]:
    if size < 1:
        raise ValueError(f"batches of {size}")
    return [list(items[n : n + size]) for n in range(0, len(items), size)]


def next_link(found: Mapping[str, Any], key: str = "volumes_links") -> str | None:
    """The `next` link of a Cinder list page, if any."""
    for link in found.get(key) or []:
        if link.get("rel") == "next":
            return str(link["href"])
    return None


def secs(seconds: float) -> str:
    return f"{seconds:.2f} s"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


@dataclass(frozen=True)
class Results:
    when: datetime
    cores: int
    memory_gib: float
    pods: list[str]
    runs: int
    count: int
    creates: dict[str, list[Create]]  # CASCADE, DIRECT -> the runs, in the order measured
    per_pod: dict[str, int]  # pod -> the list's volumes in it
    lists: dict[str, list[float]]  # CASCADE, alone(pod), SDK -> seconds per list
    listed: dict[str, int]  # path -> volumes in its answer
    attempts: dict[str, int] = field(default_factory=dict)  # part -> attempts it took
    idle_tests: list[str] = field(default_factory=list)  # pids of idle test processes seen
    notes: list[str] = field(default_factory=list)


def command(runs: int, count: int) -> str:
    return f"bin/devcloud bench --volume --runs {runs} --count {count}"


def render(r: Results) -> str:
    """The figures as Markdown: one table per measurement, notes last."""
    pod = r.pods[0] if r.pods else "pod1"
    out = docblock.preamble(
        command(r.runs, r.count),
        "devcloud/bench_volume.py",
        r.when,
        r.cores,
        r.memory_gib,
        len(r.pods),
        r.idle_tests,
        r.attempts,
    )
    out[-1] += (
        f". As the member user `{USER}` (one token for every path), microversion "
        f"{MICROVERSION}, one request at a time."
    )
    if r.creates:
        out += [
            "",
            f"Volume create ({SIZE} GB) to `available` in az1 ({pod}), the paths alternated "
            "run by run after one untimed warm-up create each, every volume deleted (and "
            f"gone) before the next run; polled every {STATUS_POLL:g} s:",
            "",
            "| path | n | create → available p50 | p90 | max | POST `/volumes` alone p50 |",
            "|---|---|---|---|---|---|",
        ]
        for path, creates in r.creates.items():
            s = Stats.of([c.available for c in creates])
            post = percentile([c.post for c in creates], 50)
            name = path.replace("the pod's", f"{pod}'s")
            out.append(
                f"| {name} | {s.n} | **{secs(s.p50)}** | {secs(s.p90)} | {secs(s.high)} "
                f"| {ms(post)} |"
            )
        if CASCADE in r.creates and DIRECT in r.creates:
            top = percentile([c.available for c in r.creates[CASCADE]], 50)
            direct = percentile([c.available for c in r.creates[DIRECT]], 50)
            out += [
                "",
                f"Create → available p50, Cascade / straight: **{ratio(top, direct):.2f} x** "
                f"({'+' if top >= direct else '-'}{ms(abs(top - direct))}).",
            ]
    if r.lists:
        spread_text = ", ".join(f"{n} in {p}" for p, n in r.per_pod.items())
        out += [
            "",
            f"GET `/volumes/detail?limit={LIMIT}` over {r.count} volumes ({spread_text}), "
            "the paths alternated run by run after one warm-up each (the loop's time "
            "includes its merge):",
            "",
            "| path | volumes listed | n | p50 | p90 |",
            "|---|---|---|---|---|",
        ]
        for path, values in r.lists.items():
            s = Stats.of(values)
            out.append(
                f"| {path} | {r.listed.get(path, '?')} | {s.n} | **{ms(s.p50)}** | {ms(s.p90)} |"
            )
        single = next((p for p in r.lists if p.endswith("(the larger half, straight)")), None)
        if CASCADE in r.lists and single is not None:
            top = percentile(r.lists[CASCADE], 50)
            slower = percentile(r.lists[single], 50)
            line = (
                f"List p50, Cascade / {single.split(' ', 1)[0]} alone: "
                f"**{ratio(top, slower):.2f} x**"
            )
            if SDK in r.lists:
                loop = percentile(r.lists[SDK], 50)
                line += f"; Cascade / the client loop: **{ratio(top, loop):.2f} x**"
            out += ["", line + "."]
    if r.notes:
        out += ["", *(f"- {note}" for note in r.notes)]
    return "\n".join(out)


def replace_block(doc: str, block: str, heading: str = HEADING, method: str = METHOD) -> str:
    """`doc` with the generated block of the section under `heading` set to `block`; the
    section's hand-written text stays (see `devcloud.docblock`). A missing section is
    appended with `method` above the block."""
    if any(line.rstrip() == heading for line in doc.splitlines()):
        return docblock.replace_block(doc, heading, block, BEGIN, END, keep_text=True)
    return doc.rstrip() + f"\n\n{heading}\n\n{method.strip()}\n\n{BEGIN}\n{block.strip()}\n{END}\n"


# -- the clouds ----------------------------------------------------------------------


class Clouds:
    """The calls the benchmark makes: the top and the pods' Cinder as `demo`, quotas as
    the admin."""

    def __init__(self, user: Rest, admin: Rest, pods: list[Pod]) -> None:
        self.user = user
        self.admin = admin
        self.pods = pods
        self.top = user.endpoint("volumev3", TOP_REGION)
        self.pod = {p.name: user.endpoint("volumev3", p.region) for p in pods}
        self.admin_top = admin.endpoint("volumev3", TOP_REGION)
        self.admin_pod = {p.name: admin.endpoint("volumev3", p.region) for p in pods}

    def cinder(self, where: str) -> tuple[str, str]:
        """(service name for errors, volume endpoint) of "top" or a pod's name."""
        return ("cascade", self.top) if where == "top" else ("cinder", self.pod[where])

    async def call(self, where: str, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        service, base = self.cinder(where)
        return await self.user.call(service, method, f"{base}{path}", body, headers=HEADERS, **kw)

    # -- volumes
    async def create(
        self, where: str, name: str, az: str, poll: float = STATUS_POLL
    ) -> tuple[str, Create]:
        """Create a volume and wait until it is available; its id and the timings."""
        body = {"volume": {"size": SIZE, "name": name, "availability_zone": az}}
        started = time.perf_counter()
        made = await self.call(where, "POST", "/volumes", body)
        posted = time.perf_counter()
        volume_id = str(made["volume"]["id"])
        deadline = posted + WAIT
        while True:
            found = await self.call(where, "GET", f"/volumes/{volume_id}")
            status = found["volume"]["status"]
            if status == "available":
                break
            if status.startswith("error"):
                raise DevcloudError(
                    self.cinder(where)[0], f"volume {volume_id} ({where}) went to {status}"
                )
            if time.perf_counter() > deadline:
                raise DevcloudError(
                    self.cinder(where)[0], f"volume {volume_id}: not available in {WAIT:.0f} s"
                )
            await asyncio.sleep(poll)
        return volume_id, Create(posted - started, time.perf_counter() - started)

    async def status(self, where: str, volume_id: str) -> str | None:
        """The volume's status there, None once it is gone."""
        found = await self.call(where, "GET", f"/volumes/{volume_id}", ok=(200, 404))
        if not isinstance(found, dict) or "volume" not in found:
            return None
        return str(found["volume"]["status"])

    async def delete(self, where: str, volume_id: str) -> None:
        """Delete a volume there and wait until it is gone (from the top too)."""
        await self.call(where, "DELETE", f"/volumes/{volume_id}", ok=(202, 404))
        await self.until_gone(where, volume_id)

    async def until_gone(self, where: str, volume_id: str) -> None:
        places = [where] if where == "top" else [where, "top"]
        deadline = time.monotonic() + WAIT
        for place in places:  # a 404 at the top also drops Cascade's routing
            while await self.status(place, volume_id) is not None:
                if time.monotonic() > deadline:
                    raise DevcloudError("bench", f"volume {volume_id} not gone in {WAIT:.0f} s")
                await asyncio.sleep(GONE_POLL)

    async def volumes(self, where: str) -> list[dict[str, Any]]:
        """Every volume of the project there, page after page."""
        service, base = self.cinder(where)
        url: str | None = f"{base}/volumes/detail?limit={LIMIT}"
        out: list[dict[str, Any]] = []
        while url is not None:
            found = await self.user.call(service, "GET", url, headers=HEADERS)
            out += found["volumes"]
            url = next_link(found)
        return out

    async def listing(self, where: str) -> list[dict[str, Any]]:
        """One GET /volumes/detail?limit=LIMIT (the timed call)."""
        found = await self.call(where, "GET", f"/volumes/detail?limit={LIMIT}")
        return list(found["volumes"])

    async def client_loop(self) -> list[Mapping[str, Any]]:
        """What a client looping over the pods does: each pod's list, then the merge."""
        lists = [await self.listing(p.name) for p in self.pods]
        return merge(*lists)

    async def remove(self, pod: str, volume: Mapping[str, Any]) -> None:
        """Delete a leftover volume of `pod` through Cascade (straight when Cascade does
        not know it) and wait until it is gone."""
        volume_id = str(volume["id"])
        status = str(volume.get("status"))
        deadline = time.monotonic() + WAIT
        while status in ("creating", "downloading", "attaching", "detaching"):
            if time.monotonic() > deadline:
                raise DevcloudError("bench", f"volume {volume_id} stays {status} in {pod}")
            await asyncio.sleep(BULK_POLL)
            status = await self.status(pod, volume_id) or "gone"
        if status not in ("deleting", "gone"):
            top = await self.call("top", "DELETE", f"/volumes/{volume_id}", ok=(202, 404))
            if top is not None and "itemNotFound" in top:
                await self.call(pod, "DELETE", f"/volumes/{volume_id}", ok=(202, 404))
        await self.until_gone(pod, volume_id)

    async def clean(self) -> list[str]:
        """Delete every `bench-vol-` volume of the project in the pods; what was deleted."""
        gone = []
        for pod in self.pods:
            found = [v for v in await self.volumes(pod.name) if is_bench(v)]
            for batch in batches(found, IN_FLIGHT):
                await asyncio.gather(*(self.remove(pod.name, v) for v in batch))
                gone += [f"{v['id']} ({pod.name})" for v in batch]
        return gone

    # -- quotas (admin)
    def quota_url(self, where: str) -> tuple[str, str]:
        base = self.admin_top if where == "top" else self.admin_pod[where]
        service = "cascade" if where == "top" else "cinder"
        return service, f"{base}/os-quota-sets/{self.user.project_id}"

    async def quotas(self, where: str) -> dict[str, int]:
        service, url = self.quota_url(where)
        found = await self.admin.call(service, "GET", url, headers=HEADERS)
        return {k: int(found["quota_set"][k]) for k in QUOTAS}

    async def set_quotas(self, where: str, values: Mapping[str, int]) -> None:
        service, url = self.quota_url(where)
        await self.admin.call(service, "PUT", url, {"quota_set": dict(values)}, headers=HEADERS)

    async def reset_top_quotas(self) -> None:
        service, url = self.quota_url("top")
        await self.admin.call(service, "DELETE", url, ok=(200, 202, 204), headers=HEADERS)


def is_bench(volume: Mapping[str, Any]) -> bool:
    return str(volume.get("name") or "").startswith(PREFIX)


# -- measurements --------------------------------------------------------------------


async def measure_creates(clouds: Clouds, pod: Pod, runs: int) -> dict[str, list[Create]]:
    """Part 1: create to available through Cascade and straight, alternated run by run."""
    where = {CASCADE: "top", DIRECT: pod.name}
    az = {CASCADE: top_az(pod), DIRECT: pod.az}
    out: dict[str, list[Create]] = {CASCADE: [], DIRECT: []}
    try:
        for path in out:  # warm-up: the first create through Cascade copies the type, ...
            volume_id, _ = await clouds.create(where[path], f"{PREFIX}warm-up", az[path])
            await clouds.delete(where[path], volume_id)
        for n, order in enumerate(rotations(list(out), runs)):
            for path in order:
                say(f"create {n + 1}/{runs}: {path} ...")
                volume_id, took = await clouds.create(where[path], f"{PREFIX}{n}", az[path])
                out[path].append(took)
                await clouds.delete(where[path], volume_id)
    finally:
        await clouds.clean()
    return out


async def make_volumes(clouds: Clouds, count: int) -> dict[str, int]:
    """The list's volumes, created through Cascade `IN_FLIGHT` at a time, one pod's AZ
    after the other; how many each pod holds."""
    azs = {top_az(p): p.name for p in clouds.pods}
    wanted = spread(count, list(azs))
    made = 0
    for batch in batches(wanted, IN_FLIGHT):
        done = await asyncio.gather(
            *(clouds.create("top", name, az, poll=BULK_POLL) for name, az in batch),
            return_exceptions=True,  # every create of the batch over before cleaning up
        )
        for outcome in done:
            if isinstance(outcome, BaseException):
                raise outcome
        made += len(batch)
        say(f"{made}/{count} volumes available")
    per_pod = dict.fromkeys(azs.values(), 0)
    for _, az in wanted:
        per_pod[azs[az]] += 1
    return per_pod


@dataclass
class ListResults:
    lists: dict[str, list[float]]
    listed: dict[str, int]
    notes: list[str]


async def measure_lists(clouds: Clouds, per_pod: Mapping[str, int], rounds: int) -> ListResults:
    """Part 2: the three list paths alternated run by run after one warm-up each."""
    single = larger_half(per_pod)
    fetch: dict[str, Callable[[], Awaitable[Sequence[Mapping[str, Any]]]]] = {
        CASCADE: lambda: clouds.listing("top"),
        alone(single): lambda: clouds.listing(single),
        SDK: clouds.client_loop,
    }
    listed: dict[str, int] = {}
    answers: dict[str, list[str]] = {}
    for path, get in fetch.items():
        found = await get()
        listed[path] = len(found)
        answers[path] = [str(v["id"]) for v in found]
    notes = []
    if answers[CASCADE] == answers[SDK]:
        notes.append(
            "Cascade's list and the client loop's merge hold the same volumes in the same order."
        )
    else:
        notes.append("Cascade's list and the client loop's merge differ (volumes or order).")
    lists: dict[str, list[float]] = {p: [] for p in fetch}
    for n, order in enumerate(rotations(list(fetch), rounds)):
        say(f"lists {n + 1}/{rounds} ...")
        for path in order:
            started = time.perf_counter()
            await fetch[path]()
            lists[path].append(time.perf_counter() - started)
    return ListResults(lists, listed, notes)


async def list_part(
    layout: Layout, clouds: Clouds, count: int
) -> tuple[dict[str, int], ListResults, int, list[str]]:
    """Part 2 with its set-up: quotas raised, volumes made; everything undone at the end
    (also on error)."""
    places = [p.name for p in clouds.pods] + ["top"]
    saved = {where: await clouds.quotas(where) for where in places}
    say("quotas before: " + ", ".join(f"{w} {v}" for w, v in saved.items()))
    try:
        for where in places:
            await clouds.set_quotas(where, dict.fromkeys(QUOTAS, UNLIMITED))
        try:
            per_pod = await make_volumes(clouds, count)
            results, attempts, idle = await quietly(
                layout,
                "volume lists",
                lambda: measure_lists(clouds, per_pod, LISTS),
                lambda: clouds.listing("top"),
            )
        finally:
            say("deleting the list's volumes ...")
            await clouds.clean()
    finally:
        await restore_quotas(clouds, saved)
    return per_pod, results, attempts, idle


async def restore_quotas(clouds: Clouds, saved: Mapping[str, Mapping[str, int]]) -> None:
    """The pods back to the values read before, the top back on its defaults (or, if it
    had its own limits, to those)."""
    for pod in clouds.pods:
        await clouds.set_quotas(pod.name, saved[pod.name])
    await clouds.reset_top_quotas()
    if await clouds.quotas("top") != saved["top"]:
        await clouds.set_quotas("top", saved["top"])
    say("quotas restored")


async def run(layout: Layout, pods: list[Pod], runs: int = RUNS, count: int = COUNT) -> str:
    """Clean up leftovers, measure both parts, write docs/benchmarks.md; the Markdown."""
    if len(pods) < 2:
        raise DevcloudError("bench", "--volume needs two pods or more (bin/devcloud up --pods 2)")
    if runs < 1:
        raise DevcloudError("bench", "--runs must be 1 or more")
    if count < len(pods):
        raise DevcloudError("bench", f"--count must be {len(pods)} or more (a volume per pod)")
    api_process(layout)
    async with (
        Rest(layout.auth_url) as admin,
        Rest(layout.auth_url, user=USER, project=PROJECT) as user,
    ):
        clouds = Clouds(user, admin, pods)
        left = await clouds.clean()
        if left:
            say(f"deleted leftovers of an earlier run: {', '.join(left)}")
        creates, create_attempts, idle = await quietly(
            layout, "volume creates", lambda: measure_creates(clouds, pods[0], runs), clouds.clean
        )
        per_pod, lists, list_attempts, idle2 = await list_part(layout, clouds, count)
    results = Results(
        when=datetime.now(UTC),
        cores=os.cpu_count() or 0,
        memory_gib=memory_gib(),
        pods=[p.name for p in pods],
        runs=runs,
        count=count,
        creates=creates,
        per_pod=per_pod,
        lists=lists.lists,
        listed=lists.listed,
        attempts={"volume creates": create_attempts, "volume lists": list_attempts},
        idle_tests=sorted({i.split(" ", 1)[0] for i in [*idle, *idle2]}),
        notes=lists.notes,
    )
    markdown = render(results)
    DOCS.write_text(replace_block(DOCS.read_text(), markdown))
    return markdown + f"\n\n(written into {DOCS})"

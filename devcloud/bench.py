"""`devcloud bench`: the devcloud's figures, printed as a Markdown table.

- memory: RSS (and PSS) of every process of each pod, of the shared services
  and of the infrastructure, children included;
- per pod: servers booted on the pod's `private` network to ACTIVE, volumes
  created to `available`, a volume attached to a server (`in-use`) and
  detached, each timed from the API call that starts it;
- the phase timings of the last `up` from nothing running, and of the last `up`
  (log/up-history.jsonl).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devcloud.cloud import supervisor
from devcloud.layout import Layout, Pod
from devcloud.rest import Rest
from devcloud.seed import FLAVORS, IMAGE_NAME

POLL = 0.1


@dataclass(frozen=True)
class Memory:
    group: str
    processes: int
    rss_mib: float
    pss_mib: float


def _kib(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def _group_members(pgid: int) -> list[int]:
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[2]) == pgid:  # field 5 of stat: the process group
            members.append(int(stat.parent.name))
    return members


def memory(layout: Layout) -> list[Memory]:
    """RSS/PSS per pod, for the shared services and for the infrastructure."""
    sums: dict[str, list[float]] = {}
    sup = supervisor(layout)
    for record in sup.records():
        if not sup.alive(record):
            continue
        group = record.name.split("-")[0] if record.tier == "pod" else record.tier
        for pid in _group_members(record.pid):
            rss = _kib(Path(f"/proc/{pid}/status"), "VmRSS:")
            pss = _kib(Path(f"/proc/{pid}/smaps_rollup"), "Pss:")
            acc = sums.setdefault(group, [0, 0.0, 0.0])
            acc[0] += 1
            acc[1] += rss / 1024
            acc[2] += pss / 1024
    return [Memory(g, int(v[0]), round(v[1]), round(v[2])) for g, v in sorted(sums.items())]


async def _until(what: str, check: Any, timeout: float = 120.0) -> float:
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > timeout:
            raise TimeoutError(what)
        await asyncio.sleep(POLL)
    return time.monotonic() - started


class PodBench:
    def __init__(self, rest: Rest, pod: Pod, image: str) -> None:
        self.rest = rest
        self.pod = pod
        self.image = image
        self.nova = rest.endpoint("compute", pod.region)
        self.cinder = rest.endpoint("volumev3", pod.region)
        self.neutron = rest.endpoint("network", pod.region)

    async def _status(self, url: str, key: str) -> str:
        return str((await self.rest.call("bench", "GET", url))[key]["status"]).lower()

    async def boot(self, network: str) -> tuple[str, float]:
        flavor = next(fid for fid, name, *_ in FLAVORS if name == "m1.tiny")
        body = {
            "server": {
                "name": f"bench-{uuid.uuid4().hex[:8]}",
                "imageRef": self.image,
                "flavorRef": flavor,
                "networks": [{"uuid": network}],
            }
        }
        started = time.monotonic()
        made = await self.rest.call("nova", "POST", f"{self.nova}/servers", body)
        url = f"{self.nova}/servers/{made['server']['id']}"

        async def active() -> bool:
            status = await self._status(url, "server")
            if status == "error":
                raise RuntimeError(f"server {url} went to ERROR")
            return status == "active"

        await _until("server ACTIVE", active)
        return made["server"]["id"], time.monotonic() - started

    async def volume(self) -> tuple[str, float]:
        body = {"volume": {"size": 1, "name": f"bench-{uuid.uuid4().hex[:8]}"}}
        started = time.monotonic()
        made = await self.rest.call("cinder", "POST", f"{self.cinder}/volumes", body)
        vid = made["volume"]["id"]
        await _until("volume available", self._is(vid, "available"))
        return vid, time.monotonic() - started

    def _is(self, vid: str, want: str) -> Any:
        async def check() -> bool:
            status = await self._status(f"{self.cinder}/volumes/{vid}", "volume")
            if status.startswith("error"):
                raise RuntimeError(f"volume {vid} went to {status}")
            return status == want

        return check

    async def attach_detach(self, server: str, vid: str) -> tuple[float, float]:
        started = time.monotonic()
        await self.rest.call(
            "nova",
            "POST",
            f"{self.nova}/servers/{server}/os-volume_attachments",
            {"volumeAttachment": {"volumeId": vid}},
        )
        await _until("volume in-use", self._is(vid, "in-use"))
        attach = time.monotonic() - started
        started = time.monotonic()
        await self.rest.call(
            "nova", "DELETE", f"{self.nova}/servers/{server}/os-volume_attachments/{vid}"
        )
        await _until("volume detached", self._is(vid, "available"))
        return attach, time.monotonic() - started

    async def cleanup(self, servers: list[str], volumes: list[str]) -> None:
        for sid in servers:
            await self.rest.call("nova", "DELETE", f"{self.nova}/servers/{sid}", ok=(204, 404))
        for vid in volumes:
            await self.rest.call("cinder", "DELETE", f"{self.cinder}/volumes/{vid}", ok=(202, 404))


def up_history(layout: Layout) -> list[str]:
    """The last `up` that started the whole devcloud, and the last one at all."""
    path = layout.log / "up-history.jsonl"
    if not path.exists():
        return ["no `up` recorded yet"]
    entries = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    out = []
    cold = [e for e in entries if e["started"] >= e["processes"]]
    for label, entry in (
        ("from nothing running", cold[-1] if cold else None),
        ("last `up`", entries[-1]),
    ):
        if entry is None:
            continue
        phases = entry["phases"]
        out.append(
            f"{label} ({entry['when']}, {entry['pods']} pods, {entry['started']} processes "
            f"started): ready after {phases.get('devcloud ready', '?')} s; "
            + ", ".join(f"{k} {v} s" for k, v in phases.items())
        )
    return out


def _stats(values: list[float]) -> str:
    return (
        f"first {values[0]:.2f} s, median {statistics.median(values):.2f} s, "
        f"max {max(values):.2f} s (n={len(values)})"
    )


async def run_bench(layout: Layout, pods: list[Pod], count: int) -> str:
    lines = ["| figure | " + " | ".join(p.name for p in pods) + " |", "|---|" + "---|" * len(pods)]
    rows: dict[str, list[str]] = {}
    async with Rest(layout.auth_url, user="demo", project="demo") as rest:
        glance = layout.url("glance")
        images = await rest.call("glance", "GET", f"{glance}/v2/images?name={IMAGE_NAME}")
        image = images["images"][0]["id"]
        for pod in pods:  # one pod at a time: two cores, timings must not disturb each other
            bench = PodBench(rest, pod, image)
            nets = await rest.call("neutron", "GET", f"{bench.neutron}/v2.0/networks?name=private")
            network = nets["networks"][0]["id"]
            servers: list[str] = []
            volumes: list[str] = []
            try:
                boots = []
                for _ in range(count):
                    sid, took = await bench.boot(network)
                    servers.append(sid)
                    boots.append(took)
                creates = []
                for _ in range(count):
                    vid, took = await bench.volume()
                    volumes.append(vid)
                    creates.append(took)
                attach, detach = await bench.attach_detach(servers[0], volumes[0])
            finally:
                await bench.cleanup(servers, volumes)
            rows.setdefault("server boot to ACTIVE (private network)", []).append(_stats(boots))
            rows.setdefault("volume create to available", []).append(_stats(creates))
            rows.setdefault("volume attach to in-use / detach", []).append(
                f"{attach:.2f} s / {detach:.2f} s"
            )
    mem = {m.group: m for m in memory(layout)}
    rows["memory of the pod's processes (RSS / PSS)"] = [
        f"{mem[p.name].rss_mib:.0f} MiB / {mem[p.name].pss_mib:.0f} MiB "
        f"({mem[p.name].processes} processes)"
        if p.name in mem
        else "not running"
        for p in pods
    ]
    lines += [f"| {name} | " + " | ".join(cells) + " |" for name, cells in rows.items()]
    shared = [m for k, m in mem.items() if k in ("shared", "infra")]
    lines.append("")
    lines += [
        f"- {m.group}: RSS {m.rss_mib:.0f} MiB, PSS {m.pss_mib:.0f} MiB ({m.processes} processes)"
        for m in shared
    ]
    lines += [f"- {line}" for line in up_history(layout)]
    return "\n".join(lines)

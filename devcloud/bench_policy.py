"""`devcloud bench --policy`: what the Networking API's per-object rules cost a list.

Every object a Networking list returns is checked with its `get_<kind>` rule (Neutron's
default check strings, the object as target: `cascade.services.network.access.sees`).
Side by side in one run, on a SQLite database of its own (migrated by Cascade's own
migrations) holding, for each N, N ports of the member's project `p1` on 10 of its
networks, N ports of another project on 10 networks of that project (5 shared), and
10 more networks of a third project shared with everyone:

- **floor**: `access.visible` with a caller every rule allows (the query and the
  reach test alone: what a list cost before the rules);
- **member's rules**: the same list as the member `p1` (roles member, reader) with
  Cascade's default policy;
- the same two for an admin (whose query reads every project's rows).

Each variant is timed `RUNS` times, alternated, p50 in milliseconds; the extra cost of
a row is (rules - floor) / rows. In-process (no HTTP), one list at a time. Figures go
into docs/benchmarks.md, "Policy".
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devcloud.bench_cascade import DOCS
from devcloud.bench_network import replace_block

COUNTS = (1000, 10000)
RUNS = 15
HEADING = "## Policy (issue: operators' tools)"
BEGIN = "<!-- devcloud bench --policy: generated block, replaced by every run -->"
END = "<!-- devcloud bench --policy: end of generated block -->"


@dataclass
class Row:
    """One list measured: its kind, who asks, the rows returned, p50 floor and rules."""

    rows: int
    kind: str
    who: str
    returned: int
    floor_ms: float
    rules_ms: float

    @property
    def per_row_us(self) -> float:
        return (self.rules_ms - self.floor_ms) * 1000 / max(self.returned, 1)


async def _fill(url: str, ports: int) -> None:
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from cascade.db.engine import make_engine
    from cascade.services.network import store

    engine = make_engine(url)
    async with async_sessionmaker(engine, expire_on_commit=False)() as db:
        for project, shared in (("p1", 0), ("p2", 5), ("p3", 10)):
            nets = [
                store.add(
                    db, store.NETWORK, project, {"name": f"{project}-{i}", "shared": i < shared}
                )
                for i in range(10)
            ]
            if project == "p3":
                continue
            for i in range(ports):
                body = {"name": f"port-{i}", "device_owner": "", "fixed_ips": []}
                store.add(db, store.PORT, project, body, parent_id=nets[i % 10].id)
        await db.commit()
    await engine.dispose()


async def measure(ports: int, work: Path) -> list[Row]:
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from cascade.conf import NetworkSection
    from cascade.context import Context
    from cascade.db.engine import make_engine
    from cascade.db.migrate import upgrade
    from cascade.policy import Policy
    from cascade.services.network import access, policies, store

    url = f"sqlite+aiosqlite:///{work / f'policy-{ports}.sqlite'}"
    await upgrade(url)
    await _fill(url, ports)
    engine = make_engine(url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    policy = Policy(defaults=policies.defaults())
    expires = datetime.now(UTC)
    people = {
        "member": Context("t", "u1", "u", "p1", "p", frozenset({"member", "reader"}), expires),
        "admin": Context(
            "t", "u9", "a", "p9", "a", frozenset({"admin", "member", "reader"}), expires
        ),
    }
    out = []

    def _every_rule_in_reach(rule: str, target: Mapping[str, Any] | None = None) -> bool:
        # the floor: every rule allows, but those that widen the query's reach past the
        # caller's projects (`access.SPANNING`): the same rows read as with the rules
        return rule not in access.SPANNING

    for kind in (store.PORT, store.NETWORK):
        for who, ctx in people.items():
            admin = policy.allows("context_is_admin", ctx)
            floor: list[float] = []
            rules: list[float] = []
            returned = 0
            for _ in range(RUNS):
                # a checker a list, as each request has its own (`api.request.policy_of`)
                for checked, took in ((False, floor), (True, rules)):
                    allows = policy.checker(ctx) if checked else _every_rule_in_reach
                    async with sessions() as db:
                        project = str(ctx.project_id)
                        caller = access.Caller(db, NetworkSection(), project, admin, allows)
                        start = time.perf_counter()
                        found = await access.visible(caller, kind)
                        took.append(time.perf_counter() - start)
                    returned = len(found)
            out.append(
                Row(
                    ports,
                    kind,
                    who,
                    returned,
                    statistics.median(floor) * 1000,
                    statistics.median(rules) * 1000,
                )
            )
    await engine.dispose()
    return out


def render(results: Sequence[Row], command: str) -> str:
    when = datetime.now(UTC)
    lines = [
        f"Command: `{command}` (`devcloud/bench_policy.py`).",
        f"Run of {when:%Y-%m-%d %H:%M} UTC, in-process on SQLite, {RUNS} lists a variant, "
        "alternated; p50 of `access.visible` (the rows a list returns, before its views).",
        "",
        "| ports per project | list | who | rows returned | floor (every rule allows) "
        "| Cascade's rules | extra a row |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.rows} | {r.kind}s | {r.who} | {r.returned} | {r.floor_ms:.1f} ms "
            f"| **{r.rules_ms:.1f} ms** | {r.per_row_us:.1f} µs |"
        )
    return "\n".join(lines)


async def run(counts: Sequence[int], write: bool) -> str:
    work = Path(tempfile.mkdtemp(prefix="cascade-bench-policy-"))
    results: list[Row] = []
    try:
        for ports in counts:
            print(f"bench --policy: {ports} ports a project", file=sys.stderr, flush=True)
            results.extend(await measure(ports, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    command = "bin/devcloud bench --policy --objects " + ",".join(str(c) for c in counts)
    block = render(results, command)
    if write:
        DOCS.write_text(replace_block(DOCS.read_text(), HEADING, block, BEGIN, END))
    return block

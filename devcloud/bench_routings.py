"""`devcloud bench --routings`: the routing table's lookups with 10M rows, on MariaDB.

On the devcloud's MariaDB, in a database of its own (`cascade_scale`, migrated by
Cascade's own migrations), `--rows` routings (10,000,000 by default) over 100 pods
and 10,000 projects (40% servers, 40% ports, 20% volumes) are loaded once and kept
for the next run. Then, with Cascade's engine and the statements its code runs:

- **locate**: the routing of an id with its pod (`routed.locate`), known ids;
- **unknown id**: the same lookup of an id no routing has;
- **a page's routings**: the routings of 1,000 listed ids at once (`routed.heal`);
- **a project's pods**: the pods a project has servers in or is bound to
  (`routed.candidate_pods`, what its lists and unknown ids ask);
- the floor beside them: `SELECT 1` sent the same way.

Each is timed per statement from the caller (SQLAlchemy, the driver and the
round trip included, the connection already held: taking one from the pool is
the same whatever the table holds), p50 and p99, one statement at a time. Figures go into the
"Many pods" section of docs/benchmarks.md.
"""

from __future__ import annotations

import random
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncEngine

from devcloud import infra
from devcloud.bench_cascade import DOCS, percentile
from devcloud.bench_network import replace_block
from devcloud.bench_scale import HEADING
from devcloud.layout import DB_USER, PASSWORD, Layout

DATABASE = "cascade_scale"
ROWS = 10_000_000
PODS = 100
PROJECTS = 10_000
SAMPLES = 2000
KINDS = ("server",) * 2 + ("port",) * 2 + ("volume",)
BUFFER_POOL = 4 * 2**30
BEGIN = "<!-- devcloud bench --routings: generated block, replaced by every run -->"
END = "<!-- devcloud bench --routings: end of generated block -->"


def top_id(n: int) -> str:
    return str(uuid.UUID(int=n + 1))


async def _count(engine: AsyncEngine) -> int:
    from cascade.db.models import Routing

    try:
        async with engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(Routing))).scalar_one())
    except Exception:
        return -1


async def load(layout: Layout, url: str, rows: int) -> float:
    """The database with `rows` routings (made now unless it has them, else brought to
    the code's schema: the models read every column); seconds spent."""
    from cascade.db.engine import make_engine
    from cascade.db.migrate import upgrade
    from cascade.db.models import Pod

    engine = make_engine(url)
    try:
        if await _count(engine) == rows:
            await upgrade(url)
            return 0.0
    finally:
        await engine.dispose()
    started = time.monotonic()
    await infra.recreate_databases(layout, [DATABASE])
    await upgrade(url)
    engine = make_engine(url)
    stamp = datetime.now(UTC).replace(tzinfo=None)
    pods = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"pod{n}")) for n in range(PODS)]
    try:
        async with engine.begin() as conn:
            await conn.execute(
                insert(Pod),
                [
                    {
                        "id": pod,
                        "name": f"scale{n}",
                        "region_name": f"scale{n}",
                        "az": f"az{n % 4}",
                        "pod_az": "nova",
                        "enabled": True,
                        "weight": 1,
                        "tags": [],
                        "health_state": "up",
                        "created_at": stamp,
                    }
                    for n, pod in enumerate(pods)
                ],
            )
    finally:
        await engine.dispose()
    # the rows as a file MariaDB loads itself: 10M rows through the driver took 25 min
    rows_file = Path(tempfile.gettempdir()) / "cascade-bench-routings.tsv"
    when = stamp.strftime("%Y-%m-%d %H:%M:%S")
    with rows_file.open("w") as out:
        for n in range(rows):
            object_id = top_id(n)
            out.write(
                f"{uuid.UUID(int=(1 << 100) + n)}\t{KINDS[n % len(KINDS)]}\t{object_id}\t"
                f"{pods[(n // 7) % PODS]}\t{object_id}\tproject{n % PROJECTS:05d}\t"
                f"active\t{when}\n"
            )
    try:
        await infra.sql(
            layout,
            f"LOAD DATA INFILE '{rows_file}' INTO TABLE `{DATABASE}`.routings "
            "(id, resource_type, top_id, pod_id, bottom_id, project_id, status, created_at);\n",
            timeout=3600,
        )
    finally:
        rows_file.unlink(missing_ok=True)
    return time.monotonic() - started


async def measure(url: str, rows: int) -> dict[str, list[float]]:
    from cascade.db.engine import make_engine, sessions
    from cascade.db.models import Pod, Routing
    from cascade.services import routed

    engine = make_engine(url)
    made = sessions(engine)
    found: dict[str, list[float]] = {}
    rng = random.Random(1)

    db = made()  # one session: each statement timed on a connection already held

    async def timed(name: str, statement: object) -> None:
        started = time.perf_counter()
        (await db.execute(statement)).all()  # type: ignore[call-overload]
        found.setdefault(name, []).append(time.perf_counter() - started)

    def locate(object_id: str, kind: str) -> object:
        return (
            select(Routing, Pod)
            .join(Pod, Pod.id == Routing.pod_id)
            .where(Routing.resource_type == kind, Routing.top_id == object_id)
        )

    try:
        for _ in range(SAMPLES):
            await timed("floor: SELECT 1 the same way", select(literal(1)))
            n = rng.randrange(rows)
            await timed("locate", locate(top_id(n), KINDS[n % len(KINDS)]))
            await timed("unknown id", locate(str(uuid.uuid4()), "server"))
        for _ in range(SAMPLES // 10):
            ids = [top_id(rng.randrange(rows)) for _ in range(1000)]
            query = select(Routing.top_id).where(
                Routing.resource_type == "server", Routing.top_id.in_(ids)
            )
            await timed("a page's routings (1,000 ids)", query)
        for _ in range(SAMPLES // 10):
            project = f"project{rng.randrange(PROJECTS):05d}"
            started = time.perf_counter()
            await routed.candidate_pods(db, project, "server")
            found.setdefault("a project's pods", []).append(time.perf_counter() - started)
    finally:
        await db.close()
        await engine.dispose()
    return found


def render(rows: int, loaded: float, found: dict[str, list[float]]) -> str:
    lines = [
        f"Routing lookups with {rows:,} routings on the devcloud's MariaDB "
        f"({PODS} pods, {PROJECTS:,} projects; InnoDB buffer pool "
        f"{BUFFER_POOL // 2**30} GiB), one statement at a time from Cascade's engine on a "
        "connection it holds (`bin/devcloud bench --routings`):",
        "",
        "| statement | p50 | p99 | n |",
        "|---|---|---|---|",
    ]
    for name, values in found.items():
        lines.append(
            f"| {name} | {percentile(values, 50) * 1000:.2f} ms | "
            f"{percentile(values, 99) * 1000:.2f} ms | {len(values)} |"
        )
    if loaded:
        lines += ["", f"Loading the rows took {loaded:.0f} s."]
    return "\n".join(lines)


async def run(layout: Layout, rows: int = ROWS) -> str:
    # a database serving 10M routings holds them in memory: the devcloud's 128 MiB buffer
    # pool (it runs a whole cloud on one machine) is raised until MariaDB restarts
    await infra.sql(layout, f"SET GLOBAL innodb_buffer_pool_size = {BUFFER_POOL};\n")
    port = layout.port("mariadb")
    url = f"mysql+asyncmy://{DB_USER}:{PASSWORD}@127.0.0.1:{port}/{DATABASE}?charset=utf8mb4"
    loaded = await load(layout, url, rows)
    block = render(rows, loaded, await measure(url, rows))
    DOCS.write_text(replace_block(DOCS.read_text(), HEADING, block, BEGIN, END))
    return block

"""The async engine and sessions for Cascade's database (SQLite or MariaDB/MySQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from cascade.conf import DatabaseSection

T = TypeVar("T")


def make_engine(url: str, pool: DatabaseSection | None = None) -> AsyncEngine:
    """The engine for `url`, its connection pool sized by `pool` (`[database]`; the
    SQLAlchemy defaults without it). Waiting past `pool_timeout` for a connection raises
    sqlalchemy's `TimeoutError`, which the API answers 503 (`cascade.api.busy`)."""
    sizing: dict[str, Any] = {}
    if pool is not None:
        sizing = {
            "pool_size": pool.pool_size,
            "max_overflow": pool.max_overflow,
            "pool_timeout": pool.pool_timeout,
        }
    if not url.startswith("sqlite"):
        # READ COMMITTED: InnoDB then takes no gap locks for plain reads and
        # updates, which is what turned concurrent job claims into deadlocks;
        # nothing in Cascade relies on repeatable reads (races are settled by
        # unique keys and compare-and-set updates).
        return create_async_engine(
            url, pool_pre_ping=True, isolation_level="READ COMMITTED", **sizing
        )
    if ":memory:" in url or "mode=memory" in url:
        sizing = {}  # one in-memory database per connection: SQLAlchemy picks its own pool
    engine = create_async_engine(url, **sizing)

    # SQLite enforces foreign keys only when asked, per connection.
    @event.listens_for(engine.sync_engine, "connect")
    def _fk_on(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def now() -> datetime:
    """The time as every timestamp column holds it: UTC, without a zone."""
    return datetime.now(UTC).replace(tzinfo=None)


async def idle(db: AsyncSession) -> None:
    """End `db`'s transaction, committing what it wrote, so that it holds no connection
    while the caller waits on something else (a pod). What it loaded stays usable
    (sessions do not expire on commit); its next statement takes a connection again."""
    if db.in_transaction():
        await db.commit()


def kept(db: AsyncSession, row: T) -> T:
    """`row`, detached from `db`, its loaded attributes kept: for a workflow that goes on
    using what it loaded while its steps commit and roll back (a lost race for a copy's
    routing or a binding rolls back, and a rollback expires everything a session holds,
    which then cannot be read again without awaiting)."""
    if row in db:
        db.expunge(row)
    return row

"""The async engine and sessions for Cascade's database (SQLite or MariaDB/MySQL)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def make_engine(url: str) -> AsyncEngine:
    if not url.startswith("sqlite"):
        # READ COMMITTED: InnoDB then takes no gap locks for plain reads and
        # updates, which is what turned concurrent job claims into deadlocks;
        # nothing in Cascade relies on repeatable reads (races are settled by
        # unique keys and compare-and-set updates).
        return create_async_engine(url, pool_pre_ping=True, isolation_level="READ COMMITTED")
    engine = create_async_engine(url)

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

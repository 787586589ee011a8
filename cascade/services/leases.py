"""Leases: a duty that one process of many does at a time, by a row in the database.

Why a row and not the database's own locks: the holder must be known to the others
between its statements (a lock held by a long transaction would hold a connection
for as long as the duty lasts), and MariaDB's `GET_LOCK` has no SQLite equivalent.
A holder renews its lease well before it lapses; a process that stopped renewing
(killed, hung, cut from the database) loses it once it lapses, and another takes it.
Clocks: each process stamps with its own; they must agree to within the lease's
length, as they must for the job queue's leases.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cascade.db.engine import now
from cascade.db.models import Lease

LOG = logging.getLogger(__name__)


async def hold(
    sessions: async_sessionmaker[AsyncSession], name: str, holder: str, seconds: float
) -> bool:
    """Lease `name` taken or renewed for `holder` for `seconds` from now: whether
    `holder` holds it (False: another does and its lease has not lapsed)."""
    at = now()
    until = at + timedelta(seconds=seconds)
    try:
        async with sessions() as db, db.begin():
            taken = await db.execute(
                update(Lease)
                .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at < at))
                .values(holder=holder, expires_at=until)
            )
            if taken.rowcount:  # type: ignore[attr-defined]
                return True
            if await db.scalar(select(Lease.name).where(Lease.name == name)) is not None:
                return False
            db.add(Lease(name=name, holder=holder, expires_at=until))
    except IntegrityError:  # another process made the row first: it holds the lease
        return False
    return True


async def release(sessions: async_sessionmaker[AsyncSession], name: str, holder: str) -> None:
    """Lease `name` given up if `holder` holds it (another may take it at once)."""
    async with sessions() as db, db.begin():
        await db.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))


class Held:
    """Lease `name` kept by this process while it can get it: tried every `seconds`/3
    (a lapsed lease is taken within that), for `seconds` each time. `held` says
    whether this process holds it now; a failure to renew (the database away) counts
    as not holding it, so two processes never both think they do for long."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], name: str, seconds: float
    ) -> None:
        self.sessions = sessions
        self.name = name
        self.seconds = seconds
        self.holder = uuid.uuid4().hex
        self.held = False
        self._taken = asyncio.Event()

    async def taken(self) -> None:
        """Until this process holds the lease."""
        await self._taken.wait()

    async def keep(self) -> None:
        """Until cancelled; then the lease is released, for another process to take."""
        try:
            while True:
                try:
                    held = await hold(self.sessions, self.name, self.holder, self.seconds)
                except Exception:
                    LOG.exception("the %s lease could not be renewed", self.name)
                    held = False
                if held != self.held:
                    LOG.info("%s lease %s", self.name, "taken" if held else "lost")
                self.held = held
                if held:
                    self._taken.set()
                else:
                    self._taken.clear()
                await asyncio.sleep(self.seconds / 3)
        finally:
            if self.held:
                self.held = False
                try:
                    await asyncio.shield(release(self.sessions, self.name, self.holder))
                except Exception:  # it lapses on its own
                    LOG.exception("the %s lease could not be released", self.name)

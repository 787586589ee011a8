"""Retrying a transaction that the database aborted for reasons of its own.

InnoDB resolves lock cycles by rolling one transaction back (1213 deadlock) or
gives up waiting (1205); SQLite reports a busy file as "database is locked".
Neither says anything about the data: the same transaction run again is
correct, so short, self-contained transactions (job claims, lease updates)
retry them instead of failing the caller.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import OperationalError

T = TypeVar("T")

# MySQL/MariaDB error numbers: deadlock, lock wait timeout
RETRIABLE_MYSQL = (1213, 1205)


def is_transient(error: BaseException) -> bool:
    """True for a lock conflict the database resolved by aborting this transaction."""
    if not isinstance(error, OperationalError):
        return False
    args = getattr(error.orig, "args", ())
    if args and args[0] in RETRIABLE_MYSQL:
        return True
    return "database is locked" in str(error.orig)


async def retrying(run: Callable[[], Awaitable[T]], attempts: int = 5) -> T:
    """`run()` again (after a short random pause) while it fails transiently."""
    for attempt in range(attempts):
        try:
            return await run()
        except OperationalError as error:
            if attempt == attempts - 1 or not is_transient(error):
                raise
        # a random pause so that the two sides of a deadlock do not meet again
        await asyncio.sleep(random.uniform(0.005, 0.05) * (attempt + 1))
    raise AssertionError("unreachable")

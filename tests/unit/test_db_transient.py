"""Transient database errors are retried; every other error is not."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from cascade.db.transient import is_transient, retrying


class MysqlError(Exception):
    pass


def op_error(code: int, text: str) -> OperationalError:
    return OperationalError("UPDATE jobs", {}, MysqlError(code, text))


def test_deadlock_and_lock_wait_are_transient() -> None:
    assert is_transient(op_error(1213, "Deadlock found when trying to get lock"))
    assert is_transient(op_error(1205, "Lock wait timeout exceeded"))
    assert is_transient(OperationalError("x", {}, Exception("database is locked")))


def test_other_errors_are_not_transient() -> None:
    assert not is_transient(op_error(1146, "Table 'cascade.jobs' doesn't exist"))
    assert not is_transient(IntegrityError("x", {}, MysqlError(1062, "Duplicate entry")))
    assert not is_transient(ValueError("deadlock"))


async def test_retrying_runs_again_after_a_deadlock() -> None:
    calls = []

    async def run() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise op_error(1213, "Deadlock found")
        return "claimed"

    assert await retrying(run) == "claimed"
    assert len(calls) == 3


async def test_retrying_gives_up_and_raises_the_last_error() -> None:
    calls = []

    async def run() -> str:
        calls.append(1)
        raise op_error(1213, "Deadlock found")

    with pytest.raises(OperationalError):
        await retrying(run, attempts=2)
    assert len(calls) == 2


async def test_retrying_does_not_retry_a_real_error() -> None:
    calls = []

    async def run() -> str:
        calls.append(1)
        raise op_error(1146, "no such table")

    with pytest.raises(OperationalError):
        await retrying(run)
    assert len(calls) == 1

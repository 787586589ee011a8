"""Leases (`services.leases`): one process of many holds a duty; it passes on when the
holder lets go or stops renewing; and of two health checkers, one checks the pods."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from cascade.services import health, leases, stale
from tests.unit.test_pod_registry import _pods_in_db


async def test_one_holder_at_a_time_until_it_lets_go_or_lapses(tmp_path: Any) -> None:
    made = await _pods_in_db(tmp_path, 0)
    assert await leases.hold(made, "duty", "a", 60)
    assert not await leases.hold(made, "duty", "b", 60)
    assert await leases.hold(made, "duty", "a", 60)  # renewed by its holder
    await leases.release(made, "duty", "b")  # not b's to give up: a keeps it
    assert not await leases.hold(made, "duty", "b", 60)
    await leases.release(made, "duty", "a")
    assert await leases.hold(made, "duty", "b", 0.2)
    assert not await leases.hold(made, "duty", "a", 60)
    await asyncio.sleep(0.3)  # b stopped renewing: its lease lapsed
    assert await leases.hold(made, "duty", "a", 60)
    assert await leases.hold(made, "other", "b", 60)  # another duty, another lease


async def test_of_two_checkers_one_checks_and_the_other_takes_over_when_it_stops(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """Two processes' health checks on one database: the rounds are one process's; once
    it stops (its lease released), the other's rounds start within a renewal."""
    made = await _pods_in_db(tmp_path, 0)
    rounds: list[str] = []

    async def check_round(
        sessions: Any, registry: Any, spread: float, state: Any, start: float
    ) -> float:
        rounds.append(registry)  # the registry stands for the process here
        return spread

    async def sweep(*args: Any) -> None:
        return None

    monkeypatch.setattr(health, "check_round", check_round)
    monkeypatch.setattr(stale, "sweep", sweep)
    monkeypatch.setattr(health, "MIN_LEASE_SECONDS", 0.3)
    one = asyncio.create_task(health.run_periodically(0.05, made, "one"))  # type: ignore[arg-type]
    await asyncio.sleep(0.2)
    other = asyncio.create_task(health.run_periodically(0.05, made, "other"))  # type: ignore[arg-type]
    await asyncio.sleep(0.6)
    assert rounds and set(rounds) == {"one"}
    one.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await one
    before = len(rounds)
    await asyncio.sleep(0.4)
    other.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await other
    assert set(rounds[:before]) == {"one"}
    assert "other" in rounds[before:] and "one" not in rounds[before:]
    # once a checker is cancelled and awaited, nothing of it is left running (its lease's
    # release included): the caller disposes of the engine next
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []

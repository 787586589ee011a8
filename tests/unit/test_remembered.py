"""Values kept per key and read again in the background (`cascade.services.remembered`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from cascade.services.remembered import Remembered
from tests.unit.test_pod_clients import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


def reader(values: list[str]) -> tuple[list[int], Callable[[], Awaitable[str]]]:
    calls = [0]

    async def read() -> str:
        calls[0] += 1
        return values[min(calls[0], len(values)) - 1]

    return calls, read


async def test_fresh_then_stale_read_in_the_background_then_read_inline(clock: Clock) -> None:
    """Fresh: no read. Stale: the kept value at once, one read started (not two for two
    uses); its value serves the next use. Too old: read before answering."""
    kept: Remembered[str, str] = Remembered(fresh=2, stale=60, clock=clock)
    calls, read = reader(["v1", "v2", "v3"])
    assert await kept.get("pod", read) == "v1"
    clock.now += 1
    assert await kept.get("pod", read) == "v1"
    assert calls[0] == 1
    clock.now += 2
    assert await kept.get("pod", read) == "v1"
    assert await kept.get("pod", read) == "v1"
    await asyncio.sleep(0)
    assert calls[0] == 2
    assert await kept.get("pod", read) == "v2"
    clock.now += 61
    assert await kept.get("pod", read) == "v3"
    assert calls[0] == 3


async def test_a_forget_wins_over_a_read_begun_before_it(clock: Clock) -> None:
    """The admin API changed the value while a background read was under way: what that
    read found is not kept; the next use reads again."""
    kept: Remembered[str, str] = Remembered(fresh=2, stale=60, clock=clock)
    gate = asyncio.Event()
    answers = iter(["old", "read-before-forget", "new"])

    async def read() -> str:
        value = next(answers)
        if value == "read-before-forget":
            await gate.wait()
        return value

    assert await kept.get("pod", read) == "old"
    clock.now += 3
    assert await kept.get("pod", read) == "old"  # the background read starts, waits
    await asyncio.sleep(0)
    kept.forget("pod")
    gate.set()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert kept.fresh_value("pod") is None
    assert await kept.get("pod", read) == "new"


async def test_a_failed_background_read_keeps_the_stale_value(clock: Clock) -> None:
    kept: Remembered[str, str] = Remembered(fresh=2, stale=60, clock=clock)
    assert await kept.get("pod", _value("v1")) == "v1"
    clock.now += 3

    async def broken() -> str:
        raise RuntimeError("database gone")

    assert await kept.get("pod", broken) == "v1"
    await asyncio.sleep(0)
    assert await kept.get("pod", broken) == "v1"  # stale still, read tried again


def _value(value: str) -> Callable[[], Awaitable[str]]:
    async def read() -> str:
        return value

    return read

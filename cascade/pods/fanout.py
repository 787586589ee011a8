"""Ask every pod at once, within one deadline, and say which pods did not answer.

Every answer Cascade makes of several pods' (merged lists, usage summed over
pods, an unknown id asked of every pod, admin views put together) goes
through `fan_out`, so a pod that does not answer is treated the same way
everywhere: a pod whose call raises `PodUnavailable` (down, refused by its
breaker, or a 5xx the caller judged as the pod being unwell) or that has not
answered when the deadline passes is left out, and `Gathered.unavailable`
names it; `X-Cascade-Unavailable-Pods` says so to the client. A late pod's
call is cancelled and counted as a failure by its circuit breaker, so a pod
that hangs costs one deadline, not one per request, once the breaker opens;
unless most of the pods asked are late (more than half, and more than
SLOW_ASKER): then the lateness is Cascade's own (thousands of pods asked at
once outlast the deadline in this process) and no pod is blamed for it.
Any other exception (a pod's refusal of a bad filter, say) is the answer:
the other calls are cancelled and it is raised.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from cascade import metrics
from cascade.pods.client import PodUnavailable

UNAVAILABLE_HEADER = "X-Cascade-Unavailable-Pods"
SLOW_ASKER = 3  # late pods that are always blamed, however many were asked


class Named(Protocol):
    """Anything asked in a fan-out: a pod (its name is what the header shows)."""

    @property
    def name(self) -> str: ...


P = TypeVar("P", bound=Named)
T = TypeVar("T")


@dataclass
class Gathered(Generic[P, T]):
    """The pods that answered, in the order they were given, and those that did not."""

    answers: list[tuple[P, T]] = field(default_factory=list)
    unavailable: list[P] = field(default_factory=list)

    @property
    def values(self) -> list[T]:
        return [value for _, value in self.answers]

    @property
    def names(self) -> list[str]:
        """The names of the pods left out."""
        return [pod.name for pod in self.unavailable]

    def headers(self) -> dict[str, str]:
        """`X-Cascade-Unavailable-Pods` when a pod was left out, else nothing."""
        return unavailable_header(self.names)


def unavailable_header(names: Sequence[str]) -> dict[str, str]:
    """The header naming the pods an answer left out (nothing when none was)."""
    return {UNAVAILABLE_HEADER: ",".join(names)} if names else {}


async def fan_out(
    pods: Sequence[P],
    ask: Callable[[P], Awaitable[T]],
    *,
    deadline: float | None,
    late: Callable[[P], None] | None = None,
    in_flight: int | None = None,
) -> Gathered[P, T]:
    """`ask` of every pod in parallel, at most `in_flight` at once (None: all); waits at
    most `deadline` seconds (None: no limit). `late` is told of each pod still asked when
    the deadline passed (one still waiting for its turn was not asked: never blamed).

    Why a bound: 10,000 calls started at once advance a step each in turn, so all of
    them end together, after the deadline; a bounded number in flight end one after
    another, and the deadline leaves out only those it did not reach."""
    slots = asyncio.Semaphore(in_flight) if in_flight else None
    asked: set[int] = set()
    started = time.monotonic()

    async def one(n: int, pod: P) -> T:
        if slots is None:
            asked.add(n)
            return await ask(pod)
        async with slots:
            asked.add(n)
            return await ask(pod)

    tasks = [asyncio.ensure_future(one(n, pod)) for n, pod in enumerate(pods)]
    try:
        await _wait(tasks, deadline)
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
        if tasks:
            # let the cancelled calls unwind (close their connections) before answering
            await asyncio.gather(*tasks, return_exceptions=True)
    found: Gathered[P, T] = Gathered()
    late_count = sum(1 for n, task in enumerate(tasks) if task.cancelled() and n in asked)
    blame = late is not None and late_count <= max(SLOW_ASKER, len(tasks) // 2)
    for n, (pod, task) in enumerate(zip(pods, tasks, strict=True)):
        if task.cancelled():
            found.unavailable.append(pod)
            if blame and late is not None and n in asked:
                late(pod)
        elif isinstance(task.exception(), PodUnavailable):
            found.unavailable.append(pod)
        else:
            found.answers.append((pod, task.result()))
    metrics.FANOUT_SECONDS.observe(time.monotonic() - started)
    metrics.FANOUT_ASKED.inc(len(tasks))
    metrics.FANOUT_LEFT_OUT.inc(len(found.unavailable))
    return found


async def _wait(tasks: Sequence[asyncio.Future[T]], deadline: float | None) -> None:
    """Until every task is done or the deadline passed; an exception other than
    `PodUnavailable` is raised at once."""
    loop = asyncio.get_running_loop()
    until = None if deadline is None else loop.time() + deadline
    pending = set(tasks)
    while pending:
        left = None if until is None else until - loop.time()
        if left is not None and left <= 0:
            return
        done, pending = await asyncio.wait(
            pending, timeout=left, return_when=asyncio.FIRST_EXCEPTION
        )
        for task in done:
            error = task.exception()
            if error is not None and not isinstance(error, PodUnavailable):
                raise error


class Registry(Protocol):
    """What `gather` needs of the pod registry: the deadline and each pod's breaker."""

    @property
    def list_deadline(self) -> float: ...

    @property
    def fanout_in_flight(self) -> int: ...

    def late(self, pod: str, service: str) -> None: ...


async def gather(
    registry: Registry, service: str, pods: Sequence[P], ask: Callable[[P], Awaitable[T]]
) -> Gathered[P, T]:
    """`fan_out` with the deployment's `[pods] list_deadline`; a late pod's `service`
    breaker counts a failure."""
    return await fan_out(
        pods,
        ask,
        deadline=registry.list_deadline,
        late=lambda pod: registry.late(pod.name, service),
        in_flight=registry.fanout_in_flight,
    )

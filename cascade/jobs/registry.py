"""Job handlers by type.

A handler is `async def handler(ctx: JobContext, job: Job) -> None`. By contract
every handler is idempotent: a job may run more than once (a worker died after
the work but before `complete`, an admin asked to redo it), so running it again
must converge on the same state, never duplicate it. A handler that raises has
failed that attempt; the queue retries it with backoff.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cascade.conf import Conf
from cascade.db.models import Job
from cascade.pods.registry import PodRegistry


class NoPods(Exception):
    """A handler that calls pods ran in a worker started without them."""


@dataclass(frozen=True)
class JobContext:
    """What a handler gets besides its job: the database, the configuration, the pods."""

    sessions: async_sessionmaker[AsyncSession]
    conf: Conf
    worker_id: str
    registry: PodRegistry | None = None  # None: a worker for jobs that call no pod (tests)

    @property
    def pods(self) -> PodRegistry:
        if self.registry is None:
            raise NoPods(f"worker {self.worker_id} has no pod registry")
        return self.registry


Handler = Callable[[JobContext, Job], Awaitable[None]]


class UnknownJobType(Exception):
    pass


class Registry:
    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}

    def handler(self, type: str) -> Callable[[Handler], Handler]:
        """Decorator: `@registry.handler("type")` registers the function for `type`."""

        def register(func: Handler) -> Handler:
            if type in self.handlers:
                raise ValueError(f"job type {type!r} already has a handler")
            self.handlers[type] = func
            return func

        return register

    def get(self, type: str) -> Handler:
        try:
            return self.handlers[type]
        except KeyError:
            raise UnknownJobType(f"no handler for job type {type!r}") from None

    def types(self) -> list[str]:
        return sorted(self.handlers)


DEFAULT = Registry()
handler = DEFAULT.handler


@handler("noop")
async def noop(ctx: JobContext, job: Job) -> None:
    """Does nothing (trivially idempotent): tests and the queue's throughput benchmark."""

"""What the services' workflows (`server_create`, `volume_create`) share: what they need of
the process, and the top's own refusal (no HTTP types here)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cascade.conf import Conf
from cascade.pods.registry import PodRegistry


class Refused(Exception):
    """The top refuses: the API's status and message (each API writes its own body)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def bad(message: str) -> Refused:
    return Refused(400, message)


@dataclass(frozen=True)
class Env:
    """What a workflow needs of the process: pods, settings, database sessions."""

    registry: PodRegistry
    conf: Conf
    sessions: async_sessionmaker[AsyncSession]

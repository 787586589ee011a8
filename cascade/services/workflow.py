"""What the services' workflows (`server_create`, `volume_create`) share: what they need of
the process, and the top's own refusal (no HTTP types here)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cascade.conf import Conf
from cascade.context import Context
from cascade.db.models import Pod
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

    @classmethod
    def of(cls, state: Any) -> Env:
        """The process's, from where the app keeps them (its `state`)."""
        return cls(state.registry, state.conf, state.sessions)


@dataclass(frozen=True)
class Asker:
    """Who asks a workflow: their context (each workflow adds their calls to the pods)."""

    ctx: Context

    @property
    def project(self) -> str:
        return self.ctx.project_id or ""

    @property
    def scope(self) -> str | None:
        """Whose objects the caller reaches by id: its project's, or (admins) any."""
        return None if self.ctx.is_admin else self.ctx.project_id


@dataclass(frozen=True)
class Created:
    """The pod's answer to a workflow's create (an error status: the pod refused it)."""

    pod: Pod
    resp: httpx.Response

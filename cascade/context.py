"""Who is asking: the validated token's user, project and roles, plus the request id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Context:
    token: str
    user_id: str
    user_name: str
    project_id: str | None
    project_name: str | None
    roles: frozenset[str]
    expires_at: datetime

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

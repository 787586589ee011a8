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
    # what policy rule `context_is_admin` said of this caller (the API's middleware asks
    # it on each request, as Nova's and Neutron's contexts do); None: not asked, the
    # rule's default (`role:admin`) stands
    admin: bool | None = None

    @property
    def is_admin(self) -> bool:
        """An admin of every project (Nova's and Neutron's `context.is_admin`): policy
        `context_is_admin`, `role:admin` unless the operator's file says otherwise."""
        return "admin" in self.roles if self.admin is None else self.admin

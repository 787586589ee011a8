"""Networking errors, named as Neutron names its exceptions (the `type` of the body).

Services raise these; the API layer turns them into Neutron's body
`{"NeutronError": {"type", "message", "detail"}}` once, at the boundary.
"""

from __future__ import annotations

import re


class NeutronError(Exception):
    """An error with Neutron's status, exception name and message."""

    status = 500
    type = "NeutronError"

    def __init__(self, message: str, status: int | None = None, type: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if type is not None:
            self.type = type

    def body(self) -> dict[str, dict[str, str]]:
        return {"NeutronError": {"type": self.type, "message": self.message, "detail": ""}}


class BadRequest(NeutronError):
    """400: the API layer's `HTTPBadRequest`, or neutron-lib's `BadRequest` for the
    "Bad <resource> request: <why>" messages a plugin raises (its message format)."""

    status = 400
    type = "HTTPBadRequest"

    def __init__(self, message: str, status: int | None = None, type: str | None = None) -> None:
        if type is None and PLUGIN_BAD_REQUEST.match(message):
            type = "BadRequest"
        super().__init__(message, status, type)


PLUGIN_BAD_REQUEST = re.compile(r"^Bad [\w-]+ request: ")


class InvalidInput(NeutronError):
    """Neutron's `InvalidInput`: 'Invalid input for operation: <why>.'"""

    status = 400
    type = "InvalidInput"

    def __init__(self, why: str) -> None:
        super().__init__(f"Invalid input for operation: {why}.")


class Conflict(NeutronError):
    status = 409
    type = "Conflict"


class Forbidden(NeutronError):
    status = 403
    type = "HTTPForbidden"


class PolicyNotAuthorized(Forbidden):
    """Neutron's 403 for what a policy rule does not allow the caller."""

    type = "PolicyNotAuthorized"

    def __init__(self, rule: str) -> None:
        super().__init__(f"(rule:{rule}) is disallowed by policy")

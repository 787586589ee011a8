"""Errors in Nova's body, `{"<faultName>": {"code", "message"}}`, which Cinder shares
(400 badRequest, 404 itemNotFound, 406 computeFault, 413 overLimit, ...)."""

from __future__ import annotations

from typing import Any

# Nova's names per status (nova/api/openstack/wsgi.py); anything else is computeFault.
FAULT_NAMES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    429: "overLimit",
    501: "notImplemented",
    503: "serviceUnavailable",
}


class Fault(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        name = FAULT_NAMES.get(self.status, "computeFault")
        return {name: {"code": self.status, "message": self.message}}

"""Errors at the HTTP boundary: one exception type, translated once into a body.

The admin API answers with the API-WG body
`{"errors": [{"status", "title", "detail", "code", "request_id"}]}`. Codes are
stable strings (`cascade.pod.not_found`...) that clients may match on; never
change one once released.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any


class ApiError(Exception):
    def __init__(self, status: int, detail: str, code: str, title: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code
        self.title = title or HTTPStatus(status).phrase


def api_wg_body(error: ApiError, request_id: str) -> dict[str, Any]:
    return {
        "errors": [
            {
                "status": error.status,
                "title": error.title,
                "detail": error.detail,
                "code": error.code,
                "request_id": request_id,
            }
        ]
    }


def keystone_body(status: int, message: str) -> dict[str, Any]:
    """keystonemiddleware's body, which every OpenStack API answers a bad token with."""
    return {"error": {"code": status, "title": HTTPStatus(status).phrase, "message": message}}

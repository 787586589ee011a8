"""What every answer must be (pure functions, shared with `bin/devcloud fuzz`)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import Any


def error_format(service: str, status: int, body: bytes) -> str | None:
    """Why a 4xx `body` is not in `service`'s error format, or None if it is.

    401 is keystonemiddleware's `{"error": {...}}` everywhere; otherwise Nova's and
    Cinder's fault `{"<name>": {"code", "message"}}` under /compute and /volume,
    `{"NeutronError": {"type", "message", "detail"}}` under /networking and the API-WG
    `{"errors": [...]}` under /v1.
    """
    if not 400 <= status < 500:
        return None
    try:
        doc: Any = json.loads(body)
    except ValueError:
        return f"not JSON: {body[:120]!r}"
    if not isinstance(doc, dict):
        return f"not an object: {body[:120]!r}"
    if status == 401:
        if isinstance(doc.get("error"), dict) and doc["error"].get("code") == 401:
            return None
        return f"401 not keystonemiddleware's: {body[:120]!r}"
    if service in ("compute", "volume"):
        if len(doc) == 1:
            (inner,) = doc.values()
            if (
                isinstance(inner, dict)
                and inner.get("code") == status
                and isinstance(inner.get("message"), str)
            ):
                return None
        return f"not a Nova/Cinder fault: {body[:160]!r}"
    if service == "network":
        inner = doc.get("NeutronError")
        if isinstance(inner, dict) and {"type", "message", "detail"} <= inner.keys():
            return None
        return f"not a NeutronError: {body[:160]!r}"
    errors = doc.get("errors")
    if (
        isinstance(errors, list)
        and errors
        and all(isinstance(e, dict) and e.get("status") == status for e in errors)
    ):
        return None
    return f"not API-WG errors: {body[:160]!r}"


def status_class(status: int) -> str:
    return f"{status // 100}xx"


def tally(statuses: Iterable[int]) -> dict[str, int]:
    """Counts by status class, in order (`{"2xx": 3, "4xx": 7}`)."""
    counts = Counter(status_class(s) for s in statuses)
    return dict(sorted(counts.items()))

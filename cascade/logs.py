"""Logs as OpenStack operators grep them: every line of a request carries its ids.

A line reads as oslo.log's default (nova-api's, neutron-server's):

    2026-12-06 10:02:03.123 4242 INFO cascade.api.access [req-<global> req-<id> <user>
    <project>] 127.0.0.1 "POST /compute/v2.1/servers" status: 202 len: 412 time: 0.3012

the global request id (the client's `X-OpenStack-Request-ID`, `-` when none), the
request's own id, the user and the project, on the request's own line and on every line
logged while it is served (its pod calls, its warnings), so `grep req-...` finds all of
it here, and in the pods' logs, which get the same global id. With `[logging] json` each
line is one JSON object with the same fields (for log shippers).

Written here rather than taken from oslo.log: that configures the stdlib's logging from
oslo.config options and a RequestContext; Cascade has its own configuration and an
asyncio request, and the ids live in a context variable (one per task) set by the API's
middleware (`api/middleware.py`). No token, password or header is ever logged: the
fields are ids, and the messages name methods, paths and statuses.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from dataclasses import dataclass
from typing import Any

TEXT_FORMAT = (
    "%(asctime)s.%(msecs)03d %(process)d %(levelname)s %(name)s "
    "[%(global_request_id)s %(request_id)s %(user_id)s %(project_id)s] %(message)s"
)
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
FIELDS = ("request_id", "global_request_id", "user_id", "project_id")
NONE = "-"


@dataclass(frozen=True)
class Ids:
    """Who and which request a log line is about."""

    request_id: str = NONE
    global_request_id: str = NONE
    user_id: str = NONE
    project_id: str = NONE


# Ids is frozen: one default shared by every context is safe
CURRENT: contextvars.ContextVar[Ids] = contextvars.ContextVar(
    "cascade_log_ids",
    default=Ids(),  # noqa: B039
)


def bind(**ids: str | None) -> None:
    """Add ids to those of the request being served (the task's own copy of the
    context); None or empty: `-`."""
    current = CURRENT.get()
    CURRENT.set(Ids(**{**current.__dict__, **{k: v or NONE for k, v in ids.items()}}))


class IdsFilter(logging.Filter):
    """Puts the current request's ids on every record (the handler's filter, so records
    of every logger get them, uvicorn's and the libraries' included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        ids = CURRENT.get()
        for name in FIELDS:
            if not hasattr(record, name):
                setattr(record, name, getattr(ids, name))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, process, the ids, and the
    traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": self.formatTime(record, DATE_FORMAT) + f".{int(record.msecs):03d}",
            "levelname": record.levelname,
            "name": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        line.update({name: getattr(record, name, NONE) for name in FIELDS})
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line)


def setup(level: str = "INFO", as_json: bool = False) -> None:
    """Configure the process's logging: `level` (a name: DEBUG, INFO, WARNING, ...) on
    stderr, as text in oslo.log's layout or as JSON."""
    if level.upper() not in logging.getLevelNamesMapping():
        raise ValueError(f"[logging] level = {level!r} is not a level (DEBUG, INFO, ...)")
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(IdsFilter())
    if as_json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT, DATE_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # httpx logs every request at INFO: a merged list over 1,000 pods wrote 1,000 lines,
    # and the health checks one per probe; Cascade logs its pod calls itself (pods/client)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # uvicorn's own access log is replaced by Cascade's (api/middleware.py): one line a
    # request, with its ids
    logging.getLogger("uvicorn.access").disabled = True

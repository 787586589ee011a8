"""The input guard: what no handler should ever see, refused once, before routing.

Every request passes here after authentication. Refused, in the error format of the
service the path belongs to (`boundary.error_body`), and before any handler, database
or pod is touched:
- paths with a dot segment (`.`, `..`, also percent-encoded), an encoded `/` or `\\`,
  control characters or more than `MAX_PATH` characters: 400 (414 for the length). A
  pod normalises `servers/{id}/%2e%2e/%2e%2e/os-keypairs` into a path the top never
  declared, so no such path may ever be forwarded;
- bodies past `[api] max_body_bytes`: 413 (read no further);
- bodies that are not JSON, or that JSON decoders and databases choke on: not UTF-8,
  lone surrogates (`"\\ud800"`), nested deeper than `MAX_DEPTH`, `NaN`/`Infinity`,
  numbers that overflow a float (`1e999`) or integers longer than `MAX_DIGITS`
  digits: 400 `Malformed request body`, as Nova, Cinder and Neutron answer a body they
  cannot decode.

What passes is handed on unchanged (the body replayed as it came), so handlers and
the pods see the very bytes the client sent.

Data bodies (`streamed`: an image's bytes uploaded to `/image/v2/images/{id}/file` or
`/stage`) are neither read nor checked nor limited here: they go to the handler as
they arrive, which streams them on (Glance applies its own size cap).
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cascade.api.boundary import error_body, send_json, service_of

LOG = logging.getLogger(__name__)

# Deeper than any body the OpenStack APIs define (a server create with block device
# mappings and scheduler hints is 5 levels); Python's decoder itself recurses.
MAX_DEPTH = 32
# Larger than any integer the APIs or Cascade's columns hold (64-bit: 19 digits and a
# sign); Python would otherwise decode 4,300-digit integers and fail later, anywhere.
MAX_DIGITS = 20
MAX_PATH = 4096
_DOT_SEGMENT = re.compile(r"(^|/)\.{1,2}(/|$)")
_ENCODED_SEPARATOR = re.compile(r"%(2f|5c)", re.IGNORECASE)  # `/`, `\`
# after decoding, a `%2e` or `%2f` left is a double encoding (`%252e`), which a pod or a
# proxy between may decode once more into a dot segment or a separator
_ENCODED_TWICE = re.compile(r"%(2e|2f|5c)", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Malformed(ValueError):
    """A body the guard refuses; the message says why (for the logs and the caller)."""


def path_refusal(scope: Scope) -> tuple[int, str] | None:
    """(status, why) when the request's path may not be routed, else None."""
    path: str = scope["path"]
    raw = scope.get("raw_path") or path.encode()
    if len(raw) > MAX_PATH:
        return 414, f"The request path is longer than {MAX_PATH} characters."
    if _CONTROL.search(path):
        return 400, "The request path holds control characters."
    if _DOT_SEGMENT.search(path):
        return 400, "The request path holds a dot segment ('.' or '..')."
    if _ENCODED_SEPARATOR.search(raw.decode("latin-1")) or _ENCODED_TWICE.search(path):
        return 400, "The request path holds an encoded '/', '\\' or '.'."
    return None


def _reject_constant(name: str) -> Any:
    raise Malformed(f"{name} is not a number JSON allows")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise Malformed(f"the number {text[:40]} is out of range")
    return value


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise Malformed(f"an integer of {len(text)} digits is out of range")
    return int(text)


def decode(raw: bytes) -> Any:
    """The JSON document in `raw`; `Malformed` when it is not one the services accept."""
    try:
        text = raw.decode("utf-8")
        value = json.loads(
            text, parse_constant=_reject_constant, parse_float=_float, parse_int=_int
        )
    except RecursionError:
        raise Malformed(f"the body is nested deeper than {MAX_DEPTH} levels") from None
    except UnicodeDecodeError:
        raise Malformed("the body is not UTF-8") from None
    except Malformed:
        raise
    except ValueError as exc:
        raise Malformed(str(exc)) from None
    _check_tree(value)
    return value


def _check_tree(value: Any) -> None:
    """Depth and lone surrogates, walked without recursion (the tree may be deep)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise Malformed("the body holds a lone surrogate (not valid Unicode)")
            continue
        if not isinstance(item, dict | list):
            continue
        if depth > MAX_DEPTH:
            raise Malformed(f"the body is nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            stack.extend((k, depth) for k in item)
            stack.extend((v, depth + 1) for v in item.values())
        else:
            stack.extend((v, depth + 1) for v in item)


Streamed = Iterable[tuple[str, re.Pattern[str]]]


class InputGuard:
    """Pure ASGI middleware; see the module docstring. `max_body_bytes` is
    `[api] max_body_bytes`; `streamed` the (method, full path pattern) of the requests
    whose bodies are data, handed on unread (their paths are checked all the same)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, streamed: Streamed = ()) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.streamed = tuple(streamed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = path_refusal(scope)
        if refusal is not None:
            await _refuse(scope, send, *refusal)
            return
        if scope["method"] not in _BODY_METHODS or self._is_streamed(scope):
            await self.app(scope, receive, send)
            return
        raw, complete = await self._read(receive)
        if not complete:
            limit = self.max_body_bytes
            await _refuse(scope, send, 413, f"Request is too large: the limit is {limit} bytes.")
            return
        if raw:
            try:
                decode(raw)
            except Malformed as exc:
                LOG.info("refused a body in %s: %s", _request_id(scope), exc)
                await _refuse(scope, send, 400, *_malformed(service_of(scope["path"]), exc))
                return
        await self.app(scope, _replay(raw, receive), send)

    def _is_streamed(self, scope: Scope) -> bool:
        method, path = scope["method"], scope["path"]
        return any(m == method and p.fullmatch(path) for m, p in self.streamed)

    async def _read(self, receive: Receive) -> tuple[bytes, bool]:
        """The body, and False when it ran past the limit (reading stops there)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away: the app sees an empty body
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return b"", False
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks), True


def _replay(raw: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the app the body already read, then what the server sends
    (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}
        return await receive()

    return replay


def _malformed(service: str, exc: Malformed) -> tuple[str, str]:
    """The message and code of a body refused: Nova and Cinder say only "Malformed
    request body", Glance "Malformed JSON in request body.", Neutron says why
    (`MalformedRequestBody`), the admin API too."""
    if service == "image":
        return "Malformed JSON in request body.", ""
    if service == "network":
        return f"Malformed request body: {exc}.", "MalformedRequestBody"
    if service == "admin":
        return f"the body is not valid JSON: {exc}", "cascade.request.json"
    return "Malformed request body", ""


def _request_id(scope: Scope) -> str:
    return str(scope.get("state", {}).get("request_id", ""))


async def _refuse(
    scope: Scope, send: Send, status: int, message: str, code: str | None = None
) -> None:
    await send_json(
        send, status, error_body(scope["path"], status, message, _request_id(scope), code)
    )

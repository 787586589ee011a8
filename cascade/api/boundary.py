"""Which service a path belongs to, and a refusal in that service's own error body.

Refusals that happen before a handler knows its API (the input guard, the database's
limits, a pod URL httpx will not build) are written here once, in the format the
client of that path expects: Nova's (and Cinder's) fault under `/compute` and
`/volume`, Neutron's under `/networking`, Glance's (webob's) under `/image`, the
API-WG body under `/v1` and elsewhere.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import orjson
from starlette.types import Send

from cascade.api.errors import ApiError, api_wg_body, keystone_body
from cascade.api.faults import Fault

# Neutron's exception names per status (webob's, as neutron's API layer answers them)
NEUTRON_TYPES = {
    400: "HTTPBadRequest",
    403: "HTTPForbidden",
    404: "HTTPNotFound",
    405: "HTTPMethodNotAllowed",
    409: "HTTPConflict",
    413: "HTTPRequestEntityTooLarge",
    414: "HTTPRequestURITooLong",
    429: "HTTPTooManyRequests",
    500: "HTTPInternalServerError",
    503: "HTTPServiceUnavailable",
}
# webob's titles where Python's phrases differ (or may: 3.13 renamed 413); Glance's error
# bodies carry webob's
WEBOB_TITLES = {413: "Request Entity Too Large", 414: "Request-URI Too Long"}
# what Glance answers a missing or bad token with: webob's HTTPUnauthorized explanation
# (its context middleware refuses the request keystonemiddleware let through unauthenticated)
GLANCE_UNAUTHORIZED = (
    "This server could not verify that you are authorized to access the document you "
    "requested. Either you supplied the wrong credentials (e.g., bad password), or your "
    "browser does not understand how to supply the credentials required."
)
# the admin API's stable codes for the refusals written here
ADMIN_CODES = {
    400: "cascade.request.invalid",
    409: "cascade.request.conflict",
    413: "cascade.request.size",
    414: "cascade.request.size",
    429: "cascade.request.rate",
    500: "cascade.internal",
    503: "cascade.unavailable",
}


def service_of(path: str) -> str:
    """`compute`, `volume`, `network`, `image` or `admin`: whose error format `path`
    answers in."""
    if path.startswith("/compute"):
        return "compute"
    if path.startswith("/volume"):
        return "volume"
    if path.startswith("/networking"):
        return "network"
    if path == "/image" or path.startswith("/image/"):
        return "image"
    return "admin"


def glance_body(status: int, message: str) -> dict[str, Any]:
    """The body Glance answers an error with (`Accept: application/json`): webob's
    `{"message", "code", "title"}`, the message in webob's page template (explanation,
    `<br /><br />`, then the empty detail and comment lines) and the code the status line,
    e.g. `{"message": "No image found with ID x<br /><br />\\n\\n\\n", "code": "404 Not
    Found", "title": "Not Found"}`."""
    title = WEBOB_TITLES.get(status) or message_of(status)
    return {"message": f"{message}<br /><br />\n\n\n", "code": f"{status} {title}", "title": title}


def auth_error_body(path: str, status: int, message: str) -> dict[str, Any]:
    """A refusal of the token (401) or of Keystone being away (503) as the service of
    `path` answers it: keystonemiddleware's body for Nova, Cinder and Neutron (and the
    admin API), webob's for Glance, which words its 401 itself (`GLANCE_UNAUTHORIZED`)."""
    if service_of(path) == "image":
        return glance_body(status, GLANCE_UNAUTHORIZED if status == 401 else message)
    return keystone_body(status, message)


def error_body(
    path: str, status: int, message: str, request_id: str = "", code: str | None = None
) -> dict[str, Any]:
    """The body of a refusal with `status` and `message` as the service of `path` writes it
    (`code`: the admin API's code or Neutron's exception name, when not the status's
    usual one)."""
    service = service_of(path)
    if service in ("compute", "volume"):
        return Fault(status, message).body()
    if service == "network":
        kind = code or NEUTRON_TYPES.get(status, "HTTPError")
        return {"NeutronError": {"type": kind, "message": message, "detail": ""}}
    if service == "image":
        return glance_body(status, message)
    code = code or ADMIN_CODES.get(status, "cascade.request.invalid")
    return api_wg_body(ApiError(status, message, code), request_id)


def encoded(body: Any) -> bytes:
    """`body` as JSON bytes whatever strings it holds: non-ASCII (and lone surrogates a
    client sent) escaped as `\\uXXXX`, as Nova's and Neutron's jsonutils write them, so an
    error that quotes the caller's input can always be written."""
    return json.dumps(body, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def dumps(body: Any) -> bytes:
    """`body` as compact UTF-8 JSON, what Starlette's JSONResponse writes, by orjson (the
    stdlib encoder was a few percent of a proxied GET's CPU); what orjson refuses
    (integers past 64 bits, keys that are not strings) by the stdlib as before."""
    try:
        return orjson.dumps(body)
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def message_of(status: int) -> str:
    return HTTPStatus(status).phrase


async def send_json(
    send: Send, status: int, body: Any, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """Answer from an ASGI middleware (before any route): `body` as JSON (`encoded`)."""
    data = encoded(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})

"""Pure ASGI middleware: request ids and the microversion echo, Keystone authentication."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import replace

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cascade import logs, metrics
from cascade.api import healthcheck
from cascade.api.boundary import auth_error_body, send_json
from cascade.context import Context
from cascade.identity import KeystoneUnavailable, TokenValidator

_REQUEST_ID = re.compile(r"^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def is_request_id(value: str) -> bool:
    """Whether `value` is an OpenStack request id (`req-<uuid>`)."""
    return _REQUEST_ID.match(value) is not None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


ACCESS = logging.getLogger("cascade.api.access")
ECHO = "microversion_echo"  # scope state: the headers that echo the negotiated version
OPENSTACK_ID = b"x-openstack-request-id"
# APIs (by path prefix) whose service repeats the request id under a header of its own:
# Nova's compute_req_id middleware sets `x-compute-request-id` on everything under
# /v2 and /v2.1 (version documents, errors and 401s included)
SERVICE_IDS = (("/compute/v2", b"x-compute-request-id"),)


class RequestIdMiddleware:
    """Give every request an id (`x-openstack-request-id` on the response), and echo the
    microversion it negotiated (`negotiated_once`) on its answer.

    A valid `X-OpenStack-Request-ID` from the client is kept as the global
    request id, which is what the pods will receive, so one request can be
    followed through every pod's logs.

    An answer that already names its request id (a pod's answer relayed as it
    is, whose id the pod recorded, e.g. in a server's instance actions) keeps
    it; the API's own header (`SERVICE_IDS`) then repeats that id.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = f"req-{uuid.uuid4()}"
        inbound = _header(scope, b"x-openstack-request-id")
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["global_request_id"] = inbound if inbound and _REQUEST_ID.match(inbound) else None
        path = str(scope.get("path", ""))
        service_ids = [name for prefix, name in SERVICE_IDS if path.startswith(prefix)]
        logs.bind(request_id=request_id, global_request_id=state["global_request_id"])
        started = time.monotonic()
        answer = {"status": 0, "length": 0}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.body":
                answer["length"] += len(message.get("body", b""))
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                headers = list(message.get("headers", []))
                given = dict((key.lower(), value) for key, value in headers)
                shown = given.get(OPENSTACK_ID, request_id.encode())
                for name in (OPENSTACK_ID, *service_ids):
                    if name not in given:
                        headers.append((name, shown))
                # the negotiated microversion, echoed on every answer after it (replies
                # and errors alike, as Nova and Cinder do), unless the answer set it
                present = {key.lower() for key, _ in headers}
                for name, value in state.get(ECHO, {}).items():
                    if name.lower().encode() not in present:
                        headers.append((name.lower().encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            took = time.monotonic() - started
            _access(scope, path, answer["status"], answer["length"], took)
            _measure(scope, path, answer["status"], took)


def _measure(scope: Scope, path: str, status: int, took: float) -> None:
    """The request in the metrics: its API (the path's first part; `admin` for /v1),
    its route's template (not the path: ids would make a series each), its status."""
    route = scope.get("route")
    template = getattr(route, "path", None) or "unmatched"
    api = path.split("/", 2)[1] if path.count("/") else ""
    api = "admin" if api == "v1" else api or "root"
    method = str(scope.get("method", ""))
    metrics.REQUESTS.labels(api, template, method, str(status or 0)).inc()
    metrics.REQUEST_SECONDS.labels(api, template, method).observe(took)


def _access(scope: Scope, path: str, status: int, length: int, took: float) -> None:
    """The request's line (nova-api's layout): client, method and path, status, body
    length, seconds. Health checks at DEBUG: a load balancer asks every second or so."""
    client = scope.get("client") or ("-", 0)
    query = scope.get("query_string", b"")
    target = path + ("?" + query.decode("latin-1") if query else "")
    level = logging.DEBUG if path == healthcheck.PATH else logging.INFO
    ACCESS.log(
        level,
        '%s "%s %s" status: %s len: %d time: %.4f',
        client[0],
        scope.get("method", ""),
        target,
        status or "-",
        length,
        took,
    )


class AuthMiddleware:
    """Validate `X-Auth-Token`; 401 with `WWW-Authenticate` when missing or invalid.

    Paths in `public` (version documents) need no token. Keystone itself
    being unreachable is a 503, not the caller's fault. Both in the body the API of the
    path answers them with (`boundary.auth_error_body`: keystonemiddleware's, Glance's).
    """

    def __init__(
        self,
        app: ASGIApp,
        validator: TokenValidator,
        auth_url: str,
        public: Iterable[str] = ("/",),
        admin_of: Callable[[Context], bool] | None = None,
    ) -> None:
        self.app = app
        self.validator = validator
        self.public = set(public)
        # policy `context_is_admin` (the caller's `is_admin`), asked on every request:
        # validated contexts are cached by token, the policy file can change meanwhile
        self.admin_of = admin_of
        self.www_authenticate = f'Keystone uri="{auth_url.removesuffix("/v3")}"'

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.public:
            await self.app(scope, receive, send)
            return
        token = _header(scope, b"x-auth-token")
        try:
            ctx = await self.validator.validate(token) if token and _plausible(token) else None
        except KeystoneUnavailable as exc:
            body = auth_error_body(scope["path"], 503, f"cannot validate the token: {exc}")
            await send_json(send, 503, body)
            return
        if ctx is None:
            await send_json(
                send,
                401,
                auth_error_body(
                    scope["path"], 401, "The request you have made requires authentication."
                ),
                [(b"www-authenticate", self.www_authenticate.encode())],
            )
            return
        logs.bind(user_id=ctx.user_id, project_id=ctx.project_id)
        if self.admin_of is not None:
            ctx = replace(ctx, admin=self.admin_of(ctx))
        scope.setdefault("state", {})["context"] = ctx
        await self.app(scope, receive, send)


def _plausible(token: str) -> bool:
    """Whether `token` can be a Keystone token at all (fernet and JWS tokens are printable
    ASCII of a few hundred characters); anything else is refused without asking Keystone,
    which could not be asked anyway: an HTTP header must be ASCII."""
    return len(token) <= 8192 and all(" " < c < "\x7f" for c in token)

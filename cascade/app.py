"""`create_app(conf)`: the cascade-api ASGI application.

The lifespan owns the database engine, the Keystone validator and the client of the
top's Glance; the HTTP transports towards Keystone, the pods and Glance are injectable
so tests can run fakes of them in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from cascade.api import busy, healthcheck
from cascade.api import metrics as api_metrics
from cascade.api.admin import routes as admin_routes
from cascade.api.boundary import encoded, error_body
from cascade.api.compute import routes as compute_routes
from cascade.api.compute.errors import ComputeError
from cascade.api.errors import ApiError, api_wg_body
from cascade.api.guard import InputGuard
from cascade.api.image import routes as image_routes
from cascade.api.image.glance import Glance
from cascade.api.middleware import AuthMiddleware, RequestIdMiddleware
from cascade.api.network import routes as network_routes
from cascade.api.ratelimit import RateLimitMiddleware, limiter_for
from cascade.api.routing import IndexedRouter
from cascade.api.volume import routes as volume_routes
from cascade.conf import Conf
from cascade.context import Context
from cascade.db.engine import make_engine, sessions
from cascade.db.limits import OutOfRange
from cascade.identity import KeystoneUnavailable, TokenValidator
from cascade.jobs import registry as job_handlers
from cascade.jobs.worker import Worker
from cascade.pods.client import Unsendable
from cascade.pods.registry import PodRegistry
from cascade.policy import ADMIN_RULE, Policy
from cascade.services import (
    drains,  # noqa: F401  (registers its handler)
    health,
    health_follow,
)
from cascade.services.compute import move_job  # noqa: F401  (registers its handler)
from cascade.services.compute.hosts import HostBook
from cascade.services.images import copy_job  # noqa: F401  (registers its handlers)
from cascade.services.network import jobs as network_jobs  # noqa: F401  (registers its handlers)
from cascade.services.network import policies as network_policies
from cascade.services.network.errors import NeutronError
from cascade.services.pod_projects import PodProjects
from cascade.services.scheduling import az_policies
from cascade.services.volume import jobs as volume_jobs  # noqa: F401  (registers its handlers)
from cascade.services.volume import move_job as volume_move_job  # noqa: F401  (registers its handler)
from cascade.services.workflow import Refused

LOG = logging.getLogger(__name__)
# version documents: answered without a token, as the OpenStack services do
PUBLIC_PATHS = (
    "/",
    healthcheck.PATH,
    api_metrics.PATH,
    *compute_routes.PUBLIC,
    *network_routes.PUBLIC,
    *volume_routes.PUBLIC,
    *image_routes.PUBLIC,
)


def _request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


def _json(body: object, status: int, headers: dict[str, str] | None = None) -> Response:
    # written ASCII-only: an error may quote whatever the caller sent
    return Response(encoded(body), status, headers, media_type="application/json")


async def _api_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, KeystoneUnavailable):
        exc = ApiError(503, f"cannot reach Keystone: {exc}", "cascade.keystone.unavailable")
    elif not isinstance(exc, ApiError):
        # Never a bare 500: log it with the request id, answer in the format of the API
        # the client called (Nova's computeFault, Neutron's, the API-WG body).
        LOG.exception("unexpected error in %s", _request_id(request))
        message = "an unexpected error occurred; the request id is in the logs"
        body = error_body(request.url.path, 500, message, _request_id(request))
        return _json(body, 500)
    return _json(api_wg_body(exc, _request_id(request)), exc.status)


async def _own_error(request: Request, exc: Exception) -> Response:
    """Nova's (and Cinder's) fault body, or Neutron's, in the error's own format."""
    assert isinstance(exc, ComputeError | NeutronError)
    headers = exc.headers if isinstance(exc, ComputeError) else None
    return _json(exc.body(), exc.status, headers)


async def _refused(request: Request, exc: Exception) -> Response:
    """What the caller sent cannot be done, found below the handlers: a value too long or
    too large for its column (400), a constraint the database enforces (409), a value
    httpx cannot put in a pod's URL (400), a workflow's refusal (its status); in the
    error format of the request's service."""
    if isinstance(exc, Refused):
        status, message = exc.status, exc.message
    elif isinstance(exc, IntegrityError):
        LOG.info("constraint refused in %s: %s", _request_id(request), exc.orig)
        status, message = 409, "The request conflicts with an existing object."
    elif isinstance(exc, StaleDataError):  # a concurrent request changed or removed it
        status, message = 409, "The object was changed by another request; try again."
    elif isinstance(exc, DataError):
        LOG.info("value refused in %s: %s", _request_id(request), exc.orig)
        status, message = 400, "Invalid input: a value is out of range for its field."
    else:
        status, message = 400, str(exc)
    return _json(error_body(request.url.path, status, message, _request_id(request)), status)


# Starlette's own refusals (no route matches, or no route takes the method), worded as
# webob words them for Nova, Cinder and Neutron
_ROUTING_MESSAGES = {
    404: "The resource could not be found.",
    405: "The method is not allowed for this resource.",
}


async def _routing_error(request: Request, exc: Exception) -> Response:
    """Starlette's 404 and 405 (a path or method no route declares) in the format of the
    API the path is under (`boundary.error_body`), never Starlette's plain text."""
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    message = _ROUTING_MESSAGES.get(status, str(exc.detail))
    body = error_body(request.url.path, status, message, _request_id(request))
    return _json(body, status, dict(exc.headers or {}))


def create_app(
    conf: Conf,
    keystone_transport: httpx.AsyncBaseTransport | None = None,
    pod_transport: httpx.AsyncBaseTransport | None = None,
    image_transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    az_policies(conf.scheduling)  # a bad policy setting stops start-up, not a request
    validator = TokenValidator(conf.keystone, transport=keystone_transport)
    engine = make_engine(conf.database.connection, conf.database)
    registry = PodRegistry(conf.pods, validator, transport=pod_transport)
    # the Image API's way to the top's Glance: one client for the process
    glance = Glance(conf.image, transport=image_transport)
    db_sessions = sessions(engine)
    registry.projects = PodProjects(db_sessions, validator, registry, conf.pods.catalog_ttl)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        tasks = []  # the health checker (or its follower) and the embedded job worker
        interval = conf.pods.health_interval
        if conf.jobs.embedded_worker and interval > 0:
            audits = conf.audit.interval
            tasks.append(health.run_periodically(interval, db_sessions, registry, audits))
        else:  # cascade-worker checks the pods; this process follows (`health_follow`)
            tasks.append(health_follow.run(db_sessions, registry))
        if conf.jobs.embedded_worker:
            tasks.append(Worker(db_sessions, job_handlers.DEFAULT, conf, pods=registry).run())
        running = [asyncio.create_task(task) for task in tasks]
        try:
            yield
        finally:
            for task in running:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await registry.aclose()
            await glance.aclose()
            await validator.aclose()
            await engine.dispose()

    routes = [
        *healthcheck.routes(),
        *api_metrics.routes(),
        *admin_routes.routes(),
        *compute_routes.routes(),
        *network_routes.routes(),
        *volume_routes.routes(),
        *image_routes.routes(),
    ]

    def admin_of(ctx: Context) -> bool:
        # the app's policy as it is at the request (tests and reloads change its rules)
        return bool(app.state.policy.allows(ADMIN_RULE, ctx))

    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(RequestIdMiddleware),
            Middleware(
                AuthMiddleware,
                validator=validator,
                auth_url=conf.keystone.auth_url,
                public=PUBLIC_PATHS,
                admin_of=admin_of,
            ),
            Middleware(RateLimitMiddleware, limiter=limiter_for(conf.api)),
            Middleware(
                InputGuard,
                max_body_bytes=conf.api.max_body_bytes,
                streamed=image_routes.STREAMED,
            ),
        ],
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _routing_error,
            ComputeError: _own_error,
            NeutronError: _own_error,
            KeystoneUnavailable: _api_error,
            OutOfRange: _refused,
            IntegrityError: _refused,
            DataError: _refused,
            StaleDataError: _refused,
            Unsendable: _refused,
            httpx.InvalidURL: _refused,
            Refused: _refused,
            PoolTimeout: busy.pool_exhausted,
            Exception: _api_error,
        },
        lifespan=lifespan,
    )
    # the same routes, tried only where a path can match (see IndexedRouter)
    app.router = IndexedRouter(routes=routes, lifespan=lifespan)
    app.state.conf = conf
    app.state.policy = Policy.from_file(conf.policy.file, network_policies.defaults())
    app.state.sessions = db_sessions
    app.state.registry = registry
    app.state.glance = glance
    app.state.pod_hosts = HostBook()
    app.state.advertised = {}  # see cascade.api.microversions.advertised
    app.state.engine = engine
    return app

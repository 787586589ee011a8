"""`create_app(conf)`: the cascade-api ASGI application.

The lifespan owns the database engine and the Keystone validator; the HTTP
transport towards Keystone is injectable so tests can run a fake Keystone
in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cascade.api.admin import routes as admin_routes
from cascade.api.compute import routes as compute_routes
from cascade.api.compute.errors import ComputeError
from cascade.api.errors import ApiError, api_wg_body
from cascade.api.middleware import AuthMiddleware, RequestIdMiddleware
from cascade.api.network import routes as network_routes
from cascade.api.volume import routes as volume_routes
from cascade.conf import Conf
from cascade.db.engine import make_engine, sessions
from cascade.identity import KeystoneUnavailable, TokenValidator
from cascade.jobs import registry as job_handlers
from cascade.jobs.worker import Worker
from cascade.pods.registry import PodRegistry
from cascade.policy import Policy
from cascade.services import (
    health,
    volume_jobs,  # noqa: F401  (registers its handlers)
)
from cascade.services.hosts import HostBook
from cascade.services.network import jobs as network_jobs  # noqa: F401  (registers its handlers)
from cascade.services.network import policies as network_policies
from cascade.services.network.errors import NeutronError
from cascade.services.scheduling import az_policies

LOG = logging.getLogger(__name__)
# version documents: answered without a token, as the OpenStack services do
PUBLIC_PATHS = (
    "/",
    *compute_routes.PUBLIC,
    *network_routes.PUBLIC,
    *volume_routes.PUBLIC,
)


def _request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse(api_wg_body(exc, _request_id(request)), status_code=exc.status)


async def _compute_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ComputeError)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


async def _neutron_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NeutronError)
    return JSONResponse(exc.body(), status_code=exc.status)


async def _keystone_down(request: Request, exc: Exception) -> Response:
    error = ApiError(503, f"cannot reach Keystone: {exc}", "cascade.keystone.unavailable")
    return JSONResponse(api_wg_body(error, _request_id(request)), status_code=503)


async def _unexpected(request: Request, exc: Exception) -> Response:
    # Never a bare 500: log it with the request id, answer in the API's own format.
    LOG.exception("unexpected error in %s", _request_id(request))
    error = ApiError(
        500, "an unexpected error occurred; the request id is in the logs", "cascade.internal"
    )
    return JSONResponse(api_wg_body(error, _request_id(request)), status_code=500)


def create_app(
    conf: Conf,
    keystone_transport: httpx.AsyncBaseTransport | None = None,
    pod_transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    az_policies(conf.scheduling)  # a bad policy setting stops start-up, not a request
    validator = TokenValidator(conf.keystone, transport=keystone_transport)
    engine = make_engine(conf.database.connection)
    registry = PodRegistry(conf.pods, validator, transport=pod_transport)
    db_sessions = sessions(engine)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        checker = None
        if conf.pods.health_interval > 0:
            checker = asyncio.create_task(
                health.run_periodically(conf.pods.health_interval, db_sessions, registry)
            )
        job_worker = None
        if conf.jobs.embedded_worker:
            job_worker = asyncio.create_task(
                Worker(db_sessions, job_handlers.DEFAULT, conf, pods=registry).run()
            )
        try:
            yield
        finally:
            if checker is not None:
                checker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await checker
            if job_worker is not None:
                job_worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await job_worker
            await registry.aclose()
            await validator.aclose()
            await engine.dispose()

    routes = [
        *admin_routes.routes(),
        *compute_routes.routes(),
        *network_routes.routes(),
        *volume_routes.routes(),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(RequestIdMiddleware),
            Middleware(
                AuthMiddleware,
                validator=validator,
                auth_url=conf.keystone.auth_url,
                public=PUBLIC_PATHS,
            ),
        ],
        exception_handlers={
            ApiError: _api_error,
            ComputeError: _compute_error,
            NeutronError: _neutron_error,
            KeystoneUnavailable: _keystone_down,
            Exception: _unexpected,
        },
        lifespan=lifespan,
    )
    app.state.conf = conf
    app.state.policy = Policy.from_file(conf.policy.file, network_policies.defaults())
    app.state.sessions = db_sessions
    app.state.registry = registry
    app.state.pod_hosts = HostBook()
    app.state.advertised = {}  # see cascade.api.request.advertised
    app.state.engine = engine
    return app

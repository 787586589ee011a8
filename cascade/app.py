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
from starlette.routing import Route

from cascade.api.admin import bindings, pods, routings, versions
from cascade.api.admin import jobs as admin_jobs
from cascade.api.compute import aggregates as compute_aggregates
from cascade.api.compute import (
    availability_zones,
    external_events,
    server_groups,
    server_lists,
    servers,
)
from cascade.api.compute import flavor_access as compute_flavor_access
from cascade.api.compute import flavors as compute_flavors
from cascade.api.compute import flavors_extraspecs as compute_flavor_specs
from cascade.api.compute import hypervisors as compute_hypervisors
from cascade.api.compute import keypairs as compute_keypairs
from cascade.api.compute import limits as compute_limits
from cascade.api.compute import quota_classes as compute_quota_classes
from cascade.api.compute import quota_sets as compute_quota_sets
from cascade.api.compute import services as compute_services
from cascade.api.compute import versions as compute_versions
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
from cascade.services.network.errors import NeutronError
from cascade.services.scheduling import az_policies

LOG = logging.getLogger(__name__)
# version documents: answered without a token, as the OpenStack services do
PUBLIC_PATHS = (
    "/",
    "/compute",
    "/compute/",
    "/compute/v2.1",
    "/compute/v2.1/",
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
        Route("/", versions.root, methods=["GET"]),
        Route("/v1/pods", pods.index, methods=["GET"]),
        Route("/v1/pods", pods.create, methods=["POST"]),
        Route("/v1/pods/{pod_id}", pods.show, methods=["GET"], name="pod"),
        Route("/v1/pods/{pod_id}", pods.update, methods=["PATCH"]),
        Route("/v1/pods/{pod_id}", pods.delete, methods=["DELETE"]),
        Route("/v1/bindings", bindings.index, methods=["GET"]),
        Route("/v1/bindings", bindings.create, methods=["POST"]),
        Route("/v1/bindings/{binding_id}", bindings.show, methods=["GET"]),
        Route("/v1/bindings/{binding_id}", bindings.delete, methods=["DELETE"]),
        Route("/v1/routings", routings.index, methods=["GET"]),
        Route("/v1/routings/{routing_id}", routings.show, methods=["GET"]),
        Route("/v1/routings/{routing_id}", routings.delete, methods=["DELETE"]),
        Route("/v1/routings/{routing_id}/check", routings.check, methods=["POST"]),
        Route("/v1/jobs", admin_jobs.index, methods=["GET"]),
        Route("/v1/jobs/{job_id}", admin_jobs.show, methods=["GET"]),
        Route("/v1/jobs/{job_id}", admin_jobs.delete, methods=["DELETE"]),
        Route("/v1/jobs/{job_id}/redo", admin_jobs.redo, methods=["POST"]),
        Route("/compute", compute_versions.root, methods=["GET"]),
        Route("/compute/", compute_versions.root, methods=["GET"]),
        Route("/compute/v2.1", compute_versions.v21, methods=["GET"]),
        Route("/compute/v2.1/", compute_versions.v21, methods=["GET"]),
        Route("/compute/v2.1/os-availability-zone", availability_zones.index, methods=["GET"]),
        Route(
            "/compute/v2.1/os-availability-zone/detail",
            availability_zones.detail,
            methods=["GET"],
        ),
        Route("/compute/v2.1/os-keypairs", compute_keypairs.index, methods=["GET"]),
        Route("/compute/v2.1/os-keypairs", compute_keypairs.create, methods=["POST"]),
        Route("/compute/v2.1/os-keypairs/{name}", compute_keypairs.show, methods=["GET"]),
        Route("/compute/v2.1/os-keypairs/{name}", compute_keypairs.delete, methods=["DELETE"]),
        Route("/compute/v2.1/os-server-external-events", external_events.create, methods=["POST"]),
        Route("/compute/v2.1/os-server-groups", server_groups.index, methods=["GET"]),
        Route("/compute/v2.1/os-server-groups", server_groups.create, methods=["POST"]),
        Route("/compute/v2.1/os-server-groups/{group_id}", server_groups.show, methods=["GET"]),
        Route(
            "/compute/v2.1/os-server-groups/{group_id}", server_groups.delete, methods=["DELETE"]
        ),
        Route("/compute/v2.1/servers", server_lists.index, methods=["GET"]),
        Route("/compute/v2.1/servers", servers.create, methods=["POST"]),
        Route("/compute/v2.1/servers/detail", server_lists.detail, methods=["GET"]),
        Route("/compute/v2.1/servers/{server_id}", servers.show, methods=["GET"]),
        Route(
            "/compute/v2.1/servers/{server_id}",
            servers.member,
            methods=["PUT", "DELETE", "POST", "PATCH"],
        ),
        Route(
            "/compute/v2.1/servers/{server_id}/{rest:path}",
            servers.member,
            methods=["GET", "PUT", "DELETE", "POST", "PATCH"],
        ),
        Route("/compute/v2.1/flavors", compute_flavors.index, methods=["GET"]),
        Route("/compute/v2.1/flavors", compute_flavors.create, methods=["POST"]),
        Route("/compute/v2.1/flavors/detail", compute_flavors.detail, methods=["GET"]),
        Route("/compute/v2.1/flavors/{flavor_id}", compute_flavors.show, methods=["GET"]),
        Route("/compute/v2.1/flavors/{flavor_id}", compute_flavors.update, methods=["PUT"]),
        Route("/compute/v2.1/flavors/{flavor_id}", compute_flavors.delete, methods=["DELETE"]),
        Route(
            "/compute/v2.1/flavors/{flavor_id}/os-extra_specs",
            compute_flavor_specs.index,
            methods=["GET"],
        ),
        Route(
            "/compute/v2.1/flavors/{flavor_id}/os-extra_specs",
            compute_flavor_specs.create,
            methods=["POST"],
        ),
        Route(
            "/compute/v2.1/flavors/{flavor_id}/os-extra_specs/{key}",
            compute_flavor_specs.show,
            methods=["GET"],
        ),
        Route(
            "/compute/v2.1/flavors/{flavor_id}/os-extra_specs/{key}",
            compute_flavor_specs.update,
            methods=["PUT"],
        ),
        Route(
            "/compute/v2.1/flavors/{flavor_id}/os-extra_specs/{key}",
            compute_flavor_specs.delete,
            methods=["DELETE"],
        ),
        Route(
            "/compute/v2.1/flavors/{flavor_id}/os-flavor-access",
            compute_flavor_access.index,
            methods=["GET"],
        ),
        Route(
            "/compute/v2.1/flavors/{flavor_id}/action",
            compute_flavor_access.action,
            methods=["POST"],
        ),
        Route("/compute/v2.1/limits", compute_limits.index, methods=["GET"]),
        Route("/compute/v2.1/os-quota-sets/{project_id}", compute_quota_sets.show, methods=["GET"]),
        Route(
            "/compute/v2.1/os-quota-sets/{project_id}", compute_quota_sets.update, methods=["PUT"]
        ),
        Route(
            "/compute/v2.1/os-quota-sets/{project_id}",
            compute_quota_sets.delete,
            methods=["DELETE"],
        ),
        Route(
            "/compute/v2.1/os-quota-sets/{project_id}/defaults",
            compute_quota_sets.defaults,
            methods=["GET"],
        ),
        Route(
            "/compute/v2.1/os-quota-sets/{project_id}/detail",
            compute_quota_sets.detail,
            methods=["GET"],
        ),
        Route(
            "/compute/v2.1/os-quota-class-sets/{class_name}",
            compute_quota_classes.show,
            methods=["GET"],
        ),
        Route(
            "/compute/v2.1/os-quota-class-sets/{class_name}",
            compute_quota_classes.update,
            methods=["PUT"],
        ),
        Route("/compute/v2.1/os-hypervisors", compute_hypervisors.index, methods=["GET"]),
        Route("/compute/v2.1/os-hypervisors/detail", compute_hypervisors.detail, methods=["GET"]),
        Route(
            "/compute/v2.1/os-hypervisors/statistics",
            compute_hypervisors.statistics,
            methods=["GET"],
        ),
        Route(
            "/compute/v2.1/os-hypervisors/{hypervisor_id}",
            compute_hypervisors.show,
            methods=["GET"],
        ),
        Route(
            "/compute/v2.1/os-hypervisors/{hypervisor_id}/uptime",
            compute_hypervisors.uptime,
            methods=["GET"],
        ),
        Route(
            "/compute/v2.1/os-hypervisors/{pattern}/search",
            compute_hypervisors.search,
            methods=["GET"],
        ),
        Route(
            "/compute/v2.1/os-hypervisors/{pattern}/servers",
            compute_hypervisors.servers,
            methods=["GET"],
        ),
        Route("/compute/v2.1/os-services", compute_services.index, methods=["GET"]),
        Route("/compute/v2.1/os-services/{service_id}", compute_services.update, methods=["PUT"]),
        Route(
            "/compute/v2.1/os-services/{service_id}",
            compute_services.delete,
            methods=["DELETE"],
        ),
        Route("/compute/v2.1/os-aggregates", compute_aggregates.index, methods=["GET"]),
        Route("/compute/v2.1/os-aggregates", compute_aggregates.create, methods=["POST"]),
        Route(
            "/compute/v2.1/os-aggregates/{aggregate_id}", compute_aggregates.show, methods=["GET"]
        ),
        Route(
            "/compute/v2.1/os-aggregates/{aggregate_id}", compute_aggregates.update, methods=["PUT"]
        ),
        Route(
            "/compute/v2.1/os-aggregates/{aggregate_id}",
            compute_aggregates.delete,
            methods=["DELETE"],
        ),
        Route(
            "/compute/v2.1/os-aggregates/{aggregate_id}/action",
            compute_aggregates.action,
            methods=["POST"],
        ),
        Route(
            "/compute/v2.1/os-aggregates/{aggregate_id}/images",
            compute_aggregates.images,
            methods=["POST"],
        ),
        Route(
            "/compute/v2.1/{path:path}",
            compute_versions.not_served_yet,
            methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        ),
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
    app.state.policy = Policy.from_file(conf.policy.file)
    app.state.sessions = db_sessions
    app.state.registry = registry
    app.state.pod_hosts = HostBook()
    app.state.advertised = {}  # see cascade.api.request.advertised
    app.state.engine = engine
    return app

"""Sending a compute request on to a pod and its answer back to the client.

The pod is called with the caller's own token, the negotiated microversion
and the request id. Its answer comes back with links pointing at the top,
the top's AZ and flavor in servers, `Location` moved to the top, the
microversion echoed and `X-Cascade-Pod` naming the pod; a server's addresses and
security groups are labelled with the top networks' and groups' names (the pods'
copies are named by top id). A pod's error keeps
its status and message, with the pod named; an unreachable or timed-out pod
is a 503 that says which pod.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from cascade.api.boundary import dumps
from cascade.api.compute import server_views
from cascade.api.compute.errors import ComputeError
from cascade.api.middleware import is_request_id
from cascade.api.request import caller_of, context, policy_of
from cascade.context import Context
from cascade.db.models import Pod
from cascade.pods.client import PodUnavailable
from cascade.pods.compute import Caller, call, endpoint, pod_message, root_of
from cascade.services import resources, routed, workflow
from cascade.services.compute import moves, server_create
from cascade.services.compute import servers as server_service
from cascade.services.network import names as network_names
from cascade.services.route_cache import RouteCache
from cascade.versions import Version

POD_HEADER = "X-Cascade-Pod"
OPENSTACK_REQUEST_ID = "x-openstack-request-id"
# a pod client's service as a message names it (a server create may call Cinder too)
SERVICE_NAMES = {"volume": "block storage"}
T = TypeVar("T")


def caller_for(request: Request, version: Version) -> Caller:
    return caller_of(Caller, request, version)


def workflow_env(request: Request) -> workflow.Env:
    return workflow.Env.of(request.app.state)


def asker(request: Request, ctx: Context, version: Version) -> server_create.Ask:
    """Who asks, for the services' workflows: the caller's pod calls, the request's own id
    and the caller's Networking policy."""
    local_id = str(request.scope["state"]["request_id"])  # a global id may repeat
    caller = caller_for(request, version)
    return server_create.Ask(ctx, caller, local_id, *policy_of(request, ctx))


def scope(ctx: Context) -> str | None:
    """Whose resources a caller may reach by id: its project's, or (admins) any."""
    return None if ctx.is_admin else ctx.project_id


async def locate(
    request: Request,
    db: AsyncSession,
    object_id: str,
    version: Version,
    kind: str = server_service.SERVER,
) -> routed.Located:
    """The pod of a routed object (a server by default), or Nova's 404 for its kind."""
    try:
        return await server_service.locate(
            db,
            request.app.state.registry,
            caller_for(request, version),
            object_id,
            scope(context(request)),
            kind=kind,
        )
    except routed.NotFound:
        raise missing(kind, object_id) from None


def pod_id_of(where: routed.Located) -> str:
    """The located object's id in its pod: its top id, unless it was moved there from
    another pod (`services.compute.moves`)."""
    return where.routing.bottom_id or where.routing.top_id


def missing(kind: str, object_id: str) -> ComputeError:
    """Nova's 404 for a routed object of `kind` (its description's message)."""
    return ComputeError(404, resources.BY_KIND[kind].missing.format(id=object_id))


async def gone(request: Request, db: AsyncSession, where: routed.Located) -> ComputeError:
    """The pod's 404 for a located object: its routing goes or is marked (`routed.gone`),
    and Nova's 404 for its kind is the answer."""
    routing = where.routing
    error = missing(routing.resource_type, routing.top_id)
    await routed.gone(db, routing, where.pod, request.app.state.registry.cache(RouteCache))
    return error


def top_root(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/compute/"


def next_link(request: Request, path: str, last: str) -> str:
    """A list's `next` link at the top: `v2.1/<path>` with the request's query, the
    marker now `last`."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "marker"]
    params.append(("marker", last))
    return f"{top_root(request)}v2.1/{path}?{urlencode(params)}"


async def send(
    request: Request,
    pod: Pod,
    version: Version,
    method: str,
    path: str,
    **kwargs: Any,
) -> httpx.Response:
    """The pod's answer; 503 (naming the pod) when it cannot be had. Servers and volumes
    moved into the pod from another are named by their top ids both ways."""
    kept = await server_moves_of(request, None, pod)
    path, kwargs = moves.request_to_pod(kept, path, kwargs)
    try:
        resp = await call(
            request.app.state.registry, pod, caller_for(request, version), method, path, **kwargs
        )
    except PodUnavailable as exc:
        raise unavailable(exc) from exc
    return moves.answer_from_pod(kept, resp)


async def listed(
    request: Request, pod: Pod, caller: Caller, path: str, params: list[tuple[str, str]]
) -> httpx.Response:
    """A pod's answer to a list call that is merged with other pods': a 5xx leaves the pod
    out (`PodUnavailable`, for the fan-out), a 4xx is the answer (the pod named)."""
    resp = await call(request.app.state.registry, pod, caller, "GET", path, params=params)
    if resp.status_code >= 500:
        raise PodUnavailable(pod.name, "compute", f"answered {resp.status_code}")
    if resp.status_code >= 400:
        raise pod_error(resp, pod)
    return resp


@contextmanager
def refusals() -> Iterator[None]:
    """The services' refusals as Nova's errors: the top's own (`workflow.Refused`), and a
    pod that cannot be reached (503, naming it)."""
    try:
        yield
    except workflow.Refused as exc:
        raise ComputeError(exc.status, exc.message) from exc
    except PodUnavailable as exc:
        raise unavailable(exc) from exc


def unavailable(exc: PodUnavailable) -> ComputeError:
    return ComputeError(
        503,
        f"The {SERVICE_NAMES.get(exc.service, exc.service)} service of pod {exc.pod} is "
        f"unavailable: {exc.reason}",
    )


def pod_error(resp: httpx.Response, pod: Pod) -> ComputeError:
    """A pod's error as the top's, with the pod named."""
    status = resp.status_code if resp.status_code < 600 else 502
    return ComputeError(status, f"{pod_message(resp)} (pod {pod.name})")


async def pod_root(request: Request, pod: Pod) -> str:
    return root_of(await endpoint(request.app.state.registry, pod))


async def top_view(
    request: Request,
    db: AsyncSession | None,
    pod: Pod,
    body: Any,
    root: str | None = None,
    urls_done: bool = False,
) -> Any:
    """A pod's JSON body as the top shows it (`db`: a session to use, else one is opened
    only if the pod's flavor names are not remembered)."""
    if not urls_done:
        body = server_views.rewrite_urls(
            body, root or await pod_root(request, pod), top_root(request)
        )
    if not isinstance(body, dict):
        return body
    found = [body["server"]] if isinstance(body.get("server"), dict) else []
    found += [s for s in body.get("servers", []) if isinstance(s, dict)]
    if found:
        registry = request.app.state.registry
        sessions = request.app.state.sessions
        names = await server_service.flavor_names(sessions, db, pod.id, registry)
        kept = await server_moves_of(request, db, pod)
        for item in found:
            server_views.server(item, pod, names.get)
            kept.overlay(item)
    # a server's addresses alone (`GET /servers/{id}/ips`): labelled as in its view
    if isinstance(body.get("addresses"), dict) and not isinstance(body.get("server"), dict):
        found.append(body)
    if found and network_names.uuid_labels(found):
        await _with_db(request, db, lambda d: network_names.rename_addresses(d, found))
    if found and network_names.uuid_groups(found):
        await _with_db(request, db, lambda d: network_names.rename_groups(d, found))
    attachments = body.get("interfaceAttachments")
    if attachments is None and isinstance(body.get("interfaceAttachment"), dict):
        attachments = [body["interfaceAttachment"]]
    if isinstance(attachments, list) and attachments:
        items = [a for a in attachments if isinstance(a, dict)]
        await _with_db(request, db, lambda d: network_names.top_interfaces(d, pod.id, items))
    return body


async def server_moves_of(request: Request, db: AsyncSession | None, pod: Pod) -> moves.PodMoves:
    """What the pod's answers need of servers moved into or out of it (kept per process)."""
    state = request.app.state
    return (await moves.of_pods(state.sessions, db, state.registry, [pod.id]))[pod.id]


async def _with_db(
    request: Request, db: AsyncSession | None, run: Callable[[AsyncSession], Awaitable[T]]
) -> T:
    """`run` on `db`, or on a session of its own when there is none."""
    if db is not None:
        return await run(db)
    async with request.app.state.sessions() as fresh:
        return await run(fresh)


async def relay(
    request: Request,
    db: AsyncSession | None,
    pod: Pod,
    resp: httpx.Response,
    edit: Callable[[Any], None] | None = None,
) -> Response:
    """The pod's answer to the client: errors named, bodies and Location at the top
    (`edit`, if given, changes the decoded body first).

    A success carries the pod's request id (`x-openstack-request-id`, which the
    request id middleware repeats as `x-compute-request-id`): it is the id the pod
    recorded, e.g. as the `request_id` of the server's instance action, which
    clients look up by the id their request was answered with. The pod's logs
    name the top's id with it (the global request id the pod was sent)."""
    if resp.status_code >= 400:
        raise pod_error(resp, pod)
    headers = {POD_HEADER: pod.name}
    pod_request_id = resp.headers.get("x-compute-request-id", "")
    if is_request_id(pod_request_id):
        headers[OPENSTACK_REQUEST_ID] = pod_request_id
    root = await pod_root(request, pod)
    location = resp.headers.get("location")
    if location:
        headers["Location"] = server_views.rewrite_urls(location, root, top_root(request))
    if not resp.content:
        return Response(status_code=resp.status_code, headers=headers)
    content_type = resp.headers.get("content-type", "application/json")
    if "json" not in content_type:
        return Response(resp.content, resp.status_code, headers, media_type=content_type)
    kept = await server_moves_of(request, db, pod)
    decoded = server_views.pod_json(kept.translated(resp.text), root, top_root(request))
    if edit is not None:
        edit(decoded)
    body = await top_view(request, db, pod, decoded, root, urls_done=True)
    return Response(dumps(body), resp.status_code, headers, media_type="application/json")

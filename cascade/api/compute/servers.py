"""Servers: create in the pod the AZ chooses, everything else routed by id.

- POST /servers: the AZ named in the body (or the project's binding, or the
  configured default) chooses the pod; the top flavor and the keypair are
  copied into the pod first; the body goes on with only `flavorRef` and the
  AZ rewritten to the pod's names. 202 with the pod's answer (links at the
  top, `X-Cascade-Pod` naming the pod). A flavor the caller cannot see is
  400, an unknown AZ 400, an unknown key 400, as Nova says them.
- GET /servers/{id}: the pod's server, as the top shows it. A pod that does
  not answer is 503, or at 2.69+ the UNKNOWN stub Nova shows for a down cell.
- Any other method or sub-resource under /servers/{id}: forwarded unchanged
  (query, body, microversion) to the server's pod; `resize` gets the pod's
  copy of the flavor and `rebuild` the keypair copied. DELETE marks the
  routing `deleting`; the pod's 404 afterwards removes it.
- An id no routing and no pod knows (or another project's server) is 404
  `Instance <id> could not be found.`
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from cascade.api.compute import forward, server_groups, server_views, volume_pods
from cascade.api.compute.errors import ComputeError
from cascade.api.compute.versions import negotiated
from cascade.api.handlers import authorize, json_body, raw_body, reply
from cascade.api.request import context, policy_of, session
from cascade.context import Context
from cascade.db.models import Flavor, FlavorAccess, Pod
from cascade.pods.client import PodUnavailable
from cascade.pods.compute import PodRefused
from cascade.pods.compute import call as pod_call
from cascade.services import capacity, flavor_copies, keypair_copies, scheduling
from cascade.services import flavors as flavor_service
from cascade.services import keypairs as keypair_service
from cascade.services import quotas as quota_service
from cascade.services import servers as server_service
from cascade.services.network import server_ports
from cascade.services.network.access import Caller as NetCaller
from cascade.services.route_cache import RouteCache
from cascade.versions import Version

POD_TAG = "cascade:pod_tag"


def not_found(server_id: str) -> ComputeError:
    return ComputeError(404, f"Instance {server_id} could not be found.")


def bad(message: str) -> ComputeError:
    return ComputeError(400, message)


async def _top_flavor(db: AsyncSession, ctx: Context, ref: Any) -> Flavor:
    flavor_id = str(ref).rstrip("/").rsplit("/", 1)[-1] if ref is not None else ""
    flavor = await db.get(Flavor, flavor_id) if flavor_id else None
    if flavor is not None and not flavor.is_public and not ctx.is_admin:
        granted = await db.scalar(
            select(FlavorAccess.id).where(
                FlavorAccess.flavor_id == flavor_id, FlavorAccess.project_id == ctx.project_id
            )
        )
        if granted is None:
            flavor = None
    if flavor is None:
        raise bad(f"Flavor {ref} could not be found.")
    if flavor.disabled:
        raise bad("Flavor is disabled.")
    return flavor


async def _choose_pod(
    request: Request, db: AsyncSession, ctx: Context, az: str | None, flavor: Flavor, v: Version
) -> Pod:
    conf = request.app.state.conf.scheduling
    project = ctx.project_id or ""
    tag = flavor.extra_specs.get(POD_TAG)
    registry = request.app.state.registry

    async def room_of(pod: Pod) -> capacity.Capacity | None:
        return await capacity.of(registry, pod, forward.caller_for(request, v).request_id)

    try:
        if az is None:
            az = await scheduling.default_az(db, conf, project, tag)
        elif not await scheduling.az_exists(db, az):
            raise bad("The requested availability zone is not available")
        need = (flavor.ram, flavor.disk + flavor.ephemeral)
        deadline = registry.list_deadline
        return await scheduling.pod_for(
            db, conf, project, az, tag=tag, room_of=room_of, need=need, room_deadline=deadline
        )
    except scheduling.NoPodForAz as exc:
        status = 409 if tag else 503
        raise ComputeError(status, f"No pod can take the server: {exc}.") from exc


async def _check_quota(
    request: Request,
    db: AsyncSession,
    ctx: Context,
    server: dict[str, Any],
    flavor: Flavor,
    version: Version,
) -> None:
    """Nova's 403 before any pod is called when the top quota has no room. The count
    checked is max_count: a pod may create that many (Nova would create fewer, down
    to min_count, where only those fit; the top refuses instead)."""
    try:
        count = int(server.get("max_count", server.get("min_count", 1)))
    except (TypeError, ValueError):
        return  # the pod answers Nova's 400 for a count that is not a number
    try:
        await quota_service.check_create(
            db,
            request.app.state.registry,
            forward.caller_for(request, version),
            ctx.project_id or "",
            max(count, 1),
            flavor.vcpus,
            flavor.ram,
            conf=request.app.state.conf.quota,
            user_id=ctx.user_id,
        )
    except quota_service.OverQuota as exc:
        raise ComputeError(403, exc.message) from None


def _split_az(value: Any) -> tuple[str | None, str]:
    """`az`, `az:host` or `az:host:node` (admins): the top AZ and the rest."""
    if value is None:
        return None, ""
    if not isinstance(value, str) or not value:
        raise bad(f"Invalid input for field/attribute availability_zone. Value: {value}.")
    az, sep, rest = value.partition(":")
    return (az or None), sep + rest


async def create(request: Request) -> Response:
    version = await negotiated(request)
    ctx = authorize(request, "os_compute_api:servers:create")
    body = await json_body(request)
    server = body.get("server") if isinstance(body, dict) else None
    if not isinstance(server, dict):
        raise bad("Invalid input for field/attribute server: 'server' is a required object.")
    az, host_part = _split_az(server.get("availability_zone"))
    registry = request.app.state.registry
    caller = forward.caller_for(request, version)
    async with session(request) as db:
        flavor = await _top_flavor(db, ctx, server.get("flavorRef"))
        tag = flavor.extra_specs.get(POD_TAG)
        hints = body.get("OS-SCH-HNT:scheduler_hints", body.get("os:scheduler_hints"))
        pod = await server_groups.group_pod(db, registry, caller, ctx, hints)
        volumes_pod = await volume_pods.boot_pod(request, db, server, az)
        if volumes_pod is not None:
            if pod is not None and pod.id != volumes_pod.id:
                raise bad(
                    f"The server group lives in pod {pod.name} and the server's volumes in "
                    f"pod {volumes_pod.name}.",
                )
            pod = volumes_pod
        await _check_quota(request, db, ctx, server, flavor, version)
        if pod is None:
            pod = await _choose_pod(request, db, ctx, az, flavor, version)
        elif az is not None and az != pod.az:
            raise bad(
                f"The server group lives in availability zone {pod.az} (pod {pod.name}), "
                f"not in {az}.",
            )
        elif tag and tag not in (pod.tags or []):
            raise ComputeError(
                409,
                f"The server group's pod {pod.name} does not have the tag {tag!r} "
                f"that flavor {flavor.id} requires.",
            )
        try:
            server["flavorRef"] = await flavor_copies.ensure_in_pod(
                db, registry, pod, flavor.id, caller.request_id
            )
            if server.get("key_name") is not None:
                await keypair_copies.ensure_in_pod(
                    db, registry, pod, ctx.user_id, str(server["key_name"]), caller
                )
            await volume_pods.bdm_types(request, db, server, pod)
        except keypair_service.KeypairNotFound:
            raise bad("Invalid key_name provided.") from None
        except flavor_service.PodCopyFailed as exc:
            raise ComputeError(exc.status, str(exc)) from exc
        except keypair_copies.KeypairCopyFailed as exc:
            raise ComputeError(exc.status, str(exc)) from exc
        except PodUnavailable as exc:
            raise forward.unavailable(exc) from exc
        if az is not None:
            server["availability_zone"] = pod.pod_az + host_part
        # keyed by this request's own id: a client's global request id may repeat
        local_id = str(request.scope["state"]["request_id"])
        wired = await _networks(request, db, ctx, pod, server, local_id)
        intent = await server_service.intent(db, local_id, pod, ctx.project_id or "")
        resp = await forward.send(
            request,
            pod,
            version,
            "POST",
            "/servers",
            content=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        if resp.status_code >= 400:
            await server_service.forget_intent(db, intent)
            async with _net_caller(request, ctx) as net:
                await server_ports.release(net, wired)
            raise forward.pod_error(resp, pod)
        made = resp.json()
        await _record_created(request, db, pod, made, intent, version, ctx)
        new_id = made.get("server", {}).get("id") if isinstance(made, dict) else None
        if new_id and wired.used:
            async with _net_caller(request, ctx) as net:
                await server_ports.attach(net, wired, str(new_id), pod.az)
        return await forward.relay(request, db, pod, resp)


@asynccontextmanager
async def _net_caller(request: Request, ctx: Context) -> AsyncIterator[NetCaller]:
    """The networking services' caller, on a session of its own: their rollbacks (an
    address taken concurrently) must not expire what this request has loaded."""
    conf = request.app.state.conf.network
    async with request.app.state.sessions() as db:
        yield NetCaller(db, conf, ctx.project_id or "", *policy_of(request, ctx))


async def _networks(
    request: Request,
    db: AsyncSession,
    ctx: Context,
    pod: Pod,
    server: dict[str, Any],
    request_id: str,
) -> server_ports.Translated:
    """The request's top networks and ports, built in `pod` and named by bottom port."""
    registry = request.app.state.registry
    async with _network_errors(), _net_caller(request, ctx) as net:
        return await server_ports.translate(net, registry, pod, server, request_id)


@asynccontextmanager
async def _network_errors() -> AsyncIterator[None]:
    """Networking refusals as Nova's errors: the top's own, or the pod's with it named."""
    try:
        yield
    except server_ports.ServerNetworkError as exc:
        raise ComputeError(exc.status, exc.message) from exc
    except PodRefused as exc:
        status = exc.status if exc.status < 500 else 502
        raise ComputeError(status, str(exc)) from exc
    except PodUnavailable as exc:
        raise forward.unavailable(exc) from exc


async def _record_created(
    request: Request,
    db: AsyncSession,
    pod: Pod,
    made: Any,
    intent: Any,
    version: Version,
    ctx: Context,
) -> None:
    project = ctx.project_id or ""
    first = made.get("server", {}).get("id") if isinstance(made, dict) else None
    if first:
        await server_service.record(db, str(first), pod.id, project, intent)
    reservation = made.get("reservation_id") if isinstance(made, dict) else None
    if not reservation:
        return
    # a multiple create: every server of the reservation gets its routing now
    try:
        listed = await forward.send(
            request, pod, version, "GET", "/servers", params={"reservation_id": reservation}
        )
    except ComputeError:
        return  # the routings are written when the servers are first looked up
    ids = [s["id"] for s in listed.json().get("servers", [])] if listed.status_code == 200 else []
    for n, server_id in enumerate(ids):
        await server_service.record(db, server_id, pod.id, project, intent if n == 0 else None)


async def show(request: Request) -> Response:
    version = await negotiated(request)
    ctx = authorize(request, "os_compute_api:servers:show")
    server_id = request.path_params["server_id"]
    fast = await _show_remembered(request, ctx, server_id, version)
    if fast is not None:
        return fast
    async with session(request) as db:
        where = await forward.locate(request, db, server_id, version, not_found(server_id))
        try:
            resp = await pod_call(
                request.app.state.registry,
                where.pod,
                forward.caller_for(request, version),
                "GET",
                f"/servers/{server_id}",
                params=list(request.query_params.multi_items()),
            )
        except PodUnavailable as exc:
            if version < Version(2, 69):
                raise forward.unavailable(exc) from exc
            return _down_stub(request, where)
        if resp.status_code == 404:
            await server_service.gone(
                db, where.routing, where.pod, request.app.state.registry.cache(RouteCache)
            )
            raise not_found(server_id)
        return await forward.relay(request, db, where.pod, resp)


async def _show_remembered(
    request: Request, ctx: Context, server_id: str, version: Version
) -> Response | None:
    """The common case without the database: a routing this process remembers, its pod
    answering 200. Anything else (None) takes the full path, which asks again."""
    registry = request.app.state.registry
    known = registry.cache(RouteCache).get(server_service.SERVER, server_id)
    if known is None:
        return None
    pod_id, project_id = known
    if not ctx.is_admin and project_id != ctx.project_id:
        raise not_found(server_id)
    pod = await registry.cache(RouteCache).pod(request.app.state.sessions, pod_id)
    if pod is None:
        return None
    try:
        resp = await pod_call(
            registry,
            pod,
            forward.caller_for(request, version),
            "GET",
            f"/servers/{server_id}",
            params=list(request.query_params.multi_items()),
        )
    except PodUnavailable:
        return None
    if resp.status_code != 200:
        return None
    return await forward.relay(request, None, pod, resp)


def _down_stub(request: Request, where: server_service.Located) -> Response:
    routing = where.routing
    item = server_views.stub(
        routing.top_id,
        routing.project_id,
        routing.created_at,
        server_views.links(forward.top_root(request), routing.top_id),
    )
    item["OS-EXT-AZ:availability_zone"] = where.pod.az
    return reply({"server": item}, headers={forward.POD_HEADER: where.pod.name})


async def member(request: Request) -> Response:
    """Any other request on /servers/{id} or below it, forwarded to the server's pod."""
    version = await negotiated(request)
    ctx = context(request)
    server_id = request.path_params["server_id"]
    rest = request.path_params.get("rest", "")
    path = f"/servers/{server_id}" + (f"/{rest}" if rest else "")
    content = await raw_body(request)
    async with session(request) as db:
        where = await forward.locate(request, db, server_id, version, not_found(server_id))
        if rest == "action" and content:
            content = await _translate_action(request, db, ctx, where.pod, content, version)
        attaching = request.method == "POST" and rest == "os-volume_attachments"
        swapping = request.method == "PUT" and rest.startswith("os-volume_attachments/")
        if (attaching or swapping) and content:
            await volume_pods.check_attach(request, db, server_id, where.pod, content)
        wired = server_ports.Translated()
        detached = None
        if rest == "os-interface" and request.method == "POST" and content:
            content, wired = await _interface(request, ctx, where.pod, content)
        elif rest.startswith("os-interface/"):
            top_port = rest.split("/", 1)[1]
            async with _net_caller(request, ctx) as net:
                bottom = await server_ports.bottom_port(net, where.pod, top_port)
            if bottom is not None:
                path = f"/servers/{server_id}/os-interface/{bottom}"
                detached = top_port if request.method == "DELETE" else None
        headers = {"Content-Type": request.headers.get("content-type", "application/json")}
        resp = await forward.send(
            request,
            where.pod,
            version,
            request.method,
            path,
            content=content or None,
            params=list(request.query_params.multi_items()),
            headers=headers,
        )
        if resp.status_code == 404 and not rest:
            await server_service.gone(
                db, where.routing, where.pod, request.app.state.registry.cache(RouteCache)
            )
            raise not_found(server_id)
        if wired.used:
            async with _net_caller(request, ctx) as net:
                if resp.status_code < 400:
                    await server_ports.attach(net, wired, server_id, where.pod.az)
                else:
                    await server_ports.release(net, wired)
        if detached and resp.status_code < 400:
            async with _net_caller(request, ctx) as net:
                await server_ports.interface_gone(net, detached)
        if resp.status_code < 400 and _deletes(request.method, rest, content):
            await server_service.mark(
                db, where.routing, "deleting", request.app.state.registry.cache(RouteCache)
            )
            async with _net_caller(request, ctx) as net:
                await server_ports.detach(net, server_id)
        return await forward.relay(request, db, where.pod, resp)


async def _interface(
    request: Request, ctx: Context, pod: Pod, content: bytes
) -> tuple[bytes, server_ports.Translated]:
    """An interface attach naming a top network or port: the body names the bottom port
    built in the server's pod instead."""
    try:
        body = json.loads(content)
    except ValueError:
        raise bad("Malformed request body") from None
    att = body.get("interfaceAttachment") if isinstance(body, dict) else None
    if not isinstance(att, dict):
        return content, server_ports.Translated()
    registry = request.app.state.registry
    request_id = str(request.scope["state"]["request_id"])
    async with _network_errors(), _net_caller(request, ctx) as net:
        out, done = await server_ports.interface_request(net, registry, pod, att, request_id)
    return json.dumps({**body, "interfaceAttachment": out}).encode(), done


def _deletes(method: str, rest: str, content: bytes) -> bool:
    if method == "DELETE" and not rest:
        return True
    return rest == "action" and b'"forceDelete"' in content


async def _translate_action(
    request: Request, db: AsyncSession, ctx: Context, pod: Pod, content: bytes, version: Version
) -> bytes:
    """`resize` names the top flavor and `rebuild` may name a keypair: the pod gets its
    own copies. Other actions go on byte for byte."""
    try:
        body = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return content  # the pod answers Nova's 400 for it
    if not isinstance(body, dict):
        return content
    registry = request.app.state.registry
    caller = forward.caller_for(request, version)
    resize = body.get("resize")
    rebuild = body.get("rebuild")
    try:
        if isinstance(resize, dict) and "flavorRef" in resize:
            flavor = await _top_flavor(db, ctx, resize["flavorRef"])
            resize["flavorRef"] = await flavor_copies.ensure_in_pod(
                db, registry, pod, flavor.id, caller.request_id
            )
        elif isinstance(rebuild, dict) and rebuild.get("key_name"):
            await keypair_copies.ensure_in_pod(
                db, registry, pod, ctx.user_id, str(rebuild["key_name"]), caller
            )
        else:
            return content
    except keypair_service.KeypairNotFound:
        raise bad("Invalid key_name provided.") from None
    except (flavor_service.PodCopyFailed, keypair_copies.KeypairCopyFailed) as exc:
        raise ComputeError(exc.status, str(exc)) from exc
    except PodUnavailable as exc:
        raise forward.unavailable(exc) from exc
    return json.dumps(body).encode()

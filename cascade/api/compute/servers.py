"""Servers: create in the pod the AZ chooses, everything else routed by id.

- POST /servers: the AZ named in the body (or the project's binding, or the
  configured default) chooses the pod; the top flavor and the keypair are
  copied into the pod first; the body goes on with only `flavorRef` and the
  AZ rewritten to the pod's names. 202 with the pod's answer (links at the
  top, `X-Cascade-Pod` naming the pod). A flavor the caller cannot see is
  400, an unknown AZ 400, an unknown key 400, as Nova says them.
- GET /servers/{id}: the pod's server, as the top shows it. A pod that does
  not answer is 503, or at 2.69+ the UNKNOWN stub Nova shows for a down cell.
- GET /servers/{id}/ips shows the addresses by top network name, as the server
  does; GET /servers/{id}/ips/{network} takes that name (see `_network_ips`).
- `addFixedIp` and `removeFixedIp` (to 2.43) act on the server's top ports (see
  `_fixed_ip`): 202 as Nova's.
- Any other method or sub-resource under /servers/{id}: forwarded unchanged
  (query, body, microversion) to the server's pod; `resize` gets the pod's
  copy of the flavor and `rebuild` the keypair copied. DELETE marks the
  routing `deleting`; the pod's 404 afterwards removes it.
- The instance actions of a deleted server (its routing gone with it), which Nova
  still shows from 2.21 to its owner and admins: asked of every pod with the
  caller's token, the first pod that does not answer 404 answers, and the server
  stays gone (no routing is written for it).
- An id no routing and no pod knows (or another project's server) is 404
  `Instance <id> could not be found.`, except where Nova answers before it looks at the
  owner: another project's server's `tags` are 403 (the policy's), and an action Nova
  removed (`resetNetwork`) is 410 for any id.
"""

from __future__ import annotations

import ipaddress
import json
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from cascade.api.compute import (
    forward,
    network_proxy,
    schemas,
    server_moves,
    server_views,
    volume_pods,
)
from cascade.api.compute.errors import ComputeError
from cascade.api.compute.versions import negotiated
from cascade.api.handlers import authorize, json_body, raw_body, reply
from cascade.api.request import context, session
from cascade.context import Context
from cascade.db.engine import idle
from cascade.db.models import Pod
from cascade.pods.client import PodUnavailable
from cascade.pods.compute import call as pod_call
from cascade.services import routed
from cascade.services.compute import flavor_copies, keypair_copies, server_create
from cascade.services.compute import flavors as flavor_service
from cascade.services.compute import keypairs as keypair_service
from cascade.services.compute import servers as server_service
from cascade.services.images import snapshots
from cascade.services.network import server_ports
from cascade.services.network.access import Caller as NetCaller
from cascade.services.route_cache import RouteCache
from cascade.versions import Version


def bad(message: str) -> ComputeError:
    return ComputeError(400, message)


async def create(request: Request) -> Response:
    """POST /servers: the `server_create` workflow; 202 with the pod's answer."""
    version = await negotiated(request)
    ctx = authorize(request, "os_compute_api:servers:create")
    body = await json_body(request)
    schemas.check(schemas.SERVER_CREATE, body)  # what the workflow reads, typed as Nova's
    # Nova's answer shows the security groups asked for; the pod is asked for none when
    # they go on the server's top ports instead
    asked = body["server"].get("security_groups")

    def as_asked(shown: Any) -> None:
        made_server = shown.get("server") if isinstance(shown, dict) else None
        if asked and isinstance(made_server, dict) and "security_groups" in made_server:
            made_server["security_groups"] = asked

    async with session(request) as db:
        with forward.refusals():
            made = await server_create.create(
                forward.workflow_env(request), db, forward.asker(request, ctx, version), body
            )
        return await forward.relay(request, db, made.pod, made.resp, as_asked)


def _net_caller(
    request: Request, ctx: Context, version: Version
) -> AbstractAsyncContextManager[NetCaller]:
    """The networking services' caller for this request (`server_create.net_caller`)."""
    ask = forward.asker(request, ctx, version)
    return server_create.net_caller(forward.workflow_env(request), ask)


async def show(request: Request) -> Response:
    version = await negotiated(request)
    ctx = authorize(request, "os_compute_api:servers:show")
    server_id = request.path_params["server_id"]
    fast = await _show_remembered(request, ctx, server_id, version)
    if fast is not None:
        return fast
    async with session(request) as db:
        where = await forward.locate(request, db, server_id, version)
        await idle(db)  # no database connection held while the pod answers
        try:
            resp = await _get(request, where.pod, forward.pod_id_of(where), version)
        except PodUnavailable as exc:
            if version < Version(2, 69):
                raise forward.unavailable(exc) from exc
            return _down_stub(request, where)
        if resp.status_code == 404:
            raise await forward.gone(request, db, where)
        return await forward.relay(request, db, where.pod, resp)


async def _get(request: Request, pod: Pod, server_id: str, version: Version) -> httpx.Response:
    """The pod's GET of the server, with the request's query."""
    caller = forward.caller_for(request, version)
    params = list(request.query_params.multi_items())
    path = f"/servers/{server_id}"
    return await pod_call(request.app.state.registry, pod, caller, "GET", path, params=params)


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
        raise forward.missing(server_service.SERVER, server_id)
    pod = await registry.cache(RouteCache).pod(request.app.state.sessions, pod_id)
    if pod is None:
        return None
    try:
        resp = await _get(request, pod, server_id, version)
    except PodUnavailable:
        return None
    if resp.status_code != 200:
        return None
    return await forward.relay(request, None, pod, resp)


def _down_stub(request: Request, where: routed.Located) -> Response:
    item = server_views.stub(where.routing, forward.top_root(request))
    item["OS-EXT-AZ:availability_zone"] = where.pod.az
    return reply({"server": item}, headers={forward.POD_HEADER: where.pod.name})


# What Nova serves below a server (nova/api/openstack/compute/routes.py), at most three
# segments deep (`migrations/{id}/action`): only these are ever forwarded to its pod.
SUB_RESOURCES = frozenset(
    {
        "action", "consoles", "diagnostics", "ips", "metadata", "migrations",
        "os-instance-actions", "os-interface", "os-security-groups", "os-server-password",
        "os-virtual-interfaces", "os-volume_attachments", "remote-consoles", "shares",
        "tags", "topology",
    }
)  # fmt: skip


def _declared(rest: str) -> bool:
    segments = rest.split("/")
    return segments[0] in SUB_RESOURCES and len(segments) <= 3 and all(segments)


async def member(request: Request) -> Response:
    """Any other request on /servers/{id} or below it, forwarded to the server's pod."""
    version = await negotiated(request)
    ctx = context(request)
    server_id = request.path_params["server_id"]
    rest = request.path_params.get("rest", "")
    if rest and not _declared(rest):
        raise ComputeError(404, "The resource could not be found.")
    content = await raw_body(request)
    if rest == "action" and request.method == "POST" and _removed_action(content):
        raise ComputeError(410, GONE)  # Nova's, before it looks the server up
    async with session(request) as db:
        try:
            where = await forward.locate(request, db, server_id, version)
        except ComputeError as missing:
            if request.method == "GET" and rest.split("/")[0] == "os-instance-actions":
                found = await server_service.unrouted_answer(
                    db,
                    request.app.state.registry,
                    forward.caller_for(request, version),
                    f"/servers/{server_id}/{rest}",
                    list(request.query_params.multi_items()),
                )
                if found is not None:
                    return await forward.relay(request, db, *found)
            raise await _tags_refusal(request, db, server_id, rest) or missing from None
        # a server's security groups are the top's, on its top ports (Nova reads them from
        # Neutron's ports of the server): answered at the top, unless it has none
        if rest == "os-security-groups" and request.method == "GET":
            await idle(db)
            shown = await network_proxy.server_groups(request, server_id, version)
            if shown is not None:
                return shown
        if rest == "action" and request.method == "POST" and content:
            action = _decoded(content)
            if isinstance(action, dict):
                moved = await server_moves.action(request, db, where, action, version)
                if moved is not None:
                    return moved
                await idle(db)
                done = await network_proxy.group_action(request, server_id, action, version)
                if done is not None:
                    return done
        if request.method == "GET" and rest.startswith("ips/") and rest.count("/") == 1:
            return await _network_ips(request, db, where, rest.split("/", 1)[1], version)
        # the server's id in its pod: its top id, unless it was moved there from another
        path = f"/servers/{forward.pod_id_of(where)}" + (f"/{rest}" if rest else "")
        multinic = _multinic(content, version) if rest == "action" else None
        if multinic is not None:
            return await _fixed_ip(request, db, ctx, where, multinic, version)
        if rest == "action" and content:
            content = await _translate_action(request, db, ctx, where.pod, content, version)
        attaching = request.method == "POST" and rest == "os-volume_attachments"
        swapping = request.method == "PUT" and rest.startswith("os-volume_attachments/")
        if (attaching or swapping) and content:
            await volume_pods.check_attach(request, db, server_id, where.pod, content)
        wired = server_ports.Translated()
        detached = None
        if rest == "os-interface" and request.method == "POST" and content:
            content, wired = await _interface(request, ctx, where.pod, content, version)
        elif rest.startswith("os-interface/"):
            top_port = rest.split("/", 1)[1]
            async with _net_caller(request, ctx, version) as net:
                bottom = await server_ports.bottom_port(net, where.pod, top_port)
            if bottom is not None:
                path = f"/servers/{forward.pod_id_of(where)}/os-interface/{bottom}"
                detached = top_port if request.method == "DELETE" else None
        headers = {"Content-Type": request.headers.get("content-type", "application/json")}
        await idle(db)  # no database connection held while the pod answers
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
            if request.method == "DELETE":
                # its owner deletes what the pod no longer has (a delete whose answer was
                # lost, say): the top lets go of it too, its ports and then its routing
                async with _net_caller(request, ctx, version) as net:
                    await server_ports.detach(net, server_id)
                cache = request.app.state.registry.cache(RouteCache)
                await routed.mark(db, where.routing, "deleting", cache)
            raise await forward.gone(request, db, where)
        if wired.used:
            async with _net_caller(request, ctx, version) as net:
                if resp.status_code < 400:
                    await server_ports.attach(net, wired, server_id, where.pod.az)
                else:
                    await server_ports.release(net, wired)
        if detached and resp.status_code < 400:
            async with _net_caller(request, ctx, version) as net:
                await server_ports.interface_gone(net, detached)
        if rest == "action" and resp.status_code == 202 and _action_of(content) == "createImage":
            # a snapshot in a pod with a Glance of its own: made a top image too
            image_id = snapshots.image_id_of(resp)
            if image_id:
                env = forward.workflow_env(request)
                await snapshots.taken(env, where.pod, image_id, where.routing.project_id)
                if "Location" in resp.headers:  # the image at the top, not in the pod's Glance
                    top = str(request.base_url).rstrip("/")
                    resp.headers["Location"] = f"{top}/image/v2/images/{image_id}"
        if resp.status_code < 400 and _deletes(request.method, rest, content):
            await routed.mark(
                db, where.routing, "deleting", request.app.state.registry.cache(RouteCache)
            )
            async with _net_caller(request, ctx, version) as net:
                await server_ports.detach(net, server_id)
        return await forward.relay(request, db, where.pod, resp)


def _action_of(content: bytes | None) -> str | None:
    """The name of a server action's body (`{"createImage": {...}}`), None if it has none."""
    body = _decoded(content) if content else None
    return next(iter(body)) if isinstance(body, dict) and len(body) == 1 else None


MULTINIC_UNTIL = Version(2, 43)  # Nova's addFixedIp and removeFixedIp: 2.1 to 2.43


def _multinic(content: bytes, version: Version) -> tuple[str, str] | None:
    """("add", network id) or ("remove", address) for a well-formed `addFixedIp` or
    `removeFixedIp` action up to 2.43; None for anything else (the pod answers it)."""
    if version > MULTINIC_UNTIL or not content:
        return None
    try:
        body = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(body, dict) or len(body) != 1:
        return None
    add, remove = body.get("addFixedIp"), body.get("removeFixedIp")
    if isinstance(add, dict) and isinstance(add.get("networkId"), str | int):
        network = str(add["networkId"])
        return ("add", network) if 0 < len(network) <= 36 else None
    if isinstance(remove, dict) and isinstance(remove.get("address"), str):
        try:
            ipaddress.ip_address(remove["address"])
        except ValueError:
            return None
        return "remove", remove["address"]
    return None


async def _fixed_ip(
    request: Request,
    db: AsyncSession,
    ctx: Context,
    where: routed.Located,
    action: tuple[str, str],
    version: Version,
) -> Response:
    """`addFixedIp` / `removeFixedIp` (to 2.43): Nova's 202, having done what its compute
    does with its Neutron on the server's top ports (the pod's own Neutron could not: a
    top network's addresses come from the top's IPAM); the pod's ports follow by job."""
    verb, value = action
    authorize(request, f"os_compute_api:os-multinic:{verb}")
    server_id = where.routing.top_id
    await idle(db)  # no database connection held while the pod answers
    path = f"/servers/{forward.pod_id_of(where)}"
    resp = await forward.send(request, where.pod, version, "GET", path)
    if resp.status_code == 404:
        raise await forward.gone(request, db, where)
    if resp.status_code >= 400:
        raise forward.pod_error(resp, where.pod)
    async with _net_caller(request, ctx, version) as net:
        if verb == "add":
            await server_ports.add_fixed_ip(net, server_id, value)
        else:
            await server_ports.remove_fixed_ip(net, server_id, value)
    return Response(status_code=202, headers={forward.POD_HEADER: where.pod.name})


NOT_MEMBER = "Instance is not a member of specified network"  # Nova's ips 404


async def _network_ips(
    request: Request, db: AsyncSession, where: routed.Located, label: str, version: Version
) -> Response:
    """GET /servers/{id}/ips/{network}: the server's addresses on the network its view
    labels `network` (a top network's name). Its pod labels them by the bottom network's
    name (the top id), so all its addresses are read and the label chosen at the top;
    Nova's 404 when the server has none there."""
    await idle(db)  # no database connection held while the pod answers
    path = f"/servers/{forward.pod_id_of(where)}/ips"
    resp = await forward.send(request, where.pod, version, "GET", path)
    if resp.status_code == 404:
        raise await forward.gone(request, db, where)
    if resp.status_code >= 400:
        raise forward.pod_error(resp, where.pod)
    root = await forward.pod_root(request, where.pod)
    body = await forward.top_view(request, db, where.pod, resp.json(), root)
    addresses = body.get("addresses") if isinstance(body, dict) else None
    if not isinstance(addresses, dict) or label not in addresses:
        raise ComputeError(404, NOT_MEMBER)
    return reply({label: addresses[label]}, headers={forward.POD_HEADER: where.pod.name})


# actions Nova has removed: 410 for any server id, before the server is looked up
REMOVED_ACTIONS = frozenset({"resetNetwork"})
GONE = "This resource is no longer available. No forwarding address is given."
TAG_RULES = {("GET", False): "index", ("GET", True): "show", ("PUT", False): "update_all"}
TAG_RULES |= {("PUT", True): "update", ("DELETE", False): "delete_all", ("DELETE", True): "delete"}


def _decoded(content: bytes) -> Any:
    """The JSON of a body, None if it is not JSON (the pod answers Nova's 400 for it)."""
    try:
        return json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None


def _removed_action(content: bytes) -> bool:
    return _action_of(content) in REMOVED_ACTIONS


async def _tags_refusal(
    request: Request, db: AsyncSession, server_id: str, rest: str
) -> ComputeError | None:
    """Nova's 403 for the tags of another project's server: its tags API reads the
    server's instance mapping whoever asks, then the policy with the server's project
    (`os_compute_api:os-server-tags:<action>`). None where Nova's answer is the 404."""
    rule = TAG_RULES.get((request.method, rest.startswith("tags/")))
    if rule is None or not (rest == "tags" or rest.startswith("tags/")):
        return None
    if await routed.owner(db, server_service.SERVER, server_id) is None:
        return None
    return ComputeError(
        403, f"Policy doesn't allow os_compute_api:os-server-tags:{rule} to be performed."
    )


async def _interface(
    request: Request, ctx: Context, pod: Pod, content: bytes, version: Version
) -> tuple[bytes, server_ports.Translated]:
    """An interface attach naming a top network or port: the body names the bottom port
    built in the server's pod instead."""
    try:
        body = json.loads(content)
    except ValueError:
        raise bad("Malformed request body") from None
    schemas.check(schemas.INTERFACE_CREATE, body)  # Nova's schema, before any port is made
    att = body.get("interfaceAttachment")
    if att is None:
        return content, server_ports.Translated()
    registry = request.app.state.registry
    request_id = str(request.scope["state"]["request_id"])
    with forward.refusals(), server_create.network_refusals():
        async with _net_caller(request, ctx, version) as net:
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
    with forward.refusals():
        try:
            if isinstance(resize, dict) and "flavorRef" in resize:
                flavor = await server_create.top_flavor(db, ctx, resize["flavorRef"])
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
    return json.dumps(body).encode()

"""The server-create workflow, callable by a handler, a job or a test (no HTTP types here).

`create` takes a Nova create body and who asks (`Ask`), and does what one
cloud's Nova would, across pods:
1. the top flavor (one the caller may see; disabled: refused), then the pod:
   the server group's (scheduler hint `group`), else the pod of the volumes or
   snapshots it boots from, else the AZ's (named, the project's binding's, or
   the default) with room for the flavor and the flavor's pod tag; a pod that
   contradicts the AZ or tag asked for is refused;
2. the top quota (max_count servers) before any pod is called;
3. the routing intent, keyed by the caller's local request id, written with
   the last check of the quota in one transaction of the project's: it holds
   the servers' instances, cores and RAM while the create is in flight;
4. the pod's copies of the flavor, the keypair and the block device mappings'
   volume types; the requested networks and ports built in the pod; then the
   create sent to the pod; a failure before it or a refusal removes the intent
   (and releases the ports); an acceptance records the routing of every server
   the reservation made and attaches the top ports. A multiple create on top
   networks is one create per server, each with its own ports (see `_split`).
Refusals the top decides are `Refused` (Nova's status and message); a pod's
refusal of the create itself comes back as its response (`Created.resp`);
`PodUnavailable` is passed on.
"""

from __future__ import annotations

import copy
import json
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.context import Context
from cascade.db.engine import idle, kept
from cascade.db.models import Flavor, FlavorAccess, Pod, Routing
from cascade.pods import volume as pod_volume
from cascade.pods.client import PodUnavailable
from cascade.pods.compute import Caller, PodRefused, call
from cascade.pods.registry import PodRegistry
from cascade.services import capacity, quota_core, routed, routings, scheduling
from cascade.services.compute import flavor_copies, keypair_copies
from cascade.services.compute import flavors as flavor_service
from cascade.services.compute import keypairs as keypair_service
from cascade.services.compute import quotas as quota_service
from cascade.services.compute import servers as server_service
from cascade.services.images import copies as image_copies
from cascade.services.network import server_ports
from cascade.services.network.access import Allows, refuse
from cascade.services.network.access import Caller as NetCaller
from cascade.services.route_cache import RouteCache
from cascade.services.volume import type_copies as volume_type_copies
from cascade.services.volume import types as volume_types
from cascade.services.volume import volumes as volume_service
from cascade.services.workflow import Asker, Created, Env, Refused, bad
from cascade.versions import Version

LOG = logging.getLogger(__name__)
POD_TAG = "cascade:pod_tag"

# where a server's block device mappings name a volume or a snapshot
BOOT_SOURCES = {"volume": volume_service.VOLUME, "snapshot": volume_service.SNAPSHOT}


@dataclass(frozen=True)
class Ask(Asker):
    """Who asks: their context, their calls to the pods (token, microversion, the global
    request id), the local request id (keys the routing intent) and their Networking
    policy (admin?, rule checks)."""

    caller: Caller
    request_id: str
    is_net_admin: bool = False
    allows: Allows = refuse


async def top_flavor(db: AsyncSession, ctx: Context, ref: Any) -> Flavor:
    """The flavor `flavorRef` names (an id or a link), if the caller may use it."""
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


def split_az(value: Any) -> tuple[str | None, str]:
    """`az`, `az:host` or `az:host:node` (admins): the top AZ and the rest."""
    if value is None:
        return None, ""
    if not isinstance(value, str) or not value:
        raise bad(f"Invalid input for field/attribute availability_zone. Value: {value}.")
    az, sep, rest = value.partition(":")
    return (az or None), sep + rest


async def group_pod(db: AsyncSession, registry: PodRegistry, ask: Ask, hints: Any) -> Pod | None:
    """The pod of the server group named in a create's scheduler hints, if any."""
    group = hints.get("group") if isinstance(hints, dict) else None
    if not group:
        return None
    try:
        where = await server_service.locate(
            db, registry, ask.caller, str(group), ask.scope, kind=server_service.SERVER_GROUP
        )
    except routed.NotFound:
        # Nova's words (InstanceGroupNotFound), as a 400 of the create
        raise bad(f"Instance group {group} could not be found.") from None
    return where.pod


async def volume_pod(
    db: AsyncSession, registry: PodRegistry, ask: Ask, kind: str, object_id: str
) -> Pod | None:
    """The pod of the caller's volume or snapshot `object_id` (None: nobody knows it)."""
    ctx = ask.ctx
    caller = pod_volume.Caller(ctx.token, "3.0", ask.request_id, ctx.project_id, ctx.user_id)
    try:
        located = await volume_service.locate(db, registry, caller, object_id, ask.scope, kind)
    except volume_service.NotFound:
        return None
    return located.pod


async def boot_pod(
    db: AsyncSession, registry: PodRegistry, ask: Ask, server: dict[str, Any], az: str | None
) -> Pod | None:
    """The pod a server booting from volumes or snapshots must go to (None: no such
    source); sources in different pods, or an AZ that is not theirs, are refused."""
    found: list[tuple[str, Pod]] = []
    for mapping in server.get("block_device_mapping_v2") or []:
        if not isinstance(mapping, dict) or not mapping.get("uuid"):
            continue
        kind = BOOT_SOURCES.get(str(mapping.get("source_type")))
        if kind is None:
            continue
        pod = await volume_pod(db, registry, ask, kind, str(mapping["uuid"]))
        if pod is not None:
            found.append((f"{kind} {mapping['uuid']}", pod))
    if not found:
        return None
    what, pod = found[0]
    for other, other_pod in found[1:]:
        if other_pod.id != pod.id:
            raise bad(
                f"The {what} is in pod {pod.name} and the {other} in pod {other_pod.name}: a "
                "server can only use volumes of one pod.",
            )
    if az is not None and az != pod.az:
        raise bad(
            f"The {what} is in availability zone {pod.az} (pod {pod.name}); a server booting "
            f"from it cannot go to availability zone {az}.",
        )
    return pod


async def _choose_pod(env: Env, db: AsyncSession, ask: Ask, az: str | None, flavor: Flavor) -> Pod:
    conf = env.conf.scheduling
    tag = flavor.extra_specs.get(POD_TAG)

    try:
        if az is None:
            az = await scheduling.default_az(db, conf, ask.project, tag)
        elif not await scheduling.az_exists(db, az):
            raise bad("The requested availability zone is not available")
        need = (flavor.ram, flavor.disk + flavor.ephemeral)
        return await scheduling.pod_for(
            db,
            conf,
            ask.project,
            az,
            tag=tag,
            room_of=lambda pod: capacity.of(env.registry, pod, ask.caller.request_id),
            need=need,
            room_deadline=env.registry.list_deadline,
        )
    except scheduling.NoPodForAz as exc:
        raise Refused(409 if tag else 503, f"No pod can take the server: {exc}.") from exc


def _count(server: dict[str, Any]) -> int:
    """How many servers the create may make: max_count (a pod may create that many; Nova
    would create fewer, down to min_count, where only those fit; the top refuses
    instead). One for a count that is not a number: the pod answers Nova's 400."""
    raw = server.get("max_count", server.get("min_count", 1))
    if isinstance(raw, bool):
        return 1
    try:
        return max(int(raw), 1)
    except (TypeError, ValueError, OverflowError):
        return 1


@contextmanager
def over_quota() -> Iterator[None]:
    """The top quota's refusal as Nova's 403."""
    try:
        yield
    except quota_service.OverQuota as exc:
        raise Refused(403, exc.message) from None


async def _count_quota(
    env: Env, db: AsyncSession, ask: Ask, server: dict[str, Any], flavor: Flavor
) -> quota_service.Counted:
    """The top quota as the pods count it, checked with the creates in flight: Nova's
    403 before any other pod is called when there is no room (checked again, with the
    intent, in `_reserve`)."""
    counted = await quota_service.count_create(
        db,
        env.registry,
        ask.caller,
        ask.project,
        _count(server),
        flavor.vcpus,
        flavor.ram,
        conf=env.conf.quota,
        user_id=ask.ctx.user_id,
    )
    held = await quota_core.in_flight(db, ask.project, [server_service.SERVER], counted.since)
    with over_quota():
        quota_service.check_counted(counted, held)
    return counted


async def _reserve(db: AsyncSession, ask: Ask, pod: Pod, counted: quota_service.Counted) -> Routing:
    """The routing intent of the create in `pod`, written in one transaction of the
    project's with the last check of its quota (the creates in flight counted): it
    holds what the create asks for until the pod's answer completes or removes it."""
    kinds = [server_service.SERVER]
    async with quota_core.reserving(db, ask.project, kinds, counted.since) as held:
        with over_quota():
            quota_service.check_counted(counted, held)
        return await routed.intent(
            db, server_service.SERVER, ask.request_id, pod, ask.project, counted.requested
        )


async def _pod_for(
    env: Env, db: AsyncSession, ask: Ask, body: dict[str, Any], az: str | None, flavor: Flavor
) -> tuple[Pod, quota_service.Counted]:
    """The create's pod, and its quota as counted (checked: Nova's 403 without room)."""
    server: dict[str, Any] = body["server"]
    tag = flavor.extra_specs.get(POD_TAG)
    hints = body.get("OS-SCH-HNT:scheduler_hints", body.get("os:scheduler_hints"))
    pod = await group_pod(db, env.registry, ask, hints)
    volumes_pod = await boot_pod(db, env.registry, ask, server, az)
    if volumes_pod is not None:
        if pod is not None and pod.id != volumes_pod.id:
            raise bad(
                f"The server group lives in pod {pod.name} and the server's volumes in "
                f"pod {volumes_pod.name}.",
            )
        pod = volumes_pod
    counted = await _count_quota(env, db, ask, server, flavor)
    if pod is None:
        return await _choose_pod(env, db, ask, az, flavor), counted
    if az is not None and az != pod.az:
        raise bad(
            f"The server group lives in availability zone {pod.az} (pod {pod.name}), not in {az}.",
        )
    if tag and tag not in (pod.tags or []):
        raise Refused(
            409,
            f"The server group's pod {pod.name} does not have the tag {tag!r} "
            f"that flavor {flavor.id} requires.",
        )
    return pod, counted


async def bdm_types(
    db: AsyncSession, registry: PodRegistry, ask: Ask, server: dict[str, Any], pod: Pod
) -> None:
    """Every `volume_type` of the server's block device mappings made the pod's copy of
    the top type it names (an unknown one: Nova's 400)."""
    for mapping in server.get("block_device_mapping_v2") or []:
        if not isinstance(mapping, dict) or not isinstance(mapping.get("volume_type"), str):
            continue
        try:
            vtype = await volume_types.by_name_or_id(db, mapping["volume_type"], ask.scope)
        except volume_types.TypeError_ as exc:
            raise bad(exc.message) from exc
        mapping["volume_type"] = await volume_type_copies.ensure_in_pod(
            db, registry, pod, vtype, ask.request_id
        )


async def _copies(
    env: Env, db: AsyncSession, ask: Ask, server: dict[str, Any], pod: Pod, flavor: Flavor
) -> None:
    """The pod's copies of what the server names: its flavor, keypair and volume types."""
    try:
        server["flavorRef"] = await flavor_copies.ensure_in_pod(
            db, env.registry, pod, flavor.id, ask.caller.request_id
        )
        if server.get("key_name") is not None:
            await keypair_copies.ensure_in_pod(
                db, env.registry, pod, ask.ctx.user_id, str(server["key_name"]), ask.caller
            )
        await bdm_types(db, env.registry, ask, server, pod)
    except keypair_service.KeypairNotFound:
        raise bad("Invalid key_name provided.") from None
    except (
        flavor_service.PodCopyFailed,
        keypair_copies.KeypairCopyFailed,
        volume_type_copies.TypeCopyFailed,
    ) as exc:
        raise Refused(exc.status if exc.status < 500 else 502, str(exc)) from exc


@asynccontextmanager
async def net_caller(env: Env, ask: Ask) -> AsyncIterator[NetCaller]:
    """The networking services' caller, on a session of its own: their rollbacks (an
    address taken concurrently) must not expire what the create has loaded."""
    async with env.sessions() as db:
        yield NetCaller(db, env.conf.network, ask.project, ask.is_net_admin, ask.allows)


@contextmanager
def network_refusals() -> Iterator[None]:
    """Networking refusals as Nova's (`Refused`): the top's own, or the pod's with it named."""
    try:
        yield
    except server_ports.ServerNetworkError as exc:
        raise Refused(exc.status, exc.message) from exc
    except PodRefused as exc:
        raise Refused(exc.status if exc.status < 500 else 502, str(exc)) from exc


async def _networks(
    env: Env, ask: Ask, pod: Pod, server: dict[str, Any]
) -> server_ports.Translated:
    """The request's top networks and ports, built in `pod` and named by bottom port."""
    with network_refusals():
        async with net_caller(env, ask) as net:
            return await server_ports.translate(net, env.registry, pod, server, ask.request_id)


async def _reservation_of(env: Env, pod: Pod, ask: Ask, server_id: str) -> str | None:
    """The reservation a server was made in, as its pod's admins see it (2.3+)."""
    admin = Caller(None, "2.3", ask.caller.request_id)
    try:
        resp = await call(env.registry, pod, admin, "GET", f"/servers/{server_id}")
        found = resp.json().get("server", {}) if resp.status_code == 200 else {}
    except (PodUnavailable, ValueError):
        return None  # the others are routed when first looked up
    reservation = found.get("OS-EXT-SRV-ATTR:reservation_id") if isinstance(found, dict) else None
    return str(reservation) if reservation else None


async def _record_created(
    env: Env,
    db: AsyncSession,
    ask: Ask,
    pod: Pod,
    made: Any,
    intent: Routing,
    server: dict[str, Any],
) -> None:
    """The routing of the new server, and of every other server of its reservation (a
    multiple create's answer names only the first: its reservation is asked for)."""
    first = made.get("server", {}).get("id") if isinstance(made, dict) else None
    if first:
        await routed.record(db, str(first), pod.id, ask.project, intent)
    reservation = made.get("reservation_id") if isinstance(made, dict) else None
    if not reservation and first and _count(server) > 1:
        reservation = await _reservation_of(env, pod, ask, str(first))
    if not reservation:
        return
    try:
        params = {"reservation_id": reservation}
        listed = await call(env.registry, pod, ask.caller, "GET", "/servers", params=params)
    except PodUnavailable:
        return  # the routings are written when the servers are first looked up
    ids = [s["id"] for s in listed.json().get("servers", [])] if listed.status_code == 200 else []
    for n, server_id in enumerate(ids):
        await routed.record(db, server_id, pod.id, ask.project, intent if n == 0 else None)


async def create(env: Env, db: AsyncSession, ask: Ask, body: Any) -> Created:
    """Steps 1-4 above for Nova create body `body` (changed in place to the pod's names).

    No database connection is held while a pod is asked (each step's reads end
    before its pod calls) and at most one at a time (the networking services'
    session is used only while `db` holds none). Anything that fails between the
    intent and the pod's create removes the intent; a pod that does not answer
    the create leaves it (the create may have happened there) for `stale.sweep`.
    A multiple create on top networks is sent as one create per server (`_split`).
    """
    server = body.get("server") if isinstance(body, dict) else None
    if not isinstance(server, dict):
        raise bad("Invalid input for field/attribute server: 'server' is a required object.")
    az, host_part = split_az(server.get("availability_zone"))
    flavor = kept(db, await top_flavor(db, ask.ctx, server.get("flavorRef")))
    await idle(db)
    pod, counted = await _pod_for(env, db, ask, body, az, flavor)
    pod = kept(db, pod)
    intent = await _reserve(db, ask, pod, counted)
    try:
        await _copies(env, db, ask, server, pod, flavor)
        if az is not None:
            server["availability_zone"] = pod.pod_az + host_part
        await idle(db)
        for image_id in image_copies.server_images(server):
            await image_copies.ensure_in_pod(env, pod, image_id, ask.ctx.token)
        bodies = await _split(env, ask, body)
        wired = await _networks(env, ask, pod, bodies[0]["server"])
        content = json.dumps(bodies[0]).encode()
    except BaseException:
        await routed.forget_intent(db, intent)
        raise
    # a pod that does not answer leaves the intent: the create may have happened there
    try:
        resp = await routed.sending(db, intent, _post(env, ask, pod, content))
    except PodUnavailable as exc:
        if not exc.sent:  # nothing reached the pod: its ports and addresses go back
            async with net_caller(env, ask) as net:
                await server_ports.release(net, wired)
        raise
    if resp.status_code >= 400:
        await routed.forget_intent(db, intent)
        async with net_caller(env, ask) as net:
            await server_ports.release(net, wired)
        return Created(pod, resp)
    try:
        made = resp.json()
    except ValueError:
        made = None  # routed when first looked up (`stale.sweep` settles the intent)
    new_id = made.get("server", {}).get("id") if isinstance(made, dict) else None
    if len(bodies) > 1 and new_id:
        await _attach(env, ask, pod, wired, str(new_id))
        # as Nova reads it: any value but a false one asks for the reservation's id
        wants = bool(server.get("return_reservation_id"))
        return await _create_rest(env, db, ask, pod, intent, bodies, str(new_id), resp, wants)
    await _record_created(env, db, ask, pod, made, intent, server)
    if new_id and wired.used:
        await _attach(env, ask, pod, wired, str(new_id))
    return Created(pod, resp)


def _post(env: Env, ask: Ask, pod: Pod, content: bytes) -> Awaitable[httpx.Response]:
    """The create sent to the pod's Nova."""
    headers = {"Content-Type": "application/json"}
    return call(env.registry, pod, ask.caller, "POST", "/servers", content=content, headers=headers)


async def _attach(
    env: Env, ask: Ask, pod: Pod, wired: server_ports.Translated, server_id: str
) -> None:
    """The server exists: the top ports it was given name it as their device."""
    async with net_caller(env, ask) as net:
        await server_ports.attach(net, wired, server_id, pod.az)


# --- multiple create on top networks -------------------------------------------------

# Nova's words (nova.compute.api.API.create and its callers)
MIN_OVER_MAX = "min_count must be <= max_count"
FIXED_IP_MANY = (
    "Failed to launch instances: max_count cannot be greater than 1 if an fixed_ip is specified."
)
PORT_MANY = (
    "Failed to launch instances: Unable to launch multiple instances with a single configured "
    "port ID. Please launch your instance one by one with different ports."
)
HOSTNAME_MANY = "Unable to allocate a single hostname to multiple instances"
VOLUME_MANY = "Cannot attach one or more volumes to multiple instances"
# nova.utils.generate_password's default symbols (no look-alike characters) and length
PASSWORD_SYMBOLS = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
PASSWORD_LENGTH = 12
RESERVATION_SYMBOLS = "0123456789abcdefghijklmnopqrstuvwxyz"  # nova.utils.generate_uid's


def _counts(server: dict[str, Any]) -> tuple[int, int] | None:
    """(min_count, max_count) as Nova reads them; None when they are not whole numbers (the
    pod answers Nova's 400 for them)."""
    try:
        low = int(server.get("min_count", 1))
        return low, int(server.get("max_count", low))
    except (TypeError, ValueError, OverflowError):
        return None


def _check_many(ask: Ask, server: dict[str, Any], networks: list[Any]) -> None:
    """Nova's refusals of a multiple create, in Nova's order: the top checks them, as the
    pod is sent one server at a time."""
    entries = [n for n in networks if isinstance(n, dict)]
    if any(n.get("uuid") and n.get("fixed_ip") for n in entries):
        raise bad(FIXED_IP_MANY)
    if any(n.get("port") for n in entries):
        raise bad(PORT_MANY)
    if server.get("hostname") and Version.parse(ask.caller.version) >= Version(2, 90):
        raise bad(HOSTNAME_MANY)
    mappings = server.get("block_device_mapping_v2") or []
    if any(isinstance(m, dict) and m.get("source_type") == "volume" for m in mappings):
        raise bad(VOLUME_MANY)


async def _split(env: Env, ask: Ask, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The creates to send. One, unless more than one server is asked for on top
    networks: a top network's ports come from the top's IPAM, and a create can give
    the pod ports for one server only (Nova refuses a port with a count above 1), so
    each server gets a create of its own, as Nova would make it: named `<name>-<n>`,
    all with one admin password, nothing else changed."""
    server: dict[str, Any] = body["server"]
    counts = _counts(server)
    if counts is None or (counts[1] <= 1 and counts[0] <= 1):
        return [body]
    low, high = counts
    if low > high:
        raise bad(MIN_OVER_MAX)
    with network_refusals():
        async with net_caller(env, ask) as net:
            networks = await server_ports.requested(net, server)
    if not networks:
        return [body]  # no top port to give: the pod makes the servers itself
    _check_many(ask, server, networks)
    password = server.get("adminPass") or "".join(
        secrets.choice(PASSWORD_SYMBOLS) for _ in range(PASSWORD_LENGTH)
    )
    out = []
    for n in range(1, high + 1):
        each = copy.deepcopy(body)
        one = each["server"]
        for key in ("min_count", "max_count", "return_reservation_id"):
            one.pop(key, None)
        one["name"] = f"{server.get('name')}-{n}"
        one["adminPass"] = password
        one["networks"] = copy.deepcopy(networks)
        out.append(each)
    return out


def reservation_id() -> str:
    """A new reservation id, as Nova writes one (`r-` and 8 characters)."""
    return "r-" + "".join(secrets.choice(RESERVATION_SYMBOLS) for _ in range(8))


async def _create_rest(
    env: Env,
    db: AsyncSession,
    ask: Ask,
    pod: Pod,
    intent: Routing,
    bodies: list[dict[str, Any]],
    first: str,
    resp: httpx.Response,
    reservation: bool,
) -> Created:
    """The servers after the first of a split multiple create, each with its own ports.

    The intent holds the quota of them all until the last is made; then it routes the
    first. A refusal of any of them deletes the ones made before (their ports go with
    them), and is the answer, as Nova makes all of a request's servers or none. The
    answer is the first server's, or the reservation's id (`return_reservation_id`)."""
    made = [first]
    for each in bodies[1:]:
        wired = server_ports.Translated()
        try:
            wired = await _networks(env, ask, pod, each["server"])
            answer = await _post(env, ask, pod, json.dumps(each).encode())
        except (Refused, PodUnavailable) as exc:
            if not isinstance(exc, PodUnavailable) or not exc.sent:
                await _undo(env, db, ask, pod, intent, made, wired)
            raise
        if answer.status_code >= 400:
            await _undo(env, db, ask, pod, intent, made, wired)
            return Created(pod, answer)
        try:
            server_id = str(answer.json()["server"]["id"])
        except (ValueError, KeyError, TypeError):
            continue  # routed when first looked up; its ports are settled by their checks
        await routed.record(db, server_id, pod.id, ask.project)
        await _attach(env, ask, pod, wired, server_id)
        made.append(server_id)
    routing = await routed.record(db, first, pod.id, ask.project, intent)
    if routing is not intent:  # a list routed the first server meanwhile
        await routed.forget_intent(db, intent)
    if reservation:
        return Created(pod, httpx.Response(202, json={"reservation_id": reservation_id()}))
    return Created(pod, resp)


async def _undo(
    env: Env,
    db: AsyncSession,
    ask: Ask,
    pod: Pod,
    intent: Routing,
    made: list[str],
    wired: server_ports.Translated,
) -> None:
    """A split multiple create failed: the servers it made are deleted (their ports go
    with them, as on any delete), the ports of the failed one go back, the intent goes."""
    async with net_caller(env, ask) as net:
        await server_ports.release(net, wired)
    for server_id in made:
        try:
            await call(env.registry, pod, ask.caller, "DELETE", f"/servers/{server_id}")
        except PodUnavailable:
            LOG.warning("server %s of a failed multiple create was not deleted", server_id)
            continue
        async with net_caller(env, ask) as net:
            await server_ports.detach(net, server_id)
        routing = await routings.find_top(db, server_service.SERVER, server_id)
        if routing is not None:
            await routed.mark(db, routing, "deleting", env.registry.cache(RouteCache))
    await routed.forget_intent(db, intent)

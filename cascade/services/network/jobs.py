"""Job handlers that keep the pods' copies of top networking objects in step.

Each handler reads the top's current state and makes every pod that holds a
copy (a routing row) match it, so running it twice converges on the same
state (the queue's contract). A pod that cannot be reached fails the attempt
and the queue retries it with backoff.

- `security_group.sync` (group id): the bottom group's rules equal the top's,
  remote groups expanded into the members' addresses; a group gone at the top
  goes from the pods.
- `port.sync` (port id): name, admin state, security groups and address pairs
  of the bottom ports follow the top port.
- `port.purge` (port id): the bottom ports of a deleted top port go.
- `subnet.sync` / `subnet.purge`, `network.sync` / `network.purge`: the same for
  subnets (gateway, routes, name servers, DHCP) and networks (admin state, port
  security); a purge also deletes the pod's DHCP port and frees what the top
  reserved for the pod.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.models import Job, NetResource, Routing
from cascade.jobs import queue
from cascade.jobs.registry import JobContext, handler
from cascade.pods.network import PodNetworkRefused, PodNeutron, neutron_message
from cascade.pods.registry import PodRegistry
from cascade.services import copies
from cascade.services.network import (
    floatingip_pods,
    ipam,
    materialise,
    ports,
    router_pods,
    routers,
    segments,
    store,
)
from cascade.services.network.access import Caller
from cascade.services.network.materialise import DHCP, GROUP, NETWORK, PORT, SUBNET


async def _forget(db: AsyncSession, routing: Routing) -> None:
    await db.delete(routing)
    await db.commit()


async def _ours(neutron: PodNeutron, kind: str, bottom_id: str, top_id: str) -> bool:
    """Whether the bottom object is one Cascade made (named after the top id): an
    adopted one (a pod's own external network) is never deleted."""
    collection = materialise.COLLECTION[kind]
    resp = await neutron.call("GET", f"/{collection}/{bottom_id}")
    if resp.status_code == 404:
        return False
    if resp.status_code != 200:  # the attempt fails and is retried: nothing is forgotten
        raise PodNetworkRefused(neutron.pod.name, resp.status_code, neutron_message(resp))
    key = "security_group" if kind == GROUP else collection[:-1]
    found = resp.json().get(key, {})
    return bool(found.get("name") == materialise.bottom_name(kind, top_id))


async def _purge(ctx: JobContext, db: AsyncSession, kind: str, top_id: str) -> None:
    """Every pod's copy of `top_id` goes (found by routing, or by name if the routing
    never got its bottom id), then its routing."""
    for routing, pod in await copies.in_pods(db, kind, top_id, intents=True):
        neutron = PodNeutron(ctx.pods, pod)
        collection = materialise.COLLECTION[kind]
        ids = (
            [routing.bottom_id]
            if routing.bottom_id
            else [
                str(o["id"])
                for o in await neutron.named(collection, materialise.bottom_name(kind, top_id))
            ]
        )
        for bottom_id in ids:
            if await _ours(neutron, kind, bottom_id, top_id):
                await neutron.delete(collection, bottom_id)
        if kind == DHCP:
            await ipam.release_mac(db, ipam.pod_owner(pod.id, top_id))
            await ipam.release(db, ipam.pod_owner(pod.id, top_id))
        await _forget(db, routing)


@handler("port.orphan_check")
async def orphan_check(ctx: JobContext, job: Job) -> None:
    """A port a server create made and never attached: bound in its pod (the server was
    made, the top did not hear of it) it is adopted; otherwise it goes."""
    async with ctx.sessions() as db:
        port = await store.get(db, store.PORT, job.resource_id)
        if port is None or port.body.get("device_id"):
            return
        for routing, pod in await copies.in_pods(db, PORT, port.id):
            resp = await PodNeutron(ctx.pods, pod).call("GET", f"/ports/{routing.bottom_id}")
            found = resp.json().get("port", {}) if resp.status_code == 200 else {}
            if found.get("device_id"):
                store.change(
                    port, {"device_id": found["device_id"], "device_owner": f"compute:{pod.az}"}
                )
                await queue.enqueue(db, "port.status", port.id, port.project_id, {})
                await db.commit()
                return
        await ports.release(_caller(ctx, db, port.project_id), port)
        await db.commit()


class PortNotBound(Exception):
    """The bottom port is not active yet: the attempt fails and is retried later."""


@handler("port.status")
async def port_status(ctx: JobContext, job: Job) -> None:
    """The bottom port's status and binding flow back to the top port (retried until the
    pod has bound it)."""
    async with ctx.sessions() as db:
        port = await store.get(db, store.PORT, job.resource_id)
        if port is None:
            return
        for routing, pod in await copies.in_pods(db, PORT, port.id):
            found = await PodNeutron(ctx.pods, pod).ok(
                "GET", f"/ports/{routing.bottom_id}", "a port lookup"
            )
            bottom = found["port"]
            host = bottom.get("binding:host_id") or ""
            port = await store.locked(db, store.PORT, job.resource_id)
            if port is None:
                return
            store.change(
                port,
                {
                    "status": bottom.get("status", "DOWN"),
                    "binding:host_id": host,
                    "binding:vif_type": bottom.get("binding:vif_type", "unbound"),
                    "binding:vif_details": bottom.get("binding:vif_details", {}),
                },
            )
            await db.commit()
            if bottom.get("status") != "ACTIVE" and port.body.get("device_id"):
                raise PortNotBound(
                    f"port {routing.bottom_id} in pod {pod.name} is {bottom.get('status')}"
                )


def _caller(ctx: JobContext, db: AsyncSession, project: str | None) -> Caller:
    return Caller(db, ctx.conf.network, project or "", True)


@handler("router.build")
async def build_router(ctx: JobContext, job: Job) -> None:
    """Every pod of the router's span holds its bottom router as planned; other pods none."""
    async with ctx.sessions() as db:
        router = await store.get(db, store.ROUTER, job.resource_id)
        if router is None:
            await router_pods.purge(db, ctx.pods, job.resource_id)
            return
        await router_pods.build(db, ctx.conf.network, ctx.pods, router)


async def _purge_router(ctx: JobContext, db: AsyncSession, router_id: str) -> None:
    await router_pods.purge(db, ctx.pods, router_id)


@handler("floatingip.sync")
async def sync_floatingip(ctx: JobContext, job: Job) -> None:
    """The pod holds the floating IP exactly while it is associated with a port there."""
    async with ctx.sessions() as db:
        await floatingip_pods.sync(_caller(ctx, db, job.project_id), ctx.pods, job.resource_id)


# --- pods' copies following the top's objects -----------------------------------------

Purge = Callable[[JobContext, AsyncSession, str], Awaitable[None]]
# what a pod's copy (bottom id) of a top object must now have; None: nothing to put
Change = Callable[[AsyncSession, PodNeutron, NetResource, str], Awaitable[dict[str, Any] | None]]


def _follower(name: str, kind: str, change: Change, gone: tuple[str, ...] = ()) -> None:
    """Job `name` (top object of `kind`): every pod's copy gets its `change`; an object
    gone at the top has the pods' copies of the `gone` kinds purged."""

    async def follow(ctx: JobContext, job: Job) -> None:
        async with ctx.sessions() as db:
            row = await store.get(db, kind, job.resource_id)
            if row is None:
                for each in gone:
                    await _purge(ctx, db, each, job.resource_id)
                return
            await _follow(db, ctx.pods, kind, row, change)

    handler(name)(follow)


async def _follow(
    db: AsyncSession, pods: PodRegistry, kind: str, row: NetResource, change: Change
) -> None:
    """Every pod's copy of the top object gets its `change`."""
    for routing, pod in await copies.in_pods(db, kind, row.id, intents=True):
        if routing.bottom_id:
            await _change_copy(db, PodNeutron(pods, pod), kind, row, routing.bottom_id, change)


async def _change_copy(
    db: AsyncSession,
    neutron: PodNeutron,
    kind: str,
    row: NetResource,
    bottom_id: str,
    change: Change,
) -> None:
    body = await change(db, neutron, row, bottom_id)
    if body is not None:
        path = f"/{materialise.COLLECTION[kind]}/{bottom_id}"
        await neutron.ok("PUT", path, f"a {kind} update", json={kind: body})


async def converge_copy(
    db: AsyncSession, neutron: PodNeutron, row: NetResource, bottom_id: str
) -> None:
    """One pod's copy of a top network, subnet, port or security group (its rules) made
    like the top's now, as the object's sync job would (an audit's repair)."""
    changes: dict[str, Change] = {
        NETWORK: _network,
        SUBNET: _subnet,
        PORT: _port,
        GROUP: materialise.sync_rules,
    }
    await _change_copy(db, neutron, row.kind, row, bottom_id, changes[row.kind])


async def port_now(db: AsyncSession, pods: PodRegistry, port: NetResource) -> None:
    """What `port.sync` does, done now: for a change a client reads back through the
    pod's Nova at once (a server's security groups, which Nova changes in its Neutron
    before it answers). The job stays queued: it retries what fails here."""
    await _follow(db, pods, PORT, port, _port)


def _purger(name: str, kind: str, purge: Purge) -> None:
    """Job `name`: once the top object of `kind` is gone, its pods' copies go."""

    async def run(ctx: JobContext, job: Job) -> None:
        async with ctx.sessions() as db:
            if await store.get(db, kind, job.resource_id) is None:
                await purge(ctx, db, job.resource_id)

    handler(name)(run)


async def _port(
    db: AsyncSession, neutron: PodNeutron, port: NetResource, b_port: str
) -> dict[str, Any]:
    """Name, admin state, fixed IPs, security groups and address pairs of the top port."""
    change: dict[str, Any] = {
        "description": str(port.body.get("name", ""))[:255],
        "admin_state_up": port.body.get("admin_state_up", True),
    }
    # the top's addresses (a server's `addFixedIp`, a port update), on the pod's copies of
    # their subnets; left as they are while a subnet has no copy in the pod yet
    fixed = []
    for ip in port.body.get("fixed_ips", []):
        b_subnet = await materialise.bottom_id(db, SUBNET, ip["subnet_id"], neutron.pod.id)
        if b_subnet is None:
            break
        fixed.append({"subnet_id": b_subnet, "ip_address": ip["ip_address"]})
    else:
        change["fixed_ips"] = fixed
    if port.body.get("port_security_enabled", True):
        change["security_groups"] = await materialise.ensure_groups(db, neutron, port)
        change["allowed_address_pairs"] = port.body.get("allowed_address_pairs", [])
    return change


async def _subnet(
    db: AsyncSession, neutron: PodNeutron, subnet: NetResource, b_subnet: str
) -> dict[str, Any] | None:
    """Gateway, routes, name servers and DHCP (the pod's DHCP port first) of the top subnet."""
    network = await store.get(db, store.NETWORK, subnet.parent_id or "")
    if network is None:
        return None
    b_net = await materialise.bottom_id(db, NETWORK, network.id, neutron.pod.id)
    if subnet.body.get("enable_dhcp") and b_net:  # DHCP on: the pod's port first
        await materialise.ensure_subnet(db, neutron, network, subnet, b_net)
    change = {
        k: subnet.body.get(k)
        for k in ("gateway_ip", "host_routes", "dns_nameservers", "enable_dhcp")
    }
    return {**change, "description": str(subnet.body.get("name", ""))[:255]}


async def _network(
    db: AsyncSession, neutron: PodNeutron, network: NetResource, b_net: str
) -> dict[str, Any]:
    """Name, admin state and port security of the top network."""
    return {
        "description": str(network.body.get("name", ""))[:255],
        "admin_state_up": network.body.get("admin_state_up", True),
        "port_security_enabled": network.body.get("port_security_enabled", True),
    }


async def _purge_port(ctx: JobContext, db: AsyncSession, port_id: str) -> None:
    await _purge(ctx, db, PORT, port_id)
    # the pods hold the port's addresses and MAC no more: free at the top too
    await ipam.release(db, ipam.purging(port_id))
    await ipam.release_mac(db, ipam.purging(port_id))
    await db.commit()


async def _purge_subnet(ctx: JobContext, db: AsyncSession, subnet_id: str) -> None:
    await _purge(ctx, db, DHCP, subnet_id)
    await _purge(ctx, db, SUBNET, subnet_id)


async def _purge_network(ctx: JobContext, db: AsyncSession, network_id: str) -> None:
    """The pods' copies of a deleted network: its subnets' (DHCP ports, subnets) whose top
    subnet is gone, then the network."""
    query = select(Routing.top_id).where(Routing.resource_type == SUBNET)
    subnet_ids = set((await db.scalars(query)).all())
    subnet_ids = {s for s in subnet_ids if await store.get(db, store.SUBNET, s) is None}
    for subnet_id in subnet_ids:
        await _purge_subnet(ctx, db, subnet_id)
    await _purge(ctx, db, NETWORK, network_id)
    # no pod has the VLAN any more: it may be handed out again
    await segments.release(db, network_id)
    await db.commit()


_follower("security_group.sync", GROUP, materialise.sync_rules, (GROUP,))
_follower("port.sync", PORT, _port, (PORT,))
_follower("subnet.sync", SUBNET, _subnet, (DHCP, SUBNET))
_follower("network.sync", NETWORK, _network)
_purger("port.purge", PORT, _purge_port)
_purger("subnet.purge", SUBNET, _purge_subnet)
_purger("router.purge", routers.ROUTER, _purge_router)
_purger("network.purge", NETWORK, _purge_network)

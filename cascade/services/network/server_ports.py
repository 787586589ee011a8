"""Top networks and ports in a server create, and the ports a server leaves behind.

`translate` turns the `networks` of a server create into bottom ports of the
chosen pod: a top port is used as it is, a top network gets a new top port
(addresses from the top's IPAM, the request's security groups or the
project's default). Each is built in the pod (see `materialise`) and the
request then names the bottom port. Errors are Nova's: an unknown network or
port or security group is a 400, a port in use a 409.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from cascade.db.models import NetResource, Pod
from cascade.jobs import queue
from cascade.pods.network import PodNeutron
from cascade.pods.registry import PodRegistry
from cascade.services.network import auto_allocate, floatingips, materialise, ports, store
from cascade.services.network.access import Caller, parent_of, sees, shared_to
from cascade.services.network.errors import NeutronError

STATUS_JOB = "port.status"


class ServerNetworkError(Exception):
    """A Nova error for the server create: status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class NotVisible(ServerNetworkError):
    """A port or network the caller cannot see (Nova's PortNotFound, NetworkNotFound):
    400 in a server create, 404 in an interface attach."""


@dataclass
class Translated:
    """What a create used: the top ports (and which of them it made itself)."""

    used: list[str] = field(default_factory=list)
    made: list[str] = field(default_factory=list)


async def _groups(caller: Caller, server: dict[str, Any]) -> list[str] | None:
    wanted = server.get("security_groups")
    if not wanted:
        return None
    mine = await store.rows(caller.db, store.SECURITY_GROUP, caller.project_id)
    ids = []
    for item in wanted:
        name = item.get("name") if isinstance(item, dict) else None
        match = [g for g in mine if name in (g.id, g.body.get("name"))]
        if not match:
            raise ServerNetworkError(
                400, f"Security group {name} not found for project {caller.project_id}."
            )
        ids.append(match[0].id)
    return sorted(set(ids))


async def _top_port(caller: Caller, port_id: str) -> NetResource:
    row = await store.get(caller.db, store.PORT, port_id)
    if row is None or not sees(caller, row, await parent_of(caller, row)):
        raise NotVisible(400, f"Port id {port_id} could not be found.")
    if row.body.get("device_id"):
        raise ServerNetworkError(409, f"Port {port_id} is still in use.")
    return row


async def _new_port(caller: Caller, entry: dict[str, Any], groups: list[str] | None) -> NetResource:
    network_id = str(entry["uuid"])
    network = await store.get(caller.db, store.NETWORK, network_id)
    if network is None or not sees(caller, network):
        raise NotVisible(400, f"Network {network_id} could not be found.")
    body: dict[str, Any] = {"network_id": network_id}
    if entry.get("fixed_ip"):
        body["fixed_ips"] = [{"ip_address": entry["fixed_ip"]}]
    if groups is not None:
        body["security_groups"] = groups
    try:
        return await ports.create(caller, {"port": body}, for_server=True)
    except NeutronError as exc:
        status = 409 if exc.status == 409 else 400
        raise ServerNetworkError(status, exc.message) from exc


async def translate(
    caller: Caller, registry: PodRegistry, pod: Pod, server: dict[str, Any], request_id: str
) -> Translated:
    """Rewrite `server["networks"]` to bottom ports of `pod` (`auto` as `requested`
    says; nothing to do for `none`, or no networks where the project has none at the
    top). Ports made here are released again if a later step fails."""
    done = Translated()
    networks = await requested(caller, server)
    if networks is None:
        return done  # no top network: the pod picks one of its own, as before
    server["networks"] = networks
    groups = await _groups(caller, server)
    neutron = PodNeutron(registry, pod, request_id)
    names = {p.id: p.name for p in await _pods(caller)}
    out = []
    try:
        for entry in networks:
            if not isinstance(entry, dict):
                raise ServerNetworkError(400, f"Bad networks format: {entry}")
            if entry.get("port"):
                row = await _top_port(caller, str(entry["port"]))
            elif entry.get("uuid"):
                row = await _new_port(caller, entry, groups)
                done.made.append(row.id)
            else:
                raise ServerNetworkError(
                    400, "Bad networks format: network uuid is not in proper format"
                )
            done.used.append(row.id)
            bottom = await materialise.ensure_port(caller.db, neutron, row, names)
            out.append({"port": bottom, **({"tag": entry["tag"]} if "tag" in entry else {})})
    except NeutronError as exc:
        await release(caller, done)
        raise ServerNetworkError(409 if exc.status == 409 else 400, exc.message) from exc
    except BaseException:
        await release(caller, done)
        raise
    server["networks"] = out
    # the groups are on the ports now; Nova applies none to ports it did not create
    server.pop("security_groups", None)
    return done


async def requested(caller: Caller, server: dict[str, Any]) -> list[Any] | None:
    """The `networks` a create's server gets at the top: as given (a list); for none
    named the project's only usable top network (Nova's 409 for several), None when it
    has none (the pod chooses); for `auto` (2.37+) that network too, or when the project
    has none, the one auto-allocated for it at the top (`auto_allocate`; Nova's 400
    UnableToAutoAllocateNetwork when it cannot be). None for `none`."""
    networks = server.get("networks")
    if networks is None:
        usable = await _only_network(caller)
        return [{"uuid": usable[0].id}] if usable else None
    if networks == "auto":
        return [{"uuid": await _auto_network(caller)}]
    return networks if isinstance(networks, list) else None


async def _only_network(caller: Caller) -> list[NetResource]:
    """No network named (or `auto`): as Nova's `_get_available_networks`, the project's
    own networks and those shared with it (not external ones); 409 when there are
    several."""
    usable = [
        n
        for n in await store.rows(caller.db, store.NETWORK)
        if not n.body.get("router:external")
        and (n.project_id == caller.project_id or shared_to(caller.project_id, n))
    ]
    if len(usable) > 1:
        raise ServerNetworkError(
            409, "Multiple possible networks found, use a Network ID to be more specific."
        )
    return usable


async def _auto_network(caller: Caller) -> str:
    """`networks: auto`, as Nova asks its Neutron: the project's usable network, counting
    its own only when up (an auto-allocated one being built is down); without one, the
    project's auto-allocated topology's network, built now at the top (so no pod's
    Neutron builds one of its own)."""
    ready = [
        n
        for n in await _only_network(caller)
        if shared_to(caller.project_id, n) or n.body.get("admin_state_up", True)
    ]
    if ready:
        return ready[0].id
    try:
        return await auto_allocate.network_of(caller, caller.project_id)
    except NeutronError as exc:
        raise ServerNetworkError(
            400, f"Unable to automatically allocate a network for project {caller.project_id}"
        ) from exc


async def _pods(caller: Caller) -> list[Pod]:
    return list((await caller.db.scalars(select(Pod))).all())


async def release(caller: Caller, done: Translated) -> None:
    """Undo a failed create: the ports it made go (at the top now, in the pods by a job)."""
    await caller.db.rollback()
    for port_id in done.made:
        row = await store.get(caller.db, store.PORT, port_id)
        if row is not None:
            await ports.release(caller, row)
    await caller.db.commit()


async def attach(caller: Caller, done: Translated, server_id: str, az: str) -> None:
    """The server exists: its top ports name it as their device."""
    for port_id in done.used:
        row = await store.get(caller.db, store.PORT, port_id)
        if row is not None:
            store.change(row, {"device_id": server_id, "device_owner": f"compute:{az}"})
            # the pod binds the port while the server builds: its status follows
            await queue.enqueue(
                caller.db, STATUS_JOB, row.id, row.project_id, {}, delay=timedelta(seconds=2)
            )
    await floatingips.on_ports(caller, done.used)
    await caller.db.commit()


async def detach(caller: Caller, server_id: str) -> None:
    """The server is being deleted: ports made for it go, ports given to it are free
    again. The pods' copies are deleted by jobs."""
    for row in await store.rows(caller.db, store.PORT):
        if row.body.get("device_id") == server_id:
            await _free(caller, row)
    await caller.db.commit()


async def _free(caller: Caller, row: NetResource) -> None:
    """A port its server let go of: made for it, it goes; given to it, it is free again."""
    if row.body.get("_auto_delete"):
        await ports.release(caller, row)
    else:
        store.change(row, {"device_id": "", "device_owner": ""})
        await queue.enqueue(caller.db, ports.JOB_SYNC, row.id, row.project_id, {})


async def interface_request(
    caller: Caller, registry: PodRegistry, pod: Pod, att: dict[str, Any], request_id: str
) -> tuple[dict[str, Any], Translated]:
    """An `os-interface` attach naming a top network or port, rewritten to the bottom
    port built in the server's pod (Nova's 400/409 as for a create, but its 404 for a
    port or network the caller cannot see, as Nova's attach answers)."""
    entry: dict[str, Any] = {}
    if att.get("port_id"):
        entry["port"] = att["port_id"]
    elif att.get("net_id"):
        entry["uuid"] = att["net_id"]
        ips = att.get("fixed_ips") or []
        if ips and isinstance(ips[0], dict) and ips[0].get("ip_address"):
            entry["fixed_ip"] = ips[0]["ip_address"]
    else:
        return att, Translated()  # Nova picks a network itself: nothing to translate
    if "tag" in att:
        entry["tag"] = att["tag"]
    server: dict[str, Any] = {"networks": [entry]}
    try:
        done = await translate(caller, registry, pod, server, request_id)
    except NotVisible as exc:
        raise ServerNetworkError(404, exc.message) from exc
    out = {"port_id": server["networks"][0]["port"]}
    if "tag" in att:
        out["tag"] = att["tag"]
    return out, done


async def bottom_port(caller: Caller, pod: Pod, top_port_id: str) -> str | None:
    return await materialise.bottom_id(caller.db, materialise.PORT, top_port_id, pod.id)


async def interface_gone(caller: Caller, top_port_id: str) -> None:
    """A detached interface: a port made for it goes, a given port is free again."""
    row = await store.get(caller.db, store.PORT, top_port_id)
    if row is None:
        return
    await _free(caller, row)
    await caller.db.commit()


async def add_fixed_ip(caller: Caller, server_id: str, network_id: str) -> bool:
    """What Nova's `addFixedIp` does with its Neutron, on the server's top ports: its
    first port on the network gets one more address, of the network's first subnet that
    has one to give (the pods' copies follow by `port.sync`). False when none could
    (Nova's compute logs it; its API has answered 202 already)."""
    subnets = sorted(
        await store.rows(caller.db, store.SUBNET, parent_ids=[network_id]),
        key=lambda s: (s.created_at, s.id),
    )
    mine = [
        p
        for p in await store.rows(caller.db, store.PORT)
        if p.body.get("device_id") == server_id and p.parent_id == network_id
    ]
    for port in mine[:1]:
        for subnet in subnets:
            current = [dict(ip) for ip in port.body.get("fixed_ips", [])]
            try:
                await ports.update(
                    caller, port, {"fixed_ips": [*current, {"subnet_id": subnet.id}]}
                )
                return True
            except NeutronError:
                await caller.db.rollback()
                port = await store.get(caller.db, store.PORT, port.id) or port
    return False


async def remove_fixed_ip(caller: Caller, server_id: str, address: str) -> bool:
    """What Nova's `removeFixedIp` does with its Neutron: the server's top port with the
    address lets it go (the pods' copies follow). False when no port of it has it."""
    for port in await store.rows(caller.db, store.PORT):
        ips = port.body.get("fixed_ips", [])
        if port.body.get("device_id") != server_id or address not in [
            ip.get("ip_address") for ip in ips
        ]:
            continue
        kept = [dict(ip) for ip in ips if ip.get("ip_address") != address]
        await ports.update(caller, port, {"fixed_ips": kept})
        return True
    return False

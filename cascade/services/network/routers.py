"""Routers at the top, built in the pods by jobs (no HTTP types here).

A router has a home pod: its gateway's (a top external network is one pod's
external network) or, without a gateway, the pod of its first interface's
network (a local network's home, or the first pod holding a copy of a VLAN
network, else the first enabled pod). Its interfaces may be on networks of any
pods: `router_plan` says which pods get a bottom router and what each holds,
`router_pods` builds it. Interfaces are top ports holding the subnet's gateway
IP (a MAC from the top); the pods get them by port, so no pod allocates an
address or MAC of its own on a shared segment. The gateway's address comes from
the top's IPAM too.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from cascade.db.models import NetResource, Pod, Routing
from cascade.jobs import queue
from cascade.services.network import (
    attrs,
    bridges,
    extra_routes,
    ipam,
    materialise,
    ports,
    quotas,
    router_plan,
    store,
)
from cascade.services.network.access import Caller, creating, find, permit, unseen
from cascade.services.network.errors import BadRequest, Conflict, NeutronError

A = attrs.Attr
SPEC: attrs.Spec = {
    "name": A(attrs.text(), "", put=True),
    "description": A(attrs.text(), "", put=True),
    "admin_state_up": A(attrs.boolean, True, put=True),
    "external_gateway_info": A(attrs.anything, None, put=True),
    "routes": A(attrs.anything, list, put=True),
    "availability_zone_hints": A(attrs.listed, list),
    # extensions dvr and l3-ha: admin-only as in Neutron. Both are facts of the top
    # router (shown to admins, changed only while the router is down, as Neutron
    # migrates them); the pods' copies are built centralised and without HA.
    "distributed": A(attrs.boolean, False, put=True, admin=True, explicit=True),
    "ha": A(attrs.boolean, False, put=True, admin=True, explicit=True),
}
ADMIN_ONLY = ("distributed", "ha")  # `get_router:distributed`, `get_router:ha`: admin_only
MIGRATION = {
    "distributed": "Cannot change the 'distributed' attribute of active routers. Please "
    "set router admin_state_up to False prior to upgrade",
    "ha": "Cannot change HA attribute of active routers. Please set router admin_state_up "
    "to False prior to upgrade",
}
INTERFACE = router_plan.INTERFACE
GATEWAY = "network:router_gateway"
ROUTER = "router"
JOB_PURGE = "router.purge"
JOB_BUILD = "router.build"


def gateway_owner(router_id: str) -> str:
    return f"router-gw:{router_id}"


async def views(caller: Caller, rows: list[NetResource]) -> list[dict[str, Any]]:
    """The routers as Neutron shows them: `distributed` and `ha` for admins only;
    `availability_zones` the AZs of the pods holding a bottom router (Neutron's: those
    of the L3 agents hosting it), before the first build the home pod's."""
    hidden = unseen(caller, "router", ADMIN_ONLY)
    pods = await _pods(caller) if rows else {}
    query = select(Routing.top_id, Routing.pod_id).where(
        Routing.resource_type == materialise.ROUTER, Routing.top_id.in_([r.id for r in rows])
    )
    built: dict[str, set[str]] = {}
    for top_id, pod_id in (await caller.db.execute(query)).all():
        built.setdefault(top_id, set()).add(pod_id)
    out = []
    for row in rows:
        where = built.get(row.id) or ({str(row.body["_pod"])} if row.body.get("_pod") else set())
        zones = sorted({pods[p].az for p in where if p in pods and pods[p].az})
        shown = {"external_gateway_info": None, "routes": [], **store.view(row)}
        shown["availability_zones"] = zones
        out.append({k: v for k, v in shown.items() if k not in hidden})
    return out


async def gateway_ports(caller: Caller, router_id: str) -> list[NetResource]:
    """The router's gateway port at the top (one, or none without a gateway)."""
    return [
        p
        for p in await store.rows(caller.db, store.PORT)
        if p.body.get("device_id") == router_id and p.body.get("device_owner") == GATEWAY
    ]


async def _drop_gateway(caller: Caller, router: NetResource) -> None:
    """The gateway's port, addresses and MAC go (in the caller's transaction): nothing of
    an old gateway stays when it is cleared, replaced or its router deleted."""
    for port in await gateway_ports(caller, router.id):
        await caller.db.delete(port)
    await ipam.release(caller.db, gateway_owner(router.id))
    await ipam.release_mac(caller.db, gateway_owner(router.id))


async def _add_gateway_port(
    caller: Caller, router: NetResource, network: NetResource, fixed: list[dict[str, str]]
) -> None:
    """The gateway's port as Neutron shows it to admins (no project: `project_id` "",
    device owner `network:router_gateway`); its addresses are the gateway's. The pod
    makes its own gateway port at these addresses when it builds the router."""
    mac = await ipam.allocate_mac(caller.db, gateway_owner(router.id), network.id)
    store.add(
        caller.db,
        store.PORT,
        "",
        {
            "name": "",
            "description": "",
            "network_id": network.id,
            "admin_state_up": True,
            "mac_address": mac,
            "fixed_ips": fixed,
            "device_id": router.id,
            "device_owner": GATEWAY,
            "security_groups": [],
            "allowed_address_pairs": [],
            "extra_dhcp_opts": [],
            "port_security_enabled": False,
            "binding:host_id": "",
            "binding:profile": {},
            "binding:vnic_type": "normal",
            "binding:vif_type": "unbound",
            "binding:vif_details": {},
            "status": "ACTIVE",
            "ip_allocation": "immediate",
            "propagate_uplink_status": False,
            "resource_request": None,
        },
        parent_id=network.id,
    )


async def _pods(caller: Caller) -> dict[str, Pod]:
    return {p.id: p for p in (await caller.db.scalars(select(Pod))).all()}


async def _network_pod(caller: Caller, network: NetResource, pods: dict[str, Pod]) -> str | None:
    """The pod a network is tied to for a router: an external or local network's home,
    else the first pod holding a copy of it (None: nowhere yet)."""
    home = network.body.get("_home_pod")
    if home:
        return str(home)
    for pod_id in sorted(pods, key=lambda p: pods[p].name):
        if await materialise.bottom_id(caller.db, materialise.NETWORK, network.id, pod_id):
            return pod_id
    return None


def _place(router: NetResource, pod_id: str | None) -> str | None:
    """The router's home: where it is, else `pod_id` (the first interface's pod)."""
    current = router.body.get("_pod")
    return str(current) if current else pod_id


async def _gateway(
    caller: Caller, router: NetResource, info: Any, pods: dict[str, Pod]
) -> dict[str, Any] | None:
    """The gateway as stored: the external network, SNAT, and a top-allocated address
    held by the gateway's port (the old gateway's port and addresses go first). As in
    Neutron, a gateway that floating IPs need stays on its network: 409 otherwise."""
    old = (router.body.get("external_gateway_info") or {}).get("network_id")
    new = info.get("network_id") if isinstance(info, dict) else None
    if old and new != old:
        for fip in await store.rows(caller.db, store.FLOATINGIP):
            if fip.body.get("router_id") == router.id:
                raise Conflict(
                    f"Gateway cannot be updated for router {router.id}, since a gateway to "
                    f"external network {old} is required by one or more floating IPs.",
                    type="RouterExternalGatewayInUseByFloatingIp",
                )
    await _drop_gateway(caller, router)
    await caller.db.flush()  # an address kept across the change is free to take again
    if not info:
        return None
    if not isinstance(info, dict) or "network_id" not in info:
        raise BadRequest("Invalid input for external_gateway_info: a network_id is required.")
    network = await find(caller, store.NETWORK, str(info["network_id"]))
    if not network.body.get("router:external"):
        raise BadRequest(f"Bad router request: Network {network.id} is not an external network.")
    subnets = await store.rows(caller.db, store.SUBNET, parent_ids=[network.id])
    if not subnets:
        raise BadRequest(f"Bad router request: No subnets on external network {network.id}.")
    wanted = info.get("external_fixed_ips") or [{}]
    fixed = []
    for item in wanted:
        subnet = next((s for s in subnets if s.id == item.get("subnet_id")), subnets[0])
        address = await ipam.allocate(
            caller.db,
            network.id,
            store.view(subnet),
            gateway_owner(router.id),
            item.get("ip_address"),
        )
        fixed.append({"subnet_id": subnet.id, "ip_address": address})
    # the gateway's pod is the router's home: its VLAN interfaces move there (`router_plan`)
    home = await _network_pod(caller, network, pods)
    await _ipv6_at_home(caller, router, home, pods, [])
    store.change(router, {"_pod": home})
    await _add_gateway_port(caller, router, network, fixed)
    return {
        "network_id": network.id,
        "enable_snat": bool(info.get("enable_snat", True)),
        "external_fixed_ips": fixed,
    }


async def create(caller: Caller, body: Any) -> NetResource:
    """A new router: 201; with a gateway, built by a job in the external network's pod.
    A gateway address taken concurrently is taken again (a fresh one), as Neutron does."""
    given = attrs.take(SPEC, body, "router", caller.allows, update=False)
    if given["routes"]:
        raise BadRequest("Attribute 'routes' not allowed in POST")
    project = creating(caller, body, "router", given)
    info = given.pop("external_gateway_info")
    return await ipam.retried(
        caller.db, lambda: _create_once(caller, dict(given), project, info), _pinned(info)
    )


def _pinned(info: Any) -> bool:
    """Whether a gateway names its addresses (then one taken is Neutron's 409)."""
    fixed = info.get("external_fixed_ips") if isinstance(info, dict) else None
    return isinstance(fixed, list) and any(
        isinstance(f, dict) and f.get("ip_address") for f in fixed
    )


async def _create_once(
    caller: Caller, given: dict[str, Any], project: str, info: Any
) -> NetResource:
    await quotas.check(caller.db, caller.conf, project, "router")
    row = store.add(
        caller.db,
        store.ROUTER,
        project,
        {
            **given,
            "status": "ACTIVE",
            "external_gateway_info": None,
            "availability_zones": [],
            "flavor_id": None,
            "_pod": None,
        },
    )
    await caller.db.flush()
    pods = await _pods(caller)
    store.change(row, {"external_gateway_info": await _gateway(caller, row, info, pods)})
    await _rebuild(caller, row)
    await caller.db.commit()
    return row


async def _rebuild(caller: Caller, router: NetResource) -> None:
    """The pod's copy follows the top router (a job: latest request wins)."""
    await queue.enqueue(caller.db, JOB_BUILD, router.id, router.project_id, {})


async def update(caller: Caller, row: NetResource, given: dict[str, Any]) -> None:
    """The router changed (gateway, routes checked as Neutron checks them); its pods'
    copies follow via a job. `distributed` and `ha` change only while the router is down
    (before and after the update), as Neutron migrates a router: 400 otherwise. A new
    gateway address taken concurrently is taken again (a fresh one)."""
    router_id = row.id

    async def once() -> None:
        # after a rollback the session's loaded objects are expired: found again
        fresh = await find(caller, store.ROUTER, router_id)
        await _update_once(caller, fresh, dict(given))

    await ipam.retried(caller.db, once, _pinned(given.get("external_gateway_info")))


async def _update_once(caller: Caller, row: NetResource, given: dict[str, Any]) -> None:
    active = row.body.get("admin_state_up", True) or given.get("admin_state_up", False)
    for key in ADMIN_ONLY:
        if active and key in given and given[key] != bool(row.body.get(key, False)):
            raise BadRequest(f"Bad router request: {MIGRATION[key]}.")
    if "external_gateway_info" in given:
        given["external_gateway_info"] = await _gateway(
            caller, row, given["external_gateway_info"], await _pods(caller)
        )
    if "routes" in given:
        given["routes"] = extra_routes.parse(given["routes"])
        cidrs, own = await _connected(caller, row, given.get("external_gateway_info", ...))
        extra_routes.check(given["routes"], row.id, cidrs, own)
    if store.change(row, given):
        await _rebuild(caller, row)
    await caller.db.commit()


async def _connected(
    caller: Caller, router: NetResource, gateway: Any
) -> tuple[list[str], list[str]]:
    """The CIDRs of the subnets the router is attached to and its own addresses (its
    interfaces and its gateway: `gateway` as it is about to be, `...` as it is)."""
    info = router.body.get("external_gateway_info") if gateway is ... else gateway
    fixed = [ip for p in await interfaces(caller, router.id) for ip in p.body["fixed_ips"]]
    fixed += (info or {}).get("external_fixed_ips", [])
    subnets = await store.rows(caller.db, store.SUBNET, ids=sorted({f["subnet_id"] for f in fixed}))
    return [s.body["cidr"] for s in subnets], [f["ip_address"] for f in fixed]


async def interfaces(caller: Caller, router_id: str) -> list[NetResource]:
    return await router_plan.interface_ports(caller.db, router_id)


async def delete(caller: Caller, row: NetResource) -> None:
    """The router goes (409 RouterInUse while it has interfaces); the pod's copy by a job."""
    if await interfaces(caller, row.id):
        raise Conflict(f"Router {row.id} still has ports", type="RouterInUse")
    for fip in await store.rows(caller.db, store.FLOATINGIP):
        if fip.body.get("router_id") == row.id:
            raise Conflict(f"Router {row.id} still has floating IPs", type="RouterInUse")
    await _drop_gateway(caller, row)
    await caller.db.delete(row)
    await queue.enqueue(caller.db, JOB_PURGE, row.id, row.project_id, {})
    await caller.db.commit()


def _interface_info(router: NetResource, port: NetResource) -> dict[str, Any]:
    subnets = [ip["subnet_id"] for ip in port.body.get("fixed_ips", [])]
    return {
        "id": router.id,
        "tenant_id": router.project_id,
        "project_id": router.project_id,
        "port_id": port.id,
        "network_id": port.parent_id,
        "subnet_id": subnets[0] if subnets else None,
        "subnet_ids": subnets,
    }


async def add_interface(caller: Caller, router_id: str, body: Any) -> dict[str, Any]:
    """PUT add_router_interface with a subnet (a new top port at its gateway IP) or a port:
    200 with the interface; the router's pod gets it by a job."""
    router = await find(caller, store.ROUTER, router_id)
    await permit(caller, "add_router_interface", router)
    if not isinstance(body, dict) or not (body.get("subnet_id") or body.get("port_id")):
        raise BadRequest("Bad router request: Either subnet_id or port_id must be specified")
    if body.get("subnet_id") and body.get("port_id"):
        raise BadRequest("Bad router request: Cannot specify both subnet-id and port-id")
    pods = await _pods(caller)
    if body.get("port_id"):
        port = await find(caller, store.PORT, str(body["port_id"]))
        if port.body.get("device_id"):
            raise Conflict(f"Port {port.id} is in use", type="PortInUse")
        network = await find(caller, store.NETWORK, port.parent_id or "")
    else:
        subnet = await find(caller, store.SUBNET, str(body["subnet_id"]))
        if not subnet.body.get("gateway_ip"):
            raise BadRequest(f"Bad router request: Subnet {subnet.id} does not have a gateway IP.")
        for other in await interfaces(caller, router.id):
            if any(ip["subnet_id"] == subnet.id for ip in other.body.get("fixed_ips", [])):
                raise BadRequest(
                    f"Bad router request: Router already has a port on subnet {subnet.id}."
                )
        network = await find(caller, store.NETWORK, subnet.parent_id or "")
    new_subnets = (
        [ip["subnet_id"] for ip in port.body.get("fixed_ips", [])]
        if body.get("port_id")
        else [subnet.id]
    )
    await _no_overlap(caller, router, new_subnets)
    if network.body.get("router:external"):
        raise BadRequest(
            f"Bad router request: Router port must have at least one fixed IP "
            f"on a non-external network {network.id}"
        )
    pod_id = _place(router, await _network_pod(caller, network, pods))
    if pod_id is None:
        enabled = sorted((p for p in pods.values() if p.takes_new), key=lambda p: p.created_at)
        if not enabled:
            raise NeutronError("No pod can hold the router.", 503, "ServiceUnavailable")
        pod_id = enabled[0].id
    added = await store.rows(caller.db, store.SUBNET, ids=new_subnets)
    await _ipv6_at_home(caller, router, pod_id, pods, [(s, network) for s in added])
    if body.get("port_id"):
        store.change(port, {"device_id": router.id, "device_owner": INTERFACE})
    else:
        port = await ports.create(
            caller,
            {
                "port": {
                    "network_id": network.id,
                    "device_id": router.id,
                    "device_owner": INTERFACE,
                    "fixed_ips": [
                        {"subnet_id": subnet.id, "ip_address": subnet.body["gateway_ip"]}
                    ],
                    "port_security_enabled": False,
                    "project_id": router.project_id,
                }
            },
        )
        router = await find(caller, store.ROUTER, router_id)
    store.change(router, {"_pod": pod_id})
    await _rebuild(caller, router)
    await caller.db.commit()
    return _interface_info(router, port)


async def _ipv6_at_home(
    caller: Caller,
    router: NetResource,
    home: str | None,
    pods: dict[str, Pod],
    more: list[tuple[NetResource, NetResource]],
) -> None:
    """400 for an IPv6 subnet anchored away from the router's home (a local network of
    another pod): only IPv4 is routed between pods (the bridges are IPv4)."""
    pairs = list(more)
    for port in await interfaces(caller, router.id):
        network = await store.get(caller.db, store.NETWORK, port.parent_id or "")
        ids = [ip["subnet_id"] for ip in port.body.get("fixed_ips", [])]
        if network is not None:
            pairs += [(s, network) for s in await store.rows(caller.db, store.SUBNET, ids=ids)]
    for subnet, network in pairs:
        where = network.body.get("_home_pod")
        if (
            subnet.body.get("ip_version") == 6
            and network.body.get("provider:network_type") == "local"
            and where
            and home
            and where != home
        ):
            raise BadRequest(
                f"Bad router request: IPv6 subnet {subnet.id} is on a local network of pod "
                f"{pods[str(where)].name} and router {router.id} would live in pod "
                f"{pods[home].name}: only IPv4 is routed between pods."
            )


async def _no_overlap(caller: Caller, router: NetResource, subnet_ids: list[str]) -> None:
    """Neutron's 400 when a new interface's subnet overlaps one the router already has."""
    attached = {
        ip["subnet_id"]
        for port in await interfaces(caller, router.id)
        for ip in port.body.get("fixed_ips", [])
    }
    new = await store.rows(caller.db, store.SUBNET, ids=subnet_ids)
    for old in await store.rows(caller.db, store.SUBNET, ids=sorted(attached)):
        for sub in new:
            if sub.id != old.id and ipam.network_of(sub.body["cidr"]).overlaps(
                ipam.network_of(old.body["cidr"])
            ):
                raise BadRequest(
                    f"Bad router request: Cidr {sub.body['cidr']} of subnet {sub.id} overlaps "
                    f"with cidr {old.body['cidr']} of subnet {old.id}."
                )
    bridge = await bridges.find(caller.db, router.id)
    if bridge is None:
        return
    for sub in new:
        cidr = ipam.network_of(sub.body["cidr"])
        if cidr.version == 4 and cidr.overlaps(ipam.network_of(bridge.body["cidr"])):
            # the pods' bottom routers hold the bridge's subnet as an interface too
            raise BadRequest(
                f"Bad router request: Cidr {sub.body['cidr']} of subnet {sub.id} overlaps "
                f"with cidr {bridge.body['cidr']} of the bridge joining router {router.id}'s "
                "pods (from [network] bridge_cidr)."
            )


async def remove_interface(caller: Caller, router_id: str, body: Any) -> dict[str, Any]:
    """PUT remove_router_interface by subnet or port: 200 with what was removed; the top
    port goes now, the pod's interface by a job."""
    router = await find(caller, store.ROUTER, router_id)
    await permit(caller, "remove_router_interface", router)
    if not isinstance(body, dict) or not (body.get("subnet_id") or body.get("port_id")):
        raise BadRequest("Bad router request: Either subnet_id or port_id must be specified")
    found = None
    for port in await interfaces(caller, router.id):
        subnet_ids = {ip["subnet_id"] for ip in port.body.get("fixed_ips", [])}
        if port.id == body.get("port_id") or body.get("subnet_id") in subnet_ids:
            found = port
            break
    if found is None:
        what = body.get("port_id") or body.get("subnet_id")
        raise NeutronError(
            f"Router {router.id} does not have an interface with id {what}",
            404,
            "RouterInterfaceNotFound",
        )
    for ip in found.body.get("fixed_ips", []):
        subnet = await store.get(caller.db, store.SUBNET, ip["subnet_id"])
        if subnet is not None:
            routes = router.body.get("routes") or []
            extra_routes.in_use(routes, subnet.body["cidr"], router.id, subnet.id)
    info = _interface_info(router, found)
    await ports.release(caller, found)
    await _rebuild(caller, router)
    await caller.db.commit()
    return info


async def change_routes(caller: Caller, router_id: str, body: Any, add: bool) -> NetResource:
    """PUT add_extraroutes / remove_extraroutes (extension extraroute-atomic): the routes
    given join or leave the router's, then the whole set is checked as an update's."""
    router = await find(caller, store.ROUTER, router_id)
    await permit(caller, "add_extraroutes" if add else "remove_extraroutes", router)
    given = body.get("router") if isinstance(body, dict) else None
    if not isinstance(given, dict) or "routes" not in given:
        raise BadRequest("Resource body required: {'router': {'routes': [...]}}")
    routes = extra_routes.parse(given["routes"])
    old = list(router.body.get("routes") or [])
    if add:
        merged = old + [r for r in routes if r not in old]
    else:
        merged = [r for r in old if r not in routes]
    await update(caller, router, {"routes": merged})
    return router

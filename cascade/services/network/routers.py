"""Routers at the top, built in one pod (no HTTP types here).

A router lives in one pod: its gateway's (a top external network is one pod's
external network) or, without a gateway, the pod of its first interface's
network (a local network's home, or the first pod holding a copy of a VLAN
network, else the first enabled pod). A VLAN network attached to it is built in
that pod too. An interface or gateway that would join another pod is refused
with a 409 until cross-pod routers exist. Interfaces are top ports holding the
subnet's gateway IP (a MAC from the top); the pod gets them by port, so the
pod allocates no address or MAC of its own on a shared segment. The gateway's
address comes from the top's IPAM too.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from cascade.db.models import NetResource, Pod
from cascade.jobs import queue
from cascade.pods.network import PodNeutron
from cascade.pods.registry import PodRegistry
from cascade.services.network import (
    attrs,
    extra_routes,
    ipam,
    materialise,
    ports,
    quotas,
    store,
)
from cascade.services.network.access import Caller, find, must_own
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
INTERFACE = "network:router_interface"
GATEWAY = "network:router_gateway"
ROUTER = "router"
JOB_PURGE = "router.purge"
JOB_BUILD = "router.build"
CROSS_POD = "routers joining subnets in different pods come in a later release"


def gateway_owner(router_id: str) -> str:
    return f"router-gw:{router_id}"


async def views(caller: Caller, rows: list[NetResource]) -> list[dict[str, Any]]:
    """The routers as Neutron shows them: `distributed` and `ha` for admins only;
    `availability_zones` the AZ of the pod the router is built in (Neutron's: those of
    the L3 agents hosting it)."""
    hidden = () if caller.is_admin else ADMIN_ONLY
    pods = await _pods(caller) if any(r.body.get("_pod") for r in rows) else {}
    out = []
    for row in rows:
        pod = pods.get(str(row.body.get("_pod")))
        zones = [pod.az] if pod is not None and pod.az else []
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


def _place(router: NetResource, pod_id: str | None, pods: dict[str, Pod], what: str) -> str | None:
    current = router.body.get("_pod")
    if pod_id is None:
        return str(current) if current else None
    if current and current != pod_id:
        raise Conflict(
            f"Router {router.id} lives in pod {pods[current].name} and {what} is in pod "
            f"{pods[pod_id].name}: {CROSS_POD}.",
            type="RouterAcrossPods",
        )
    return pod_id


async def _gateway(
    caller: Caller, router: NetResource, info: Any, pods: dict[str, Pod]
) -> dict[str, Any] | None:
    """The gateway as stored: the external network, SNAT, and a top-allocated address
    held by the gateway's port (the old gateway's port and addresses go first)."""
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
    home = await _network_pod(caller, network, pods)
    pod_id = _place(router, home, pods, f"external network {network.id}")
    store.change(router, {"_pod": pod_id})
    await _add_gateway_port(caller, router, network, fixed)
    return {
        "network_id": network.id,
        "enable_snat": bool(info.get("enable_snat", True)),
        "external_fixed_ips": fixed,
    }


async def create(caller: Caller, body: Any) -> NetResource:
    """A new router: 201; with a gateway, built at once in the external network's pod."""
    given = attrs.take(SPEC, body, "router", caller.allows, update=False)
    if given["routes"]:
        raise BadRequest("Attribute 'routes' not allowed in POST")
    project = attrs.owner(body, "router", caller.project_id, caller.is_admin)
    await quotas.check(caller.db, caller.conf, project, "router")
    info = given.pop("external_gateway_info")
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
    """The router changed (gateway, routes checked as Neutron checks them); its pod's
    copy follows via a job. `distributed` and `ha` change only while the router is down
    (before and after the update), as Neutron migrates a router: 400 otherwise."""
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
    return [
        p
        for p in await store.rows(caller.db, store.PORT)
        if p.body.get("device_id") == router_id and p.body.get("device_owner") == INTERFACE
    ]


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


# --- the pod's copy -------------------------------------------------------------------


async def build(caller: Caller, registry: PodRegistry, router: NetResource) -> str | None:
    """The router in its pod: the bottom router, its gateway and every interface (None:
    the router has no pod yet). Safe to repeat."""
    pod_id = router.body.get("_pod")
    if not pod_id:
        return None
    pods = await _pods(caller)
    pod = pods[str(pod_id)]
    names = {p.id: p.name for p in pods.values()}
    neutron = PodNeutron(registry, pod)
    body = {
        "name": router.id,
        "project_id": router.project_id,
        "description": str(router.body.get("name", ""))[:255],
        "admin_state_up": router.body.get("admin_state_up", True),
    }
    b_router = await materialise.ensure(
        caller.db, neutron, ROUTER, router.id, router.project_id, body
    )
    info = router.body.get("external_gateway_info")
    gateway: dict[str, Any] = {}
    if info:
        network = await store.get(caller.db, store.NETWORK, info["network_id"])
        if network is not None:
            b_net, b_subs = await materialise.ensure_network(caller.db, neutron, network, names)
            fixed = [
                {"subnet_id": b_subs[f["subnet_id"]], "ip_address": f["ip_address"]}
                for f in info["external_fixed_ips"]
                if f["subnet_id"] in b_subs
            ]
            gateway = {
                "network_id": b_net,
                "enable_snat": info.get("enable_snat", True),
                "external_fixed_ips": fixed,
            }
    current = (await neutron.ok("GET", f"/routers/{b_router}", "a router lookup"))["router"]
    have = current.get("external_gateway_info") or {}
    if have.get("network_id") != gateway.get("network_id") or (
        gateway
        and (
            bool(have.get("enable_snat", True)) != bool(gateway["enable_snat"])
            or _addresses(have) != _addresses(gateway)
        )
    ):
        # a new network, SNAT or address: the pod's gateway follows (reset in place)
        await neutron.ok(
            "PUT",
            f"/routers/{b_router}",
            "a router gateway",
            json={"router": {"external_gateway_info": gateway}},
        )
    wanted = set()
    for port in await interfaces(caller, router.id):
        b_port = await materialise.ensure_port(caller.db, neutron, port, names)
        wanted.add(b_port)
        found = await neutron.ok("GET", f"/ports/{b_port}", "a port lookup")
        if found["port"].get("device_id") != b_router:
            await neutron.ok(
                "PUT",
                f"/routers/{b_router}/add_router_interface",
                "a router interface",
                json={"port_id": b_port},
            )
            # the pod binds the interface now: its status follows to the top port
            await queue.enqueue(caller.db, "port.status", port.id, port.project_id, {})
            await caller.db.commit()
    # the routes once every interface they need is there, before stale interfaces go
    routes = router.body.get("routes") or []
    if sorted(current.get("routes") or [], key=str) != sorted(routes, key=str):
        await neutron.ok(
            "PUT",
            f"/routers/{b_router}",
            "the router's routes",
            json={"router": {"routes": routes}},
        )
    await remove_stale(neutron, b_router, wanted)
    return b_router


def _addresses(info: dict[str, Any]) -> list[str]:
    return sorted(str(f.get("ip_address")) for f in info.get("external_fixed_ips") or [])


async def remove_stale(neutron: PodNeutron, b_router: str, wanted: set[str]) -> None:
    """Interfaces of the bottom router that the top router no longer has go (the pod
    deletes their ports)."""
    found = await neutron.ok(
        "GET", "/ports", "a port lookup", params={"device_id": b_router, "device_owner": INTERFACE}
    )
    for port in found["ports"]:
        if port["id"] not in wanted:
            resp = await neutron.call(
                "PUT", f"/routers/{b_router}/remove_router_interface", json={"port_id": port["id"]}
            )
            if resp.status_code not in (200, 404):
                raise NeutronError(
                    f"pod {neutron.pod.name} kept interface {port['id']}: {resp.text[:300]}",
                    409,
                    "RouterInterfaceInUse",
                )


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
    must_own(caller, router, "add_router_interface_router")
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
    pod_id = _place(
        router, await _network_pod(caller, network, pods), pods, f"network {network.id}"
    )
    if pod_id is None:
        enabled = sorted((p for p in pods.values() if p.enabled), key=lambda p: p.created_at)
        if not enabled:
            raise NeutronError("No pod can hold the router.", 503, "ServiceUnavailable")
        pod_id = enabled[0].id
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


async def remove_interface(caller: Caller, router_id: str, body: Any) -> dict[str, Any]:
    """PUT remove_router_interface by subnet or port: 200 with what was removed; the top
    port goes now, the pod's interface by a job."""
    router = await find(caller, store.ROUTER, router_id)
    must_own(caller, router, "remove_router_interface_router")
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
    must_own(caller, router, "update_router")
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

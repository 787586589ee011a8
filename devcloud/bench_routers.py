"""`devcloud bench --routers`: what a router and floating IPs across pods cost, in one run.

Side by side, `RUNS` times each, alternated run by run:
- **router add subnet**: through the top, a router with its gateway on `public`
  (pod1) gets a subnet of a `local` network of pod2 (a server there homes it):
  the time from the PUT `add_router_interface` until every pod's bottom objects
  are in place (pod2: the bottom router with the subnet's gateway port, its
  bridge port and the default route to pod1; pod1: the bottom router with its
  bridge port and the route to the subnet via pod2). Straight to pod1's
  Neutron: the same PUT on a router of pod1 until the interface is listed.
  The router is deleted (and gone from the pods) between runs;
- **floating IP association**: a floating IP of `public` associated (PUT
  `port_id`) with the pod2 server's port through the top, until pod1 holds it
  on the server's shadow port; straight to pod1's Neutron, with a pod1 server's
  port, until pod1's floating IP shows the port. Disassociated (and gone from
  pod1) between runs. The floating IPs' routers (one at the top, one of pod1) hold
  the servers' subnets throughout; the add-subnet runs use a second subnet.

As `demo`, loopback only; names start with `bench-xr-`, leftovers of an
interrupted run are deleted first. The devcloud has no L3 agent: "in place"
is what the pods' APIs show, not packets. Figures are written into the
"Routers across pods" section of docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from devcloud import bench_network
from devcloud.bench_cascade import api_process, memory_gib, percentile
from devcloud.bench_network import DOCS, Clouds, replace_block
from devcloud.errors import DevcloudError
from devcloud.layout import Layout, Pod
from devcloud.rest import Rest
from devcloud.seed import IMAGE_NAME

PREFIX = "bench-xr-"
RUNS = 20
POLL = 0.05
WAIT = 120.0
TOP, DIRECT = "through the top", "straight to pod1's Neutron"
HEADING = "## Routers across pods (issue: one tenant router, east-west and north-south)"
BEGIN = "<!-- devcloud bench --routers: generated block, replaced by every run -->"
END = "<!-- devcloud bench --routers: end of generated block -->"


@dataclass
class Results:
    when: datetime
    cores: int
    memory_gib: float
    runs: int
    add_subnet: dict[str, list[float]]
    associate: dict[str, list[float]]


def render(r: Results) -> str:
    rows = [
        f"Measured {r.when:%Y-%m-%d %H:%M} UTC on {r.cores} cores, {r.memory_gib:.0f} GiB, "
        f"the devcloud's two pods, {r.runs} runs of each, alternated "
        "(`bin/devcloud bench --routers`).",
        "",
        "| operation | path | p50 | p99 | max |",
        "|---|---|---|---|---|",
    ]
    for name, values in (
        ("router add subnet, until every pod's bottom objects are in place", r.add_subnet),
        ("floating IP association, until the pod holding it has it", r.associate),
    ):
        for path in (TOP, DIRECT):
            v = values[path]
            rows.append(
                f"| {name} | {path} | {percentile(v, 50) * 1000:.0f} ms | "
                f"{percentile(v, 99) * 1000:.0f} ms | {max(v) * 1000:.0f} ms |"
            )
    return "\n".join(rows)


async def until(check: Callable[[], Awaitable[bool]], what: str) -> float:
    """Poll `check` every POLL s; the monotonic time it first held."""
    deadline = time.monotonic() + WAIT
    while not await check():
        if time.monotonic() > deadline:
            raise DevcloudError("bench", f"timed out after {WAIT:.0f} s waiting for {what}")
        await asyncio.sleep(POLL)
    return time.monotonic()


class Bench:
    def __init__(self, clouds: Clouds) -> None:
        self.c = clouds

    async def pod(self, pod: str, path: str) -> Any:
        return await self.c.admin.call("neutron", "GET", f"{self.c.admin_neutron[pod]}{path}")

    async def direct(self, method: str, path: str, body: Any = None) -> Any:
        url = f"{self.c.pod_neutron['pod1']}{path}"
        return await self.c.user.call("neutron", method, url, body, ok=(200, 201, 204, 404))

    async def bottom(self, pod: str, router_id: str) -> tuple[set[str], set[tuple[str, str]]]:
        """The bottom router's interface port names and routes in the pod."""
        found = (await self.pod(pod, f"/routers?{urlencode({'name': router_id})}"))["routers"]
        if not found:
            return set(), set()
        query = urlencode({"device_id": found[0]["id"]})
        ports = (await self.pod(pod, f"/ports?{query}"))["ports"]
        routes = {(r["destination"], r["nexthop"]) for r in found[0].get("routes") or []}
        return {str(p["name"]) for p in ports}, routes

    async def clean(self) -> None:
        c = self.c
        for fip in (await c.top("GET", "/floatingips"))["floatingips"]:
            if fip.get("description", "").startswith(PREFIX):
                await c.top("DELETE", f"/floatingips/{fip['id']}", ok=(204, 404))
        for router in (await c.top("GET", "/routers"))["routers"]:
            if router["name"].startswith(PREFIX):
                await self.drop_router(router["id"])
        for where in ("top", "pod1"):
            for server_id in await c.servers(where):
                await c.delete_server(where, server_id)
        for net in (await c.top("GET", "/networks"))["networks"]:
            if net["name"].startswith(PREFIX):
                await c.delete_network(net["id"])
        for fip in (await self.direct("GET", "/floatingips"))["floatingips"]:
            if fip.get("description", "").startswith(PREFIX):
                await self.direct("DELETE", f"/floatingips/{fip['id']}")
        for router in (await self.direct("GET", "/routers"))["routers"]:
            if router["name"].startswith(PREFIX):
                await self.drop_direct_router(router["id"])
        for net in (await self.direct("GET", "/networks"))["networks"]:
            if net["name"].startswith(PREFIX):
                await self.direct("DELETE", f"/networks/{net['id']}")

    async def drop_router(self, router_id: str) -> None:
        c = self.c
        ports = await c.top("GET", f"/ports?device_id={router_id}")
        for port in ports["ports"]:
            if port["device_owner"] == "network:router_interface":
                body = {"port_id": port["id"]}
                await c.top("PUT", f"/routers/{router_id}/remove_router_interface", body)
        await c.top("DELETE", f"/routers/{router_id}", ok=(204, 404))

        async def gone() -> bool:
            for pod in c.pods:
                if (await self.bottom(pod.name, router_id))[0]:
                    return False
            return True

        await until(gone, f"router {router_id} to leave the pods")

    async def drop_direct_router(self, router_id: str) -> None:
        ports = await self.direct("GET", f"/ports?device_id={router_id}")
        for port in ports["ports"]:
            if port["device_owner"] == "network:router_interface":
                body = {"port_id": port["id"]}
                await self.direct("PUT", f"/routers/{router_id}/remove_router_interface", body)
        await self.direct("DELETE", f"/routers/{router_id}")

    async def add_subnet_top(self, public: str, subnet: str, cidr: str) -> float:
        c = self.c
        body = {"router": {"name": f"{PREFIX}r", "external_gateway_info": {"network_id": public}}}
        router = (await c.top("POST", "/routers", body))["router"]
        await until(lambda: self._has_router("pod1", router["id"]), "the gateway's bottom router")
        started = time.monotonic()
        await c.top("PUT", f"/routers/{router['id']}/add_router_interface", {"subnet_id": subnet})
        bridge = f"bridge-{router['id']}"

        async def built() -> bool:
            names2, routes2 = await self.bottom("pod2", router["id"])
            names1, routes1 = await self.bottom("pod1", router["id"])
            return (
                len(names2) == 2
                and bridge in names2
                and {d for d, _ in routes2} == {"0.0.0.0/0"}
                and bridge in names1
                and {d for d, _ in routes1} == {cidr}
            )

        done = await until(built, "the router's bottom objects")
        await self.drop_router(router["id"])
        return done - started

    async def _has_router(self, pod: str, router_id: str) -> bool:
        found = await self.pod(pod, f"/routers?{urlencode({'name': router_id})}")
        return bool(found["routers"])

    async def add_subnet_direct(self, public: str, subnet: str) -> float:
        body = {"router": {"name": f"{PREFIX}r", "external_gateway_info": {"network_id": public}}}
        router = (await self.direct("POST", "/routers", body))["router"]
        started = time.monotonic()
        await self.direct(
            "PUT", f"/routers/{router['id']}/add_router_interface", {"subnet_id": subnet}
        )

        async def built() -> bool:
            query = urlencode(
                {"device_id": router["id"], "device_owner": "network:router_interface"}
            )
            return bool((await self.direct("GET", f"/ports?{query}"))["ports"])

        done = await until(built, "the interface")
        await self.drop_direct_router(router["id"])
        return done - started

    async def associate_top(self, fip_id: str, port_id: str) -> float:
        c = self.c
        started = time.monotonic()
        await c.top("PUT", f"/floatingips/{fip_id}", {"floatingip": {"port_id": port_id}})

        async def held() -> bool:
            shadow = (await self.pod("pod1", f"/ports?name=shadow-{fip_id}"))["ports"]
            fips = (await self.pod("pod1", f"/floatingips?description={fip_id}"))["floatingips"]
            return bool(shadow and fips and fips[0]["port_id"] == shadow[0]["id"])

        done = await until(held, "the floating IP in pod1")
        await c.top("PUT", f"/floatingips/{fip_id}", {"floatingip": {"port_id": None}})

        async def gone() -> bool:
            fips = (await self.pod("pod1", f"/floatingips?description={fip_id}"))["floatingips"]
            return not fips

        await until(gone, "the floating IP to leave pod1")
        return done - started

    async def associate_direct(self, fip_id: str, port_id: str) -> float:
        started = time.monotonic()
        await self.direct("PUT", f"/floatingips/{fip_id}", {"floatingip": {"port_id": port_id}})

        async def held() -> bool:
            found = await self.direct("GET", f"/floatingips/{fip_id}")
            return bool(found["floatingip"]["port_id"] == port_id)

        done = await until(held, "the floating IP")
        await self.direct("PUT", f"/floatingips/{fip_id}", {"floatingip": {"port_id": None}})
        return done - started


async def _setup(b: Bench, image: str) -> dict[str, str]:
    """The top's local network of pod2 with a server, pod1's own network with a server,
    a router of pod1 for that network and a floating IP on each side."""
    c = b.c
    body = {"network": {"name": f"{PREFIX}local", "provider:network_type": "local"}}
    body["network"]["project_id"] = c.user.project_id
    net = (await c.admin.call("cascade", "POST", f"{c.top_neutron}/networks", body, ok=(201,)))[
        "network"
    ]
    cidr = "10.170.0.0/24"
    sub = {"network_id": net["id"], "cidr": cidr, "ip_version": 4, "name": f"{PREFIX}local"}
    subnet = (await c.top("POST", "/subnets", {"subnet": sub}))["subnet"]
    server, _ = await c.boot(
        "top",
        {
            "name": f"{bench_network.PREFIX}xr",
            "imageRef": image,
            "availability_zone": "az2",
            "networks": [{"uuid": net["id"]}],
        },
    )
    port = (await c.top("GET", f"/ports?device_id={server}"))["ports"][0]["id"]
    public = (await c.top("GET", "/networks?name=public"))["networks"][0]["id"]
    # the floating IP's router holds the server's subnet; the add-subnet runs take a second
    rbody = {"router": {"name": f"{PREFIX}fip", "external_gateway_info": {"network_id": public}}}
    fip_router = (await c.top("POST", "/routers", rbody))["router"]
    await c.top(
        "PUT", f"/routers/{fip_router['id']}/add_router_interface", {"subnet_id": subnet["id"]}
    )
    cidr = "10.173.0.0/24"
    sub = {"network_id": net["id"], "cidr": cidr, "ip_version": 4, "name": f"{PREFIX}local2"}
    subnet = (await c.top("POST", "/subnets", {"subnet": sub}))["subnet"]
    dnet = (await b.direct("POST", "/networks", {"network": {"name": f"{PREFIX}direct"}}))[
        "network"
    ]
    dsub = {"network_id": dnet["id"], "cidr": "10.171.0.0/24", "ip_version": 4}
    dsubnet = (await b.direct("POST", "/subnets", {"subnet": dsub}))["subnet"]
    dserver, _ = await c.boot(
        "pod1",
        {
            "name": f"{bench_network.PREFIX}xr",
            "imageRef": image,
            "networks": [{"uuid": dnet["id"]}],
        },
    )
    dport = (await b.direct("GET", f"/ports?device_id={dserver}"))["ports"][0]["id"]
    dpublic = (await b.direct("GET", "/networks?name=public"))["networks"][0]["id"]
    rbody = {"router": {"name": f"{PREFIX}fip", "external_gateway_info": {"network_id": dpublic}}}
    drouter = (await b.direct("POST", "/routers", rbody))["router"]
    await b.direct(
        "PUT", f"/routers/{drouter['id']}/add_router_interface", {"subnet_id": dsubnet["id"]}
    )
    dfip = (
        await b.direct(
            "POST",
            "/floatingips",
            {"floatingip": {"floating_network_id": dpublic, "description": f"{PREFIX}fip"}},
        )
    )["floatingip"]
    return {
        "subnet": subnet["id"],
        "cidr": cidr,
        "port": port,
        "public": public,
        "dsubnet": dsubnet["id"],
        "dport": dport,
        "dpublic": dpublic,
        "dfip": dfip["id"],
        "dnet": dnet["id"],
    }


async def _second_subnet(b: Bench, net: str) -> str:
    """A second subnet of pod1's own network, for the direct router's add-subnet runs (the
    first is on the floating IP's router)."""
    sub = {"network_id": net, "cidr": "10.172.0.0/24", "ip_version": 4}
    return str((await b.direct("POST", "/subnets", {"subnet": sub}))["subnet"]["id"])


async def run(layout: Layout, pods: list[Pod], runs: int = RUNS) -> str:
    """Measure both operations both ways, write docs/benchmarks.md; the Markdown."""
    if len(pods) < 2:
        raise DevcloudError("bench", "--routers needs two pods (bin/devcloud up --pods 2)")
    api_process(layout)
    async with (
        Rest(layout.auth_url) as admin,
        Rest(layout.auth_url, user=bench_network.USER, project=bench_network.PROJECT) as user,
    ):
        glance = layout.url("glance")
        images = await admin.call("glance", "GET", f"{glance}/v2/images?name={IMAGE_NAME}")
        image = str(images["images"][0]["id"])
        b = Bench(Clouds(user, admin, pods))
        await b.clean()
        await bench_network.wait_idle()
        ids = await _setup(b, image)
        fip_body = {
            "floatingip": {"floating_network_id": ids["public"], "description": f"{PREFIX}fip"}
        }
        fip = (await b.c.top("POST", "/floatingips", fip_body))["floatingip"]["id"]
        dsub2 = await _second_subnet(b, ids["dnet"])
        add: dict[str, list[float]] = {TOP: [], DIRECT: []}
        assoc: dict[str, list[float]] = {TOP: [], DIRECT: []}
        try:
            for n in range(runs):
                print(f"bench: routers run {n + 1}/{runs}", flush=True)
                order = (TOP, DIRECT) if n % 2 == 0 else (DIRECT, TOP)
                for path in order:
                    if path == TOP:
                        add[TOP].append(
                            await b.add_subnet_top(ids["public"], ids["subnet"], ids["cidr"])
                        )
                        assoc[TOP].append(await b.associate_top(fip, ids["port"]))
                    else:
                        add[DIRECT].append(await b.add_subnet_direct(ids["dpublic"], dsub2))
                        assoc[DIRECT].append(await b.associate_direct(ids["dfip"], ids["dport"]))
        finally:
            await b.c.top("DELETE", f"/floatingips/{fip}", ok=(204, 404))
            await b.clean()
    results = Results(datetime.now(UTC), os.cpu_count() or 0, memory_gib(), runs, add, assoc)
    markdown = render(results)
    DOCS.write_text(replace_block(DOCS.read_text(), HEADING, markdown, BEGIN, END))
    return markdown + f"\n\n(written into {DOCS})"

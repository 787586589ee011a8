"""What a newcomer needs to boot at once: an image, flavors, networks and a router per pod.

Every step is find-or-create through the services' REST APIs as admin, so
it runs on every `up`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from devcloud import infra
from devcloud.errors import DevcloudError
from devcloud.layout import Layout, Pod
from devcloud.rest import Rest
from devcloud.services import cinder, nova
from devcloud.services.neutron import EXTERNAL_PHYSNET

IMAGE_NAME = "tiny"
ALT_IMAGE_NAME = "tiny-alt"
IMAGE_BYTES = 1024 * 1024  # raw zeros: the fake virt driver never reads it
# (id, name, ram MiB, vcpus, disk GiB): devstack's ids, so tempest configs look familiar
FLAVORS = (("42", "m1.nano", 64, 1, 0), ("1", "m1.tiny", 512, 1, 1), ("2", "m1.small", 2048, 1, 20))
# Generous tenant quotas: Cascade's tests boot tens of servers per project and pod.
QUOTAS = {"instances": 100, "cores": 200, "ram": 512 * 1024}


async def ensure_image(layout: Layout, name: str = IMAGE_NAME) -> str:
    """Upload a shared public image once; returns its id."""
    async with Rest(layout.auth_url) as rest:
        glance = layout.url("glance")
        found = await rest.call("glance", "GET", f"{glance}/v2/images?name={name}")
        for image in found["images"]:
            if image["status"] == "active":
                return str(image["id"])
            # a half-uploaded image from an interrupted run: replace it
            await rest.call("glance", "DELETE", f"{glance}/v2/images/{image['id']}")
        body = {
            "name": name,
            "disk_format": "raw",
            "container_format": "bare",
            "visibility": "public",
        }
        image = await rest.call("glance", "POST", f"{glance}/v2/images", body)
        await rest.call(
            "glance",
            "PUT",
            f"{glance}/v2/images/{image['id']}/file",
            headers={"Content-Type": "application/octet-stream"},
            content=bytes(IMAGE_BYTES),
        )
        return str(image["id"])


async def ensure_images(layout: Layout) -> None:
    """`tiny`, and `tiny-alt` for tests that need two distinct images (tempest's image_ref_alt)."""
    await ensure_image(layout, IMAGE_NAME)
    await ensure_image(layout, ALT_IMAGE_NAME)


async def _wait(what: str, service: str, layout: Layout, check: Any, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise DevcloudError(
                service, f"{what} within {timeout:.0f} s", layout.log / f"{service}.log"
            )
        await asyncio.sleep(0.5)


async def wait_compute(layout: Layout, pod: Pod, rest: Rest) -> None:
    """Wait for the pod's compute node, map it to the cell, wait for the service to be up.

    The node shows first as a resource provider in Placement; Nova's own
    hypervisor list only shows hosts already mapped to a cell, which tells
    whether the (slow) `nova-manage cell_v2 discover_hosts` is needed.
    """
    placement = rest.endpoint("placement", pod.region)
    api = rest.endpoint("compute", pod.region)
    host = nova.compute_host(pod)

    async def provider() -> bool:
        found = await rest.call("placement", "GET", f"{placement}/resource_providers?name={host}")
        return bool(found["resource_providers"])

    async def mapped() -> bool:
        found = await rest.call("nova", "GET", f"{api}/os-hypervisors")
        return any(h["hypervisor_hostname"] == host for h in found["hypervisors"])

    async def service_up() -> bool:
        found = await rest.call("nova", "GET", f"{api}/os-services?binary=nova-compute")
        return any(s["host"] == host and s["state"] == "up" for s in found["services"])

    service = f"{pod.name}-nova-compute"
    await _wait("no compute node registered in Placement", service, layout, provider, 180)
    if not await mapped():
        await nova.discover_host(layout, pod)
    await _wait("nova-compute not reported up", service, layout, service_up, 60)


async def wait_volume(layout: Layout, pod: Pod, rest: Rest) -> None:
    """Wait until the pod's Cinder scheduler knows the back-end (else creates end in `error`)."""
    api = rest.endpoint("volumev3", pod.region)

    async def backend_known() -> bool:
        found = await rest.call("cinder", "GET", f"{api}/scheduler-stats/get_pools")
        return any(p["name"].startswith(f"{pod.name}-volume@") for p in found["pools"])

    service = f"{pod.name}-cinder-volume"
    await _wait(
        "back-end capabilities not reported to the scheduler", service, layout, backend_known, 120
    )


async def ensure_flavors(rest: Rest, pod: Pod) -> None:
    api = rest.endpoint("compute", pod.region)
    for fid, name, ram, vcpus, disk in FLAVORS:
        if not await rest.exists("nova", f"{api}/flavors/{fid}"):
            body = {"flavor": {"id": fid, "name": name, "ram": ram, "vcpus": vcpus, "disk": disk}}
            await rest.call("nova", "POST", f"{api}/flavors", body)


async def _project_id(rest: Rest, name: str) -> str:
    found = await rest.call("keystone", "GET", f"{rest.auth_url}/projects?name={name}")
    return str(found["projects"][0]["id"])


async def ensure_quotas(rest: Rest, pod: Pod, project_ids: list[str]) -> None:
    api = rest.endpoint("compute", pod.region)
    for pid in project_ids:
        await rest.call("nova", "PUT", f"{api}/os-quota-sets/{pid}", {"quota_set": QUOTAS})


async def _find_or_create(
    rest: Rest, api: str, kind: str, query: str, body: dict[str, Any]
) -> dict[str, Any]:
    found = await rest.call("neutron", "GET", f"{api}/v2.0/{kind}s?{query}")
    if found[f"{kind}s"]:
        return dict(found[f"{kind}s"][0])
    made = await rest.call("neutron", "POST", f"{api}/v2.0/{kind}s", {kind: body})
    return dict(made[kind])


async def ensure_public_network(rest: Rest, pod: Pod) -> dict[str, Any]:
    """`public` (flat, external) with `public-subnet`; returns the network."""
    api = rest.endpoint("network", pod.region)
    n = pod.number
    public = await _find_or_create(
        rest,
        api,
        "network",
        "name=public",
        {
            "name": "public",
            "router:external": True,
            "provider:network_type": "flat",
            "provider:physical_network": EXTERNAL_PHYSNET,
        },
    )
    await _find_or_create(
        rest,
        api,
        "subnet",
        "name=public-subnet",
        {
            "name": "public-subnet",
            "network_id": public["id"],
            "ip_version": 4,
            "cidr": f"172.24.{n}.0/24",
            "gateway_ip": f"172.24.{n}.1",
            # the pod's own addresses; Cascade's top external network takes .100 and up
            "allocation_pools": [{"start": f"172.24.{n}.2", "end": f"172.24.{n}.99"}],
            "enable_dhcp": False,
        },
    )
    return public


async def ensure_networks(rest: Rest, pod: Pod, demo_project: str) -> None:
    """`public` (flat, external), and `private` + `router1` owned by the demo project."""
    api = rest.endpoint("network", pod.region)
    n = pod.number
    public = await ensure_public_network(rest, pod)
    owned = f"project_id={demo_project}"
    private = await _find_or_create(
        rest,
        api,
        "network",
        f"name=private&{owned}",
        {
            "name": "private",
            "project_id": demo_project,
        },
    )
    subnet = await _find_or_create(
        rest,
        api,
        "subnet",
        f"name=private-subnet&{owned}",
        {
            "name": "private-subnet",
            "network_id": private["id"],
            "project_id": demo_project,
            "ip_version": 4,
            "cidr": f"10.{n}.0.0/24",
        },
    )
    router = await _find_or_create(
        rest,
        api,
        "router",
        f"name=router1&{owned}",
        {
            "name": "router1",
            "project_id": demo_project,
            "external_gateway_info": {"network_id": public["id"]},
        },
    )
    ports = await rest.call(
        "neutron",
        "GET",
        f"{api}/v2.0/ports?device_id={router['id']}&network_id={private['id']}",
    )
    if not ports["ports"]:
        await rest.call(
            "neutron",
            "PUT",
            f"{api}/v2.0/routers/{router['id']}/add_router_interface",
            {"subnet_id": subnet["id"]},
        )


def rpc_queues(pod: Pod) -> dict[str, str]:
    """The RPC queues that must have a consumer before the pod can serve, by service."""
    return {
        "conductor": f"{pod.name}-nova-conductor",
        "scheduler": f"{pod.name}-nova-scheduler",
        f"compute.{nova.compute_host(pod)}": f"{pod.name}-nova-compute",
        "cinder-scheduler": f"{pod.name}-cinder-scheduler",
        f"cinder-volume.{pod.name}-volume@{cinder.BACKEND}": f"{pod.name}-cinder-volume",
    }


async def wait_rpc(layout: Layout, pod: Pod, timeout: float = 180.0) -> None:
    """Wait until every RPC service of the pod consumes its queue.

    A process can be alive before it listens: an RPC call sent to a queue
    nobody consumes yet waits out the whole RPC timeout (60 s) and fails.
    """
    want = rpc_queues(pod)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        missing = set(want) - await infra.consumed_queues(layout, pod)
        if not missing:
            return
        if loop.time() > deadline:
            service = want[sorted(missing)[0]]
            raise DevcloudError(
                service,
                f"not consuming its RPC queue(s) {sorted(missing)} after {timeout:.0f} s",
                layout.log / f"{service}.log",
            )
        await asyncio.sleep(0.5)


async def seed_pod(layout: Layout, pod: Pod) -> None:
    """Make the pod ready to boot: compute mapped, volume service up, flavors, quotas, networks.

    At most one request at a time per service: each API loads its policy
    rules on first use, and requests racing that load can be refused.
    An independent pod's Glance stays empty (Cascade copies the images it needs).
    """
    await wait_rpc(layout, pod)
    async with Rest(layout.pod_auth_url(pod)) as rest:
        await asyncio.gather(wait_compute(layout, pod, rest), wait_volume(layout, pod, rest))
        if pod.independent:
            await seed_independent(rest, pod)
            return
        demo = await _project_id(rest, "demo")
        alt = await _project_id(rest, "alt_demo")

        async def compute() -> None:
            await ensure_flavors(rest, pod)
            await ensure_quotas(rest, pod, [demo, alt])

        await asyncio.gather(compute(), ensure_networks(rest, pod, demo))


async def seed_independent(rest: Rest, pod: Pod) -> None:
    """What an independent pod gets: the flavors and its external network `public`.

    Its own Keystone has no `demo` or `alt_demo` (Cascade makes the projects it
    needs there), so there are no tenant quotas, `private` or `router1` to make.
    """
    await asyncio.gather(ensure_flavors(rest, pod), ensure_public_network(rest, pod))

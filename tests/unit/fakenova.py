"""An in-process fake of the parts of Nova that Cascade's server handlers call.

One `FakeNova` per pod; `FakeCloud` dispatches on the URL's host. Servers
list with Nova's sort keys (the subset the tests use), limit and marker,
and the project filter the user's token implies (`member-token` is project
p1, `other-token` project p2, `admin-token` sees everything with
all_tenants). Every request is recorded for assertions.
"""

from __future__ import annotations

import functools
import itertools
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from starlette.applications import Starlette

from cascade.db.models import Pod, Routing
from tests.unit.conftest import FakeKeystone

ADMIN = {"X-Auth-Token": "admin-token"}
PROJECTS = {"member-token": "p1", "admin-token": "p1", "other-token": "p2"}
FIELDS = {"created_at": "created", "uuid": "id", "display_name": "name"}
_clock = itertools.count()
NEUTRON_PORT = 9696  # a pod's Neutron: the same host as its Nova, this port
# one fake compute node's hypervisor statistics (capacity, `GET /v1/pods/{id}`)
STATISTICS = {"count": 1, "memory_mb": 4096, "free_ram_mb": 3072, "free_disk_gb": 40}
# a collection of the fake Neutron -> the key of one of its objects
SINGULAR = {
    "networks": "network",
    "subnets": "subnet",
    "ports": "port",
    "security-groups": "security_group",
    "security-group-rules": "security_group_rule",
}


def _version(request: httpx.Request) -> tuple[int, int]:
    """The compute microversion a request asks for (2.1 without one)."""
    asked = request.headers.get("openstack-api-version", "compute 2.1").split()[-1]
    major, minor = asked.split(".")
    return int(major), int(minor)


def _stamp() -> str:
    # whole seconds, as Nova's DB keeps them: ties are common and the id decides
    base = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=next(_clock) // 3)
    return base.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class FakeNeutron:
    """Just enough of a pod's Neutron for the top to build networks and ports in it:
    networks, subnets, ports, security groups and rules; lists filtered by any field
    given (`?name=...`), create (rules in bulk too), show, update, delete."""

    objects: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {c: {} for c in SINGULAR}
    )
    requests: list[httpx.Request] = field(default_factory=list)
    quotas: dict[str, dict[str, Any]] = field(default_factory=dict)  # project -> limits set

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        parts = request.url.path.removeprefix("/v2.0").strip("/").split("/")
        collection = parts[0]
        if collection == "quotas" and len(parts) == 2 and request.method == "PUT":
            self.quotas[parts[1]] = json.loads(request.content)["quota"]
            return httpx.Response(200, json={"quota": self.quotas[parts[1]]})
        if collection not in SINGULAR:
            return self._missing("resource")
        key, found = SINGULAR[collection], self.objects[collection]
        if len(parts) == 1 and request.method == "GET":
            wanted = dict(request.url.params)
            limit, marker = int(wanted.pop("limit", 0)) or None, wanted.pop("marker", None)
            items = [
                o for o in found.values() if all(str(o.get(k)) == v for k, v in wanted.items())
            ]
            if marker is not None:  # pages in the order made, as Neutron's by id
                items = items[[o["id"] for o in items].index(marker) + 1 :]
            return httpx.Response(200, json={key + "s": items[:limit]})
        if len(parts) == 1 and request.method == "POST":
            body = json.loads(request.content)
            if key + "s" in body:  # a bulk create
                made = [self.add(collection, item) for item in body[key + "s"]]
                return httpx.Response(201, json={key + "s": made})
            return httpx.Response(201, json={key: self.add(collection, body[key])})
        item = found.get(parts[1])
        if item is None:
            return self._missing(key)
        if request.method == "DELETE":
            del found[parts[1]]
            return httpx.Response(204)
        if request.method == "PUT":
            item.update(json.loads(request.content)[key])
        return httpx.Response(200, json={key: item})

    def add(self, collection: str, body: dict[str, Any]) -> dict[str, Any]:
        made = {"id": str(uuid.uuid4()), "name": "", **body}
        if collection == "ports":
            made.setdefault("fixed_ips", [])
            made.setdefault("device_id", "")
            made.setdefault("mac_address", "fa:16:3e:00:00:01")
            made.setdefault("status", "DOWN")
        self.objects[collection][made["id"]] = made
        return made

    def ports_of(self, server_id: str) -> list[dict[str, Any]]:
        return [p for p in self.objects["ports"].values() if p.get("device_id") == server_id]

    @staticmethod
    def _missing(key: str) -> httpx.Response:
        kind = "".join(w.capitalize() for w in key.split("_"))
        body = {"NeutronError": {"type": f"{kind}NotFound", "message": f"{key} not found"}}
        return httpx.Response(404, json=body)


@dataclass
class FakeNova:
    host: str
    az: str
    servers: dict[str, dict[str, Any]] = field(default_factory=dict)
    flavors: dict[str, dict[str, Any]] = field(default_factory=dict)
    keypairs: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Nova's image proxy over the (shared) image service: image id -> its detail view
    images: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    down: bool = False
    # project -> the `absolute` of its GET /limits (Nova's totals*Used, max*)
    absolute: dict[str, dict[str, int]] = field(default_factory=dict)
    # (project, user) -> what the user uses in the project (`in_use` of os-quota-sets detail)
    user_usage: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    quota_sets: dict[str, dict[str, Any]] = field(default_factory=dict)  # project -> limits set
    glance: Any = None  # the pod's Glance (a `FakeGlance`): where createImage puts snapshots
    # deleted servers (Nova keeps their rows: read_deleted shows their instance actions)
    deleted: dict[str, dict[str, Any]] = field(default_factory=dict)
    # volumes attached to a server here (assisted snapshots are taken of them)
    attached: set[str] = field(default_factory=set)
    # server id -> its instance actions, oldest first
    actions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # names of servers whose create this pod refuses (as it does "refuse")
    refused_names: set[str] = field(default_factory=set)
    # the pod's Neutron, on port NEUTRON_PORT of the same host
    neutron: FakeNeutron = field(default_factory=FakeNeutron)

    @property
    def root(self) -> str:
        return f"http://{self.host}:8774/"

    def add_server(
        self, name: str, project: str = "p1", request_id: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        server_id = str(uuid.uuid4())
        self.servers[server_id] = {
            "id": server_id,
            "name": name,
            "tenant_id": project,
            "user_id": "u1",
            "status": "ACTIVE",
            "created": _stamp(),
            "OS-EXT-AZ:availability_zone": self.az,
            "flavor": {"id": "1", "links": [{"rel": "bookmark", "href": self.root + "flavors/1"}]},
            "links": [
                {"rel": "self", "href": f"{self.root}v2.1/servers/{server_id}"},
                {"rel": "bookmark", "href": f"{self.root}servers/{server_id}"},
            ],
            **extra,
        }
        self.act(server_id, "create", request_id)
        return self.servers[server_id]

    def act(self, server_id: str, action: str, request_id: str | None = None) -> str:
        """Record an instance action of the server under a request id of this Nova's own
        (as Nova records `context.request_id`, not the global id it was sent); that id."""
        request_id = request_id or f"req-{uuid.uuid4()}"
        server = self.servers[server_id]
        self.actions.setdefault(server_id, []).append(
            {
                "action": action,
                "instance_uuid": server_id,
                "request_id": request_id,
                "user_id": server["user_id"],
                "project_id": server["tenant_id"],
                "start_time": _stamp(),
                "message": None,
            }
        )
        return request_id

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if request.url.port == NEUTRON_PORT:
            return self.neutron(request)
        self.requests.append(request)
        path = request.url.path.removeprefix("/v2.1")
        project = PROJECTS.get(request.headers.get("x-auth-token", ""), "nobody")
        if path == "/":
            return httpx.Response(200, json={"version": {"min_version": "2.1", "version": "2.96"}})
        parts = path.strip("/").split("/")
        if parts[0] == "servers":
            return self._servers(request, parts[1:], project)
        if parts[0] == "flavors":
            return self._flavors(request, parts[1:])
        if parts[0] == "os-keypairs":
            return self._keypairs(request, parts[1:])
        if parts[0] == "os-server-groups":
            return self._groups(request, parts[1:], project)
        if parts[0] == "images":
            return self._images(request, parts[1:])
        if parts == ["limits"]:
            if "tenant_id" in request.url.params:
                if request.headers.get("x-auth-token") != "admin-token":
                    body = {"forbidden": {"code": 403, "message": "Policy doesn't allow it"}}
                    return httpx.Response(403, json=body)
                project = request.url.params["tenant_id"]
            limits = {"rate": [], "absolute": self.absolute.get(project, {})}
            return httpx.Response(200, json={"limits": limits})
        if parts[0] == "os-quota-sets" and len(parts) == 2 and request.method == "PUT":
            self.quota_sets[parts[1]] = json.loads(request.content)["quota_set"]
            return httpx.Response(200, json={"quota_set": self.quota_sets[parts[1]]})
        if parts[0] == "os-quota-sets" and parts[2:] == ["detail"]:
            return self._quota_detail(request, parts[1], project)
        if parts == ["os-server-external-events"] and request.method == "POST":
            return self._events(request)
        if parts[0] == "os-assisted-volume-snapshots":
            return self._assisted(request, parts[1:])
        if parts[0] == "os-simple-tenant-usage":
            return self._usage(request, parts[1:])
        if parts == ["os-hypervisors", "statistics"]:
            return httpx.Response(200, json={"hypervisor_statistics": STATISTICS})
        return httpx.Response(404, json={"itemNotFound": {"code": 404, "message": "no route"}})

    def _events(self, request: httpx.Request) -> httpx.Response:
        """Nova's answer: each event completed (200) if the server is here, else 404."""
        if request.headers.get("x-auth-token") != "service-token":
            body = {"forbidden": {"code": 403, "message": "Policy doesn't allow it"}}
            return httpx.Response(403, json=body)
        events = json.loads(request.content)["events"]
        shown = [
            {**e, "status": "completed", "code": 200}
            if e["server_uuid"] in self.servers
            else {**e, "status": "failed", "code": 404}
            for e in events
        ]
        status = 200 if all(e["code"] == 200 for e in shown) else 207
        return httpx.Response(status, json={"events": shown})

    def _assisted(self, request: httpx.Request, rest: list[str]) -> httpx.Response:
        """Nova's assisted snapshots: of a volume attached here, else its 400."""
        if request.method == "POST":
            snapshot = json.loads(request.content)["snapshot"]
            volume_id = snapshot["volume_id"]
            info = snapshot.get("create_info")
            if not isinstance(info, dict) or not isinstance(info.get("snapshot_id"), str):
                message = "Invalid input for field/attribute create_info."
                return httpx.Response(400, json={"badRequest": {"code": 400, "message": message}})
            answer = {"snapshot": {"id": info["snapshot_id"]}}
        else:
            volume_id = json.loads(request.url.params["delete_info"])["volume_id"]
            answer = None
        if volume_id not in self.attached:
            message = f"No volume Block Device Mapping with id {volume_id}."
            return httpx.Response(400, json={"badRequest": {"code": 400, "message": message}})
        if answer is None:
            return httpx.Response(204)
        answer["snapshot"]["volumeId"] = volume_id
        return httpx.Response(200, json=answer)

    def _usage(self, request: httpx.Request, rest: list[str]) -> httpx.Response:
        """Nova's usage report (service user only): each server 2 hours of 1 vCPU, 512 MB
        and 1 GB, servers in creation order, paged by instance (`limit`, `marker`)."""
        if request.headers.get("x-auth-token") != "service-token":
            refused = {"forbidden": {"code": 403, "message": "Policy doesn't allow it"}}
            return httpx.Response(403, json=refused)
        params = request.url.params
        if params.get("start") == "bad":
            message = "Invalid start time. The start time cannot occur after the end time."
            return httpx.Response(400, json={"badRequest": {"code": 400, "message": message}})
        found = [s for s in self.servers.values() if not rest or s["tenant_id"] == rest[0]]
        if "marker" in params:
            ids = [s["id"] for s in found]
            if params["marker"] not in ids:
                message = f"Marker {params['marker']} could not be found."
                return httpx.Response(400, json={"badRequest": {"code": 400, "message": message}})
            found = found[ids.index(params["marker"]) + 1 :]
        limit = int(params.get("limit", 1000))
        found = found[:limit]
        detailed = params.get("detailed") == "1" or bool(rest)
        tenants: dict[str, dict[str, Any]] = {}
        for server in found:
            summary = tenants.setdefault(
                server["tenant_id"],
                {
                    "tenant_id": server["tenant_id"],
                    **({"server_usages": []} if detailed else {}),
                    "total_local_gb_usage": 0,
                    "total_vcpus_usage": 0,
                    "total_memory_mb_usage": 0,
                    "total_hours": 0,
                    "start": "2026-01-01T00:00:00.000000",
                    "stop": "2026-01-02T00:00:00.000000",
                },
            )
            summary["total_local_gb_usage"] += 2.0
            summary["total_vcpus_usage"] += 2.0
            summary["total_memory_mb_usage"] += 1024.0
            summary["total_hours"] += 2.0
            if detailed:
                summary["server_usages"].append(
                    {"instance_id": server["id"], "name": server["name"], "hours": 2.0}
                )
        key = "tenant_usage" if rest else "tenant_usages"
        body: dict[str, Any] = {
            key: (next(iter(tenants.values()), {}) if rest else list(tenants.values()))
        }
        if found and len(found) == limit:
            path = "/".join(["os-simple-tenant-usage", *rest])
            href = f"{self.root}v2.1/{path}?limit={limit}&marker={found[-1]['id']}"
            body[f"{key}_links"] = [{"rel": "next", "href": href}]
        return httpx.Response(200, json=body)

    def _quota_detail(self, request: httpx.Request, target: str, project: str) -> httpx.Response:
        """GET /os-quota-sets/{target}/detail[?user_id=]: the in_use of `user_usage` (summed
        over the project's users without user_id); admins and the service user ask any."""
        token = request.headers.get("x-auth-token")
        if token not in ("admin-token", "service-token") and target != project:
            body = {"forbidden": {"code": 403, "message": "Policy doesn't allow it"}}
            return httpx.Response(403, json=body)
        user = request.url.params.get("user_id")
        in_use: dict[str, int] = {}
        for (owner, who), counts in self.user_usage.items():
            if owner == target and user in (None, who):
                for name, value in counts.items():
                    in_use[name] = in_use.get(name, 0) + value
        names = ("cores", "instances", "key_pairs", "metadata_items", "ram", "server_groups")
        quota_set: dict[str, Any] = {
            name: {"in_use": in_use.get(name, 0), "limit": -1, "reserved": 0} for name in names
        }
        return httpx.Response(200, json={"quota_set": {"id": target, **quota_set}})

    def _visible(
        self, request: httpx.Request, project: str, deleted: str | None = None
    ) -> list[dict[str, Any]]:
        """The servers the caller sees (and deleted server `deleted`, if it asks for it)."""
        every = request.url.params.get("all_tenants") is not None
        found = list(self.servers.values())
        if deleted in self.deleted:
            found.append(self.deleted[deleted])
        if request.headers.get("x-auth-token") == "service-token":
            return found  # Cascade's service user: an admin, by id
        admin = request.headers.get("x-auth-token") == "admin-token"
        gone = self.deleted.get(deleted or "")
        return [s for s in found if (admin and (every or s is gone)) or s["tenant_id"] == project]

    def _deleted_for_actions(self, request: httpx.Request, server_id: str) -> dict[str, Any] | None:
        """A deleted server, for its instance actions from 2.21 (Nova's read_deleted)."""
        raw = request.headers.get("openstack-api-version", "compute 2.1").split()[-1]
        version = tuple(int(n) for n in raw.split("."))
        return self.deleted.get(server_id) if version >= (2, 21) else None

    @staticmethod
    def _instance_actions(actions: list[dict[str, Any]], rest: list[str]) -> httpx.Response:
        if not rest:
            return httpx.Response(200, json={"instanceActions": actions[::-1]})
        found = next((a for a in actions if a["request_id"] == rest[0]), None)
        if found is None:
            message = f"Action {rest[0]} could not be found."
            return httpx.Response(404, json={"itemNotFound": {"code": 404, "message": message}})
        return httpx.Response(200, json={"instanceAction": {**found, "events": []}})

    def _servers(self, request: httpx.Request, rest: list[str], project: str) -> httpx.Response:
        if not rest or rest == ["detail"]:
            if request.method == "POST":
                return self._create(request, project)
            return self._list(request, project)
        server = self.servers.get(rest[0])
        if rest[1:2] == ["os-instance-actions"] and server is None:
            server = self._deleted_for_actions(request, rest[0])
        if server is None or server not in self._visible(request, project, rest[0]):
            message = f"Instance {rest[0]} could not be found."
            return httpx.Response(404, json={"itemNotFound": {"code": 404, "message": message}})
        if request.method == "DELETE" and len(rest) == 1:
            request_id = self.act(rest[0], "delete")
            self.deleted[rest[0]] = self.servers.pop(rest[0])
            return httpx.Response(204, headers={"x-compute-request-id": request_id})
        if rest[1:] == ["action"]:
            body = json.loads(request.content)
            if "badAction" in body:
                message = "Invalid input for field/attribute badAction."
                return httpx.Response(400, json={"badRequest": {"code": 400, "message": message}})
            server.setdefault("actions", []).append(body)
            name = next(iter(body), "unknown") if isinstance(body, dict) else "unknown"
            request_id = self.act(rest[0], str(name))
            headers = {"x-compute-request-id": request_id}
            if name == "createImage" and self.glance is not None:
                # the snapshot's image in the pod's Glance, still being uploaded; Nova's
                # answer names it in Location (before 2.45) and in the body (from 2.45)
                image = self.glance.add(b"snapshot", name=body["createImage"]["name"])
                image["status"] = "saving"
                headers["Location"] = f"http://glance.pod/images/{image['id']}"
                return httpx.Response(202, headers=headers, json={"image_id": image["id"]})
            return httpx.Response(202, headers=headers)
        if rest[1:2] == ["os-instance-actions"]:
            return self._instance_actions(self.actions.get(rest[0], []), rest[2:])
        if rest[1:] == ["metadata"]:
            return httpx.Response(200, json={"metadata": server.get("metadata", {})})
        if rest[1:] == ["os-interface"]:
            attachments = [self._interface(p) for p in self.neutron.ports_of(rest[0])]
            return httpx.Response(200, json={"interfaceAttachments": attachments})
        if rest[1:2] == ["os-interface"] and len(rest) == 3:
            found = [p for p in self.neutron.ports_of(rest[0]) if p["id"] == rest[2]]
            if not found:
                message = f"Port {rest[2]} is not attached"
                return httpx.Response(404, json={"itemNotFound": {"code": 404, "message": message}})
            return httpx.Response(200, json={"interfaceAttachment": self._interface(found[0])})
        if rest[1:] == ["ips"]:
            return httpx.Response(200, json={"addresses": self._view(server)["addresses"]})
        if rest[1:2] == ["ips"] and len(rest) == 3:
            addresses = self._view(server)["addresses"]
            if rest[2] not in addresses:
                message = "Instance is not a member of specified network"
                return httpx.Response(404, json={"itemNotFound": {"code": 404, "message": message}})
            return httpx.Response(200, json={rest[2]: addresses[rest[2]]})
        if rest[1:] == ["os-volume_attachments"]:
            attached = [
                {"id": v["id"], "volumeId": v["id"], "serverId": rest[0], "device": "/dev/vdb"}
                for v in server.get("os-extended-volumes:volumes_attached", [])
            ]
            return httpx.Response(200, json={"volumeAttachments": attached})
        return httpx.Response(200, json={"server": self._view(server, _version(request))})

    def _view(self, server: dict[str, Any], version: tuple[int, int] = (2, 1)) -> dict[str, Any]:
        """The server as Nova shows it at `version`: the flavor embedded from 2.47 (by the
        name it had), `pinned_availability_zone` from 2.96, and its ports' addresses
        (labelled by network name) when it has ports in the pod's Neutron."""
        server = dict(server)
        flavor = self.flavors.get(str(server["flavor"].get("id")))
        if version >= (2, 47) and flavor is not None:
            sizes = ("vcpus", "ram", "disk", "ephemeral", "swap")
            server["flavor"] = {
                **{k: flavor.get(k, 0) for k in sizes},
                "original_name": flavor["name"],
                "extra_specs": {},
            }
        if version >= (2, 96):
            server["pinned_availability_zone"] = server.get("_pinned")
        server.pop("_pinned", None)
        ports = self.neutron.ports_of(server["id"])
        if not ports:
            return server
        addresses: dict[str, list[dict[str, Any]]] = {}
        for port in ports:
            network = self.neutron.objects["networks"].get(port["network_id"], {})
            addresses.setdefault(network.get("name", port["network_id"]), []).extend(
                {
                    "version": 6 if ":" in ip["ip_address"] else 4,
                    "addr": ip["ip_address"],
                    "OS-EXT-IPS:type": "fixed",
                    "OS-EXT-IPS-MAC:mac_addr": port["mac_address"],
                }
                for ip in port["fixed_ips"]
            )
        return {**server, "addresses": addresses}

    @staticmethod
    def _interface(port: dict[str, Any]) -> dict[str, Any]:
        return {
            "port_id": port["id"],
            "net_id": port["network_id"],
            "mac_addr": port["mac_address"],
            "port_state": port["status"],
            "fixed_ips": port["fixed_ips"],
        }

    def _create(self, request: httpx.Request, project: str) -> httpx.Response:
        body = json.loads(request.content)["server"]
        if body.get("name") == "refuse" or body.get("name") in self.refused_names:
            message = "Invalid input for field/attribute name."
            return httpx.Response(400, json={"badRequest": {"code": 400, "message": message}})
        count = int(body.get("max_count", body.get("min_count", 1)))
        networks = body.get("networks")
        wanted = networks if isinstance(networks, list) else []
        if count > 1 and any(n.get("port") for n in wanted):
            message = (
                "Failed to launch instances: Unable to launch multiple instances with a single "
                "configured port ID. Please launch your instance one by one with different ports."
            )
            return httpx.Response(400, json={"badRequest": {"code": 400, "message": message}})
        for entry in wanted:  # a port must exist and be free, as Nova checks
            port = self.neutron.objects["ports"].get(str(entry.get("port")))
            if entry.get("port") and (port is None or port["device_id"]):
                message = f"Port {entry['port']} is still in use."
                return httpx.Response(
                    409, json={"conflictingRequest": {"code": 409, "message": message}}
                )
        reservation = f"r-{uuid.uuid4().hex[:8]}"
        request_id = f"req-{uuid.uuid4()}"  # one request: its servers' create actions share it
        made = []
        for n in range(count):
            name = f"{body['name']}-{n + 1}" if count > 1 else body["name"]
            flavor = str(body.get("flavorRef", "1"))
            image = body.get("imageRef") or ""
            volumes = [
                {"id": m["uuid"], "delete_on_termination": False}
                for m in body.get("block_device_mapping_v2") or []
                if m.get("source_type") == "volume" or m.get("destination_type") == "volume"
            ]
            made.append(
                self.add_server(
                    name,
                    project,
                    request_id,
                    request_body=body,
                    reservation_id=reservation,
                    flavor={
                        "id": flavor,
                        "links": [{"rel": "bookmark", "href": f"{self.root}flavors/{flavor}"}],
                    },
                    image={
                        "id": image,
                        "links": [{"rel": "bookmark", "href": f"{self.root}images/{image}"}],
                    }
                    if image
                    else "",
                    _pinned=body.get("availability_zone"),
                    **{
                        "OS-EXT-SRV-ATTR:reservation_id": reservation,
                        "os-extended-volumes:volumes_attached": volumes,
                    },
                )
            )
            for entry in wanted:  # Nova binds the ports given, and makes one per network
                port = self.neutron.objects["ports"].get(str(entry.get("port")))
                if port is None and entry.get("uuid"):
                    port = self.neutron.add("ports", {"network_id": entry["uuid"]})
                if port is not None:
                    port.update(device_id=made[-1]["id"], device_owner="compute:nova")
                    port.update(status="ACTIVE")
        if body.get("return_reservation_id"):
            return httpx.Response(202, json={"reservation_id": reservation})
        first = made[0]
        location = first["links"][0]["href"]
        answer = {
            "server": {
                "id": first["id"],
                "links": first["links"],
                "adminPass": body.get("adminPass", "pw"),
            }
        }
        # as Nova: the groups asked for, else `default`
        answer["server"]["security_groups"] = body.get("security_groups", [{"name": "default"}])
        headers = {"Location": location, "x-compute-request-id": request_id}
        return httpx.Response(202, json=answer, headers=headers)

    def _list(self, request: httpx.Request, project: str) -> httpx.Response:
        params = request.url.params
        found = self._visible(request, project)
        if "reservation_id" in params:
            found = [s for s in found if s.get("reservation_id") == params["reservation_id"]]
        if "name" in params:
            found = [s for s in found if params["name"] in s["name"]]
        if "flavor" in params:
            found = [s for s in found if s["flavor"]["id"] == params["flavor"]]
        keys = params.get_list("sort_key") or ["created_at"]
        dirs = params.get_list("sort_dir") or ["desc"]

        def compare(a: dict[str, Any], b: dict[str, Any]) -> int:
            for key, direction in zip(keys, dirs, strict=False):
                x, y = a.get(FIELDS.get(key, key)), b.get(FIELDS.get(key, key))
                if isinstance(x, str) and isinstance(y, str):
                    x, y = x.lower(), y.lower()
                if x != y:
                    less = x < y  # type: ignore[operator]
                    return (-1 if less else 1) * (-1 if direction == "desc" else 1)
            return 0

        found.sort(key=functools.cmp_to_key(compare))
        if "marker" in params:
            ids = [s["id"] for s in found]
            if params["marker"] not in ids:
                message = f"marker [{params['marker']}] not found"
                return httpx.Response(400, json={"badRequest": {"code": 400, "message": message}})
            found = found[ids.index(params["marker"]) + 1 :]
        limit = int(params.get("limit", 1000))
        shown = [self._view(s, _version(request)) for s in found[:limit]]
        return httpx.Response(200, json={"servers": shown})

    def _flavors(self, request: httpx.Request, rest: list[str]) -> httpx.Response:
        if request.method == "POST" and not rest:
            flavor = dict(json.loads(request.content)["flavor"])
            flavor["id"] = flavor.get("id") or f"b-{len(self.flavors) + 1}"
            self.flavors[flavor["id"]] = flavor
            return httpx.Response(200, json={"flavor": flavor})
        if rest == ["detail"]:
            return httpx.Response(200, json={"flavors": list(self.flavors.values())})
        if rest and rest[0] in self.flavors:
            if request.method == "POST":  # extra specs, access
                return httpx.Response(200, json=json.loads(request.content or b"{}"))
            return httpx.Response(200, json={"flavor": self.flavors[rest[0]]})
        return httpx.Response(404, json={"itemNotFound": {"code": 404, "message": "no flavor"}})

    def _keypairs(self, request: httpx.Request, rest: list[str]) -> httpx.Response:
        if request.method == "POST":
            keypair = json.loads(request.content)["keypair"]
            self.keypairs[keypair["name"]] = keypair
            return httpx.Response(201, json={"keypair": keypair})
        if rest and rest[0] in self.keypairs:
            if request.method == "DELETE":
                del self.keypairs[rest[0]]
                return httpx.Response(202)
            return httpx.Response(200, json={"keypair": self.keypairs[rest[0]]})
        return httpx.Response(404, json={"itemNotFound": {"code": 404, "message": "no keypair"}})

    def _groups(self, request: httpx.Request, rest: list[str], project: str) -> httpx.Response:
        if request.method == "POST":
            group = dict(json.loads(request.content)["server_group"])
            group.update(id=str(uuid.uuid4()), project_id=project, members=[])
            self.groups[group["id"]] = group
            return httpx.Response(200, json={"server_group": group})
        mine = [g for g in self.groups.values() if g["project_id"] == project]
        if not rest:
            return httpx.Response(200, json={"server_groups": mine})
        found = self.groups.get(rest[0])
        if found is None or found not in mine:
            message = f"Server group {rest[0]} could not be found."
            return httpx.Response(404, json={"itemNotFound": {"code": 404, "message": message}})
        if request.method == "DELETE":
            del self.groups[rest[0]]
            return httpx.Response(204)
        return httpx.Response(200, json={"server_group": found})

    def _images(self, request: httpx.Request, rest: list[str]) -> httpx.Response:
        def links(image_id: str) -> list[dict[str, str]]:
            return [
                {"rel": "self", "href": f"{self.root}v2.1/images/{image_id}"},
                {"rel": "bookmark", "href": f"{self.root}images/{image_id}"},
            ]

        if not rest or rest == ["detail"]:
            found = list(self.images.values())
            if "name" in request.url.params:
                found = [i for i in found if i["name"] == request.url.params["name"]]
            if rest:
                return httpx.Response(
                    200, json={"images": [{**i, "links": links(i["id"])} for i in found]}
                )
            basic = [{"id": i["id"], "name": i["name"], "links": links(i["id"])} for i in found]
            return httpx.Response(200, json={"images": basic})
        image = self.images.get(rest[0])
        if image is None:
            message = "Image not found."
            return httpx.Response(404, json={"itemNotFound": {"code": 404, "message": message}})
        if request.method == "DELETE":
            del self.images[rest[0]]
            return httpx.Response(204)
        if rest[1:] == ["metadata"]:
            return httpx.Response(200, json={"metadata": image.get("metadata", {})})
        return httpx.Response(200, json={"image": {**image, "links": links(image["id"])}})


class FakeCloud:
    """Several fake pods behind one transport handler."""

    def __init__(self, *pods: FakeNova) -> None:
        self.pods = {p.host: p for p in pods}

    @classmethod
    def pair(cls) -> FakeCloud:
        """Two pods: host n1 (AZ nova-a) and host n2 (AZ nova-b)."""
        return cls(FakeNova("n1", "nova-a"), FakeNova("n2", "nova-b"))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        return self.pods[request.url.host](request)

    def catalog(self, regions: dict[str, str]) -> list[dict[str, Any]]:
        """A Keystone catalog: region name -> pod host (its Nova and its Neutron)."""

        def endpoints(url: str) -> list[dict[str, Any]]:
            return [
                {"interface": "public", "region_id": region, "url": url.format(host=host)}
                for region, host in regions.items()
            ]

        return [
            {"type": "compute", "endpoints": endpoints("http://{host}:8774/v2.1")},
            {"type": "network", "endpoints": endpoints(f"http://{{host}}:{NEUTRON_PORT}")},
        ]


async def register(
    client: httpx.AsyncClient,
    keystone: FakeKeystone,
    cloud: FakeCloud,
    bind: bool = True,
    **fields: dict[str, Any],
) -> FakeCloud:
    """Make the cloud's pods, in order, pod1, pod2, ... in Keystone's catalog and at the top.

    Each is registered with region podN, AZ azN and its fake's AZ as `pod_az`;
    `fields` adds to or replaces the body of a pod by name (`pod2={"tags": [...]}`).
    With `bind`, the member's project (p1) is bound to each pod in its AZ, so servers
    the tests put in a fake pod directly are the project's to list and find (a
    project's lists and unknown ids ask the pods it is bound to or has objects in).
    """
    regions = {f"pod{n}": host for n, host in enumerate(cloud.pods, 1)}
    keystone.catalog = cloud.catalog(regions)
    for n, (name, nova) in enumerate(zip(regions, cloud.pods.values(), strict=True), 1):
        pod_id = await add_pod(
            client, name, f"az{n}", **{"pod_az": nova.az, **fields.get(name, {})}
        )
        if bind:
            await bind_member(client, pod_id, f"az{n}")
    return cloud


async def bind_member(client: httpx.AsyncClient, pod_id: str, az: str) -> None:
    """The member's project (p1) bound to the pod in `az`: it works there, so what the
    tests put in the fake pod directly is the project's to list and find."""
    body = {"binding": {"project_id": "p1", "az": az, "pod_id": pod_id}}
    resp = await client.post("/v1/bindings", json=body, headers=ADMIN)
    assert resp.status_code == 201, resp.text


async def add_pod(client: httpx.AsyncClient, name: str, az: str, **fields: Any) -> str:
    """Register pod `name` at the top (its region named the same) as an admin; its id."""
    body = {"pod": {"name": name, "region_name": name, "az": az, **fields}}
    resp = await client.post("/v1/pods", json=body, headers=ADMIN)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["pod"]["id"])


async def add_pod_row(
    app: Starlette, client: httpx.AsyncClient, name: str = "pod1", az: str = "az1"
) -> Pod:
    """Register pod `name` at the top (`add_pod`); its row."""
    pod_id = await add_pod(client, name, az)
    async with app.state.sessions() as db:
        found: Pod | None = await db.get(Pod, pod_id)
    assert found is not None
    return found


async def route(
    app: Starlette, kind: str, object_id: str, region: str, project: str, created: str
) -> None:
    """The routing the top would have written for `object_id` (of `kind`, in the pod of
    `region`, owned by `project`) at `created` (Nova's and Cinder's time format)."""
    async with app.state.sessions() as db:
        pod = (await db.scalars(select(Pod).where(Pod.region_name == region))).one()
        db.add(
            Routing(
                id=object_id,
                resource_type=kind,
                top_id=object_id,
                pod_id=pod.id,
                bottom_id=object_id,
                project_id=project,
                status="active",
                created_at=datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ"),
            )
        )
        await db.commit()

"""An in-process fake of the parts of Cinder v3 that the Block Storage handlers call.

One `FakeCinder` per pod: the root version document, and volumes listed (detail
or not) with `sort=key:dir,...`, `limit` and `marker` in Cinder's order, for
the project of the caller's token (see `fakenova.PROJECTS`). The admin views of
`Admin` (services, hosts, capabilities, manage-existing) answer
first. Every request is recorded for assertions; a pod that is `down` refuses
connections.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.unit.fakenova import PROJECTS, _stamp

VERSIONS = {
    "versions": [
        {"id": "v3.0", "status": "CURRENT", "min_version": "3.0", "version": "3.71", "links": []}
    ]
}


@dataclass
class FakeCinder:
    host: str
    az: str
    volumes: dict[str, dict[str, Any]] = field(default_factory=dict)
    # a volume's snapshots by id (`volume_id`, the owner at `SNAPSHOT_OWNER`)
    snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)
    # transfers and attachments by id: (body key, the object)
    of_volume: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    down: bool = False
    backups: bool = True  # a backup service runs (the devcloud's pods have none)
    admin: Admin = field(init=False)

    def __post_init__(self) -> None:
        self.admin = Admin(self)

    @property
    def root(self) -> str:
        return f"http://{self.host}:8776/"

    def add_volume(self, name: str, project: str = "p1") -> dict[str, Any]:
        volume_id = str(uuid.uuid4())
        self.volumes[volume_id] = {
            "id": volume_id,
            "name": name,
            "size": 1,
            "status": "available",
            "created_at": _stamp(),
            "availability_zone": self.az,
            "os-vol-tenant-attr:tenant_id": project,
            "links": [{"rel": "self", "href": f"{self.root}v3/volumes/{volume_id}"}],
        }
        return self.volumes[volume_id]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        path = request.url.path.rstrip("/")
        if path == "":
            return httpx.Response(300, json=VERSIONS)
        answered = self.admin(request, path.removeprefix("/v3"))
        if answered is not None:
            return answered
        if path == "/v3/extensions":
            listed = [
                {"name": name, "alias": alias, "description": f"{name} support.", "links": []}
                | {"updated": "2012-03-12T00:00:00+00:00"}
                for name, alias in (*EXTENSIONS, (f"Only{self.host}", f"os-only-{self.host}"))
            ]
            return httpx.Response(200, json={"extensions": listed})
        if path == "/v3/backups/import_record" and request.method == "POST":
            return self._import_backup()
        answered = self._of_volume(request, path.removeprefix("/v3"))
        if answered is not None:
            return answered
        if path.startswith("/v3/os-quota-sets/") and request.method == "GET":
            return self._quota_usage(path.rsplit("/", 1)[-1])
        # Cascade's service token (no project here) is an admin: it sees every project's
        project = PROJECTS.get(request.headers["X-Auth-Token"])
        if path == "/v3/snapshots/detail" and request.method == "GET":
            return self._snapshot_list(request, project)
        if path == "/v3/volumes" and request.method == "POST" and project is not None:
            return self._create(json.loads(request.content)["volume"], project)
        answered = self._snapshot(request, path.removeprefix("/v3"), project)
        if answered is not None:
            return answered
        mine = [
            v
            for v in self.volumes.values()
            if project is None or v["os-vol-tenant-attr:tenant_id"] == project
        ]
        if path in ("/v3/volumes", "/v3/volumes/detail"):
            body: dict[str, Any] = {"volumes": self._page(request, mine)}
            if request.url.params.get("with_count") == "true":
                body["count"] = len(mine)
            return httpx.Response(200, json=body)
        found = [v for v in mine if path == f"/v3/volumes/{v['id']}"]
        if found:
            return httpx.Response(200, json={"volume": found[0]})
        return httpx.Response(404, json={"itemNotFound": {"code": 404, "message": "not found"}})

    def _import_backup(self) -> httpx.Response:
        """POST /backups/import_record: Cinder's 503 without a backup service, else 201 with
        the new backup's summary."""
        if not self.backups:
            fault = {"code": 503, "message": "Service cinder-backup could not be found."}
            return httpx.Response(503, json={"serviceUnavailable": fault})
        backup_id = str(uuid.uuid4())
        links = [{"rel": "self", "href": f"{self.root}v3/backups/{backup_id}"}]
        return httpx.Response(201, json={"backup": {"id": backup_id, "name": None, "links": links}})

    def _of_volume(self, request: httpx.Request, path: str) -> httpx.Response | None:
        """Transfers and attachments, as Cinder: made on a volume the caller sees, listed
        and shown to the volume's project (and admins) whoever made them."""
        parts = path.strip("/").split("/")
        if parts[0] not in OF_VOLUME:
            return None
        key, field_name, status = OF_VOLUME[parts[0]]
        token = request.headers.get("X-Auth-Token", "")
        project = PROJECTS.get(token)
        admin = project is None or token == ADMIN_TOKEN

        def sees(volume_id: str) -> bool:
            volume = self.volumes.get(volume_id)
            owner = volume["os-vol-tenant-attr:tenant_id"] if volume else None
            return volume is not None and (admin or owner == project)

        mine = [o for k, o in self.of_volume.values() if k == key and sees(o["volume_id"])]
        if parts[2:] == ["accept"] and request.method == "POST" and project is not None:
            return self._accept(parts[1], project)
        if len(parts) == 1 and request.method == "POST":
            wanted = json.loads(request.content)[key]
            volume_id = str(wanted.get(field_name))
            if not sees(volume_id):
                return _fault(404, f"Volume {volume_id} could not be found.")
            made: dict[str, Any] = {"id": str(uuid.uuid4()), "volume_id": volume_id}
            made["created_at"] = _stamp()
            if key == "transfer":
                made |= {
                    "name": wanted.get("name"),
                    "no_snapshots": bool(wanted.get("no_snapshots")),
                }
            else:
                made["status"] = "reserved"
            self.of_volume[made["id"]] = (key, made)
            return httpx.Response(status, json={key: made})
        if parts[1:] in ([], ["detail"]) and request.method == "GET":
            return httpx.Response(200, json={f"{key}s": mine})
        found = [o for o in mine if o["id"] == parts[1]]
        if not found:
            return _fault(404, f"{key.capitalize()} {parts[1]} could not be found.")
        if request.method == "DELETE":
            del self.of_volume[parts[1]]
            return httpx.Response(202 if key == "transfer" else 200)
        return httpx.Response(200, json={key: found[0]})

    def _accept(self, transfer_id: str, project: str) -> httpx.Response:
        """A transfer accepted by `project` (any project may; the auth key is not checked):
        the volume is the acceptor's, and its snapshots unless `no_snapshots`."""
        key, transfer = self.of_volume.get(transfer_id, ("", {}))
        if key != "transfer":
            return _fault(404, f"Transfer {transfer_id} could not be found.")
        del self.of_volume[transfer_id]
        volume_id = transfer["volume_id"]
        self.volumes[volume_id]["os-vol-tenant-attr:tenant_id"] = project
        if not transfer["no_snapshots"]:
            for snapshot in self.snapshots.values():
                if snapshot["volume_id"] == volume_id:
                    snapshot[SNAPSHOT_OWNER] = project
        accepted = {"id": transfer_id, "name": transfer["name"], "volume_id": volume_id}
        return httpx.Response(202, json={"transfer": accepted})

    def _snapshot_list(self, request: httpx.Request, project: str | None) -> httpx.Response:
        """GET /snapshots/detail: the caller's (a `volume_id` filter applied)."""
        wanted = request.url.params.get("volume_id")
        listed = [
            s
            for s in self.snapshots.values()
            if (project is None or s[SNAPSHOT_OWNER] == project)
            and wanted in (None, s["volume_id"])
        ]
        return httpx.Response(200, json={"snapshots": listed})

    def _snapshot(
        self, request: httpx.Request, path: str, project: str | None
    ) -> httpx.Response | None:
        """POST /snapshots (of a volume the caller sees; 202), GET and DELETE
        /snapshots/{id} (the caller's; 404 otherwise). None for any other call."""
        if path == "/snapshots" and request.method == "POST":
            wanted = json.loads(request.content)["snapshot"]
            volume = self.volumes.get(str(wanted.get("volume_id")))
            if volume is None or project not in (None, volume["os-vol-tenant-attr:tenant_id"]):
                return _fault(404, f"Volume {wanted.get('volume_id')} could not be found.")
            snapshot_id = str(uuid.uuid4())
            self.snapshots[snapshot_id] = {
                "id": snapshot_id,
                "volume_id": volume["id"],
                "status": "creating",
                "size": volume["size"],
                "name": wanted.get("name"),
                "description": wanted.get("description"),
                "created_at": _stamp(),
                "metadata": {},
                SNAPSHOT_OWNER: project or volume["os-vol-tenant-attr:tenant_id"],
            }
            return httpx.Response(202, json={"snapshot": self.snapshots[snapshot_id]})
        head, _, snapshot_id = path.rpartition("/")
        if head != "/snapshots" or snapshot_id == "detail":
            return None
        found = self.snapshots.get(snapshot_id)
        if found is None or project not in (None, found[SNAPSHOT_OWNER]):
            return _fault(404, f"Snapshot {snapshot_id} could not be found.")
        if request.method == "DELETE":
            del self.snapshots[snapshot_id]
            return httpx.Response(202)
        return httpx.Response(200, json={"snapshot": found})

    def _create(self, wanted: dict[str, Any], project: str) -> httpx.Response:
        """POST /volumes: made at once, in this pod's AZ only (as a Cinder refuses others)."""
        if wanted.get("availability_zone", self.az) != self.az:
            return _fault(400, f"Availability zone '{wanted['availability_zone']}' is invalid.")
        size = int(wanted.get("size", 1))  # read first: a size it cannot read makes nothing
        volume = self.add_volume(str(wanted.get("name")), project)
        volume.update(size=size, volume_type=wanted.get("volume_type"))
        return httpx.Response(202, json={"volume": volume})

    def _quota_usage(self, project: str) -> httpx.Response:
        """What this pod counts for `project` (volumes and gigabytes; nothing else)."""
        mine = [v for v in self.volumes.values() if v["os-vol-tenant-attr:tenant_id"] == project]
        counts = {"volumes": len(mine), "gigabytes": sum(int(v["size"]) for v in mine)}
        quota_set = {k: {"in_use": counts.get(k, 0), "limit": -1} for k in ("volumes", "gigabytes")}
        return httpx.Response(200, json={"quota_set": {**quota_set, "id": project}})

    def _page(self, request: httpx.Request, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        ordered = list(items)
        sort = request.url.params.get("sort", "created_at:desc,id:desc")
        for part in reversed(sort.split(",")):  # stable sorts, last key first
            key, _, direction = part.partition(":")

            def value(volume: dict[str, Any], key: str = key) -> str:
                return str(volume.get(key, ""))

            ordered.sort(key=value, reverse=direction == "desc")
        marker = request.url.params.get("marker")
        if marker is not None:
            ids = [v["id"] for v in ordered]
            ordered = ordered[ids.index(marker) + 1 :]
        return ordered[: int(request.url.params.get("limit", "1000"))]


ADMIN_TOKEN = "admin-token"
SNAPSHOT_OWNER = "os-extended-snapshot-attributes:project_id"
# (name, alias) of the extensions every fake lists; each lists one of its own too
EXTENSIONS = (("Hosts", "os-hosts"), ("QuotaClasses", "os-quota-class-sets"))
# a collection of objects made on a volume: body key, the create's volume field, its status
OF_VOLUME = {
    "volume-transfers": ("transfer", "volume_id", 202),
    "os-volume-transfer": ("transfer", "volume_id", 202),
    "attachments": ("attachment", "volume_uuid", 200),
}
LOG_BINARIES = ("cinder-scheduler", "cinder-volume", "cinder-backup")


def _fault(status: int, message: str) -> httpx.Response:
    name = {400: "badRequest", 403: "forbidden", 404: "itemNotFound"}[status]
    return httpx.Response(status, json={name: {"code": status, "message": message}})


def matches(value: str, name: str | None) -> bool:
    """Cinder's host match: `h#p` exactly, `h@b` as itself or its pools, `h` as itself,
    its backends and its pools."""
    if not name:
        return False
    if "#" in value:
        return name == value
    if "@" in value:
        return name == value or name.startswith(value + "#")
    return name == value or name.startswith((value + "@", value + "#"))


def _version(request: httpx.Request) -> tuple[int, int]:
    raw = request.headers.get("OpenStack-API-Version", "volume 3.0").split()[-1]
    major, _, minor = raw.partition(".")
    return int(major), int(minor)


@dataclass
class Admin:
    """A pod's services (scheduler and backup on `<host>-volume`, volume on
    `<host>-volume@fake` in cluster `<host>-cluster@fake`), its hosts, capabilities,
    storage it could manage, and manage-existing; admins only (Cinder's policy)."""

    cinder: FakeCinder
    services: list[dict[str, Any]] = field(default_factory=list)
    manageable: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    log_levels: dict[str, str] = field(default_factory=dict)
    default_type: str = field(default_factory=lambda: str(uuid.uuid4()))

    def __post_init__(self) -> None:
        node = f"{self.cinder.host}-volume"
        for binary, host in (
            ("cinder-scheduler", node),
            ("cinder-volume", f"{node}@fake"),
            ("cinder-backup", node),
        ):
            self.services.append(
                {
                    "binary": binary,
                    "host": host,
                    "zone": self.cinder.az,
                    "status": "enabled",
                    "state": "up",
                    "updated_at": "2026-01-01T00:00:00.000000",
                    "cluster": f"{self.cinder.host}-cluster@fake"
                    if binary == "cinder-volume"
                    else None,
                    "disabled_reason": None,
                }
            )
        self.manageable = {
            "volumes": [
                {
                    "reference": {"source-name": f"{self.cinder.host}-lv"},
                    "size": 1,
                    "safe_to_manage": True,
                    "reason_not_safe": None,
                    "cinder_id": None,
                    "extra_info": None,
                }
            ],
            "snapshots": [
                {
                    "reference": {"source-name": f"{self.cinder.host}-snap"},
                    "size": 1,
                    "safe_to_manage": True,
                    "source_reference": {"source-name": f"{self.cinder.host}-lv"},
                }
            ],
        }

    @property
    def volume_host(self) -> str:
        return f"{self.cinder.host}-volume@fake"

    def _volume_service(self, host: str, cluster: str | None = None) -> dict[str, Any] | None:
        backend = host.partition("#")[0] if host else ""
        for svc in self.services:
            if svc["binary"] != "cinder-volume":
                continue
            if (backend and svc["host"] == backend) or (cluster and svc["cluster"] == cluster):
                return svc
        return None

    def __call__(self, request: httpx.Request, path: str) -> httpx.Response | None:
        parts = path.strip("/").split("/")
        if path == "/types/default":
            vtype = {"id": self.default_type, "name": "__DEFAULT__", "extra_specs": {}}
            return httpx.Response(200, json={"volume_type": vtype})
        if parts[0] not in (
            "os-services", "os-hosts", "capabilities", "manageable_volumes",
            "manageable_snapshots", "os-volume-manage", "os-snapshot-manage",
        ):  # fmt: skip
            return None
        if request.headers.get("X-Auth-Token") != ADMIN_TOKEN:
            return _fault(403, f"Policy doesn't allow {parts[0]} to be performed.")
        params = request.url.params
        if parts == ["os-services"] and request.method == "GET":
            found = [
                s
                for s in self.services
                if ("host" not in params or matches(params["host"], s["host"]))
                and params.get("binary", s["binary"]) == s["binary"]
            ]
            return httpx.Response(200, json={"services": found})
        if parts[0] == "os-services" and request.method == "PUT":
            return self._service_action(parts[1], json.loads(request.content or b"{}"))
        if parts[0] == "os-hosts":
            return self._hosts(request, parts[1:])
        if parts[0] == "capabilities":
            svc = self._volume_service(parts[1], parts[1])
            if svc is None:
                return _fault(404, f"Can't find service: {parts[1]}")
            body = {
                "namespace": f"OS::Storage::Capabilities::{svc['host']}",
                "volume_backend_name": "fake",
                "pool_name": "fake",
                "storage_protocol": "iSCSI",
                "properties": {},
            }
            return httpx.Response(200, json=body)
        if parts[0].startswith("manageable_") and request.method == "GET":
            if _version(request) < (3, 8):
                return _fault(404, "The resource could not be found.")
            host, cluster = params.get("host"), params.get("cluster")
            if bool(host) == bool(cluster):
                return _fault(
                    400, "Invalid input received: One and only one of cluster and host must be set."
                )
            if self._volume_service(host or "", cluster) is None:
                return _fault(404, f"Service {host or cluster} could not be found.")
            kind = parts[0].removeprefix("manageable_")
            entries = self.manageable[kind]
            if parts[1:] != ["detail"]:
                entries = [
                    {k: e[k] for k in ("reference", "size", "safe_to_manage")} for e in entries
                ]
            return httpx.Response(200, json={f"manageable-{kind}": entries})
        if request.method == "POST" and "volume" in parts[0]:
            return self._manage_volume(json.loads(request.content))
        if request.method == "POST":
            return self._manage_snapshot(json.loads(request.content))
        return None

    def _service_action(self, action: str, body: dict[str, Any]) -> httpx.Response:
        host = body.get("host")
        if action in ("set-log", "get-log"):
            server = body.get("server")
            chosen = [s for s in self.services if not server or matches(server, s["host"])]
            if action == "set-log":
                self.log_levels[body.get("prefix") or ""] = str(body.get("level"))
                return httpx.Response(202)
            levels = [
                {"host": s["host"], "binary": s["binary"], "levels": dict(self.log_levels)}
                for s in chosen
            ]
            return httpx.Response(200, json={"log_levels": levels})
        if action in ("enable", "disable", "disable-log-reason"):
            if not host:
                return _fault(400, "Invalid input received: Host field is missing.")
            binary = body.get("binary") or body.get("service", "")
            svc = next(
                (s for s in self.services if s["host"] == host and s["binary"] == binary), None
            )
            if svc is None:
                return _fault(404, f"Service {binary} could not be found on host {host}.")
            disabled = action != "enable"
            svc["status"] = "disabled" if disabled else "enabled"
            svc["disabled_reason"] = body.get("disabled_reason")
            answer = {"host": host, "service": body.get("service", ""), "binary": binary}
            answer |= {"status": svc["status"], "disabled": disabled}
            if action == "disable-log-reason":
                answer["disabled_reason"] = body.get("disabled_reason")
            return httpx.Response(200, json=answer)
        if action in ("freeze", "thaw", "failover_host", "failover"):
            if not any(matches(host or "", s["host"]) for s in self.services):
                return _fault(400, f"Invalid input received: No service found with host={host}.")
            for svc in self.services:
                if matches(host or "", svc["host"]) and svc["binary"] == "cinder-volume":
                    svc["frozen"] = action == "freeze"
            return httpx.Response(202 if action.startswith("failover") else 200)
        return _fault(404, "Unknown action")

    def _hosts(self, request: httpx.Request, rest: list[str]) -> httpx.Response:
        listed = [
            {
                "host_name": s["host"],
                "service": s["binary"],
                "zone": s["zone"],
                "service-status": "available",
                "service-state": s["status"],
                "last-update": s["updated_at"],
            }
            for s in self.services
            if request.url.params.get("zone", s["zone"]) == s["zone"]
        ]
        if not rest:
            return httpx.Response(200, json={"hosts": listed})
        host = rest[0]
        if request.method == "PUT":
            if host not in [h["host_name"] for h in listed]:
                return _fault(404, f"Host '{host}' could not be found.")
            status = json.loads(request.content).get("status", "")
            return httpx.Response(200, json={"host": host, "status": f"{status}d"})
        if self._volume_service(host) is None or "#" in host:
            return _fault(404, f"Host {host} could not be found.")
        resource = {"host": host, "project": "(total)", "volume_count": "0"}
        resource |= {"total_volume_gb": "0", "snapshot_count": "0", "total_snapshot_gb": "0"}
        return httpx.Response(200, json={"host": [{"resource": resource}]})

    def _manage_volume(self, body: dict[str, Any]) -> httpx.Response:
        wanted = body["volume"]
        if self._volume_service(wanted.get("host", "")) is None:
            return _fault(400, f"Host '{wanted.get('host')}' not found")
        volume = self.cinder.add_volume(wanted.get("name") or "", "p1")
        volume["availability_zone"] = wanted.get("availability_zone") or self.cinder.az
        volume["volume_type"] = wanted.get("volume_type") or "__DEFAULT__"
        volume["os-vol-host-attr:host"] = wanted["host"]
        volume["status"] = "creating"
        return httpx.Response(202, json={"volume": volume})

    def _manage_snapshot(self, body: dict[str, Any]) -> httpx.Response:
        wanted = body["snapshot"]
        if wanted["volume_id"] not in self.cinder.volumes:
            return _fault(404, f"Volume {wanted['volume_id']} could not be found.")
        snapshot = {
            "id": str(uuid.uuid4()),
            "volume_id": wanted["volume_id"],
            "name": wanted.get("name"),
            "status": "creating",
            "size": 1,
        }
        return httpx.Response(202, json={"snapshot": snapshot})

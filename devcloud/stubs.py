"""Stub pods: one process serving N simulated pods and the Keystone that lists them.

`python -m devcloud.stubs --pods N --port P` serves, on 127.0.0.1:P,

- `/identity/v3`: a small Keystone (password tokens, validation with or without the
  catalog, the catalog with one region `stub{i}` per pod, project lookups). Every user
  gets a token; `admin` and `cascade` are admins of the `service` project, `demo`
  a member of `demo`, anyone else a member of a project of its own.
- `/pod/{i}/compute/v2.1`, `/pod/{i}/volume/v3`, `/pod/{i}/network`, `/pod/{i}/image`:
  the version documents Cascade reads, and Nova's `servers/detail` (limit, marker, the
  default order: `created_at` then id, descending) and `servers/{id}`. Pod i holds
  `--servers` servers of the demo project; the first TEAM_PODS pods also hold
  TEAM_SERVERS servers each of the `team` user's project (a project that lives in a
  few of the pods: a pod shows a caller the servers of its token's project); the pod
  named `floor` (not in the catalog) holds 1,000, for the benchmark's direct
  measurement of one pod.

Each answer waits `latency` seconds first. `POST /_stub/config` (JSON) changes the
behaviour while it runs: `latency`, `slow` ({pod index: seconds}), `hang` ([pod
indexes]: accept and never answer), `errors` ([pod indexes]: 503); `GET /_stub/stats`
counts the requests by kind since the last `POST /_stub/reset`, `GET /_stub/probes`
how often each pod's health was probed (the version documents). It is a benchmark
harness (`devcloud/bench_scale.py`), not a model of Nova: only what Cascade's read
paths ask is served, as raw ASGI so the stub costs as little CPU as it can.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

NAMESPACE = uuid.UUID("6b0f3c4e-5d0a-4c1e-9b53-5c6164652d73")
DEMO_PROJECT = uuid.uuid5(NAMESPACE, "project-demo").hex
SERVICE_PROJECT = uuid.uuid5(NAMESPACE, "project-service").hex
FLOOR = "floor"
FLOOR_SERVERS = 1000
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
# a project in a few pods of many: its user, its pods (the first ones) and servers in each
TEAM = "team"
TEAM_PODS = 10
TEAM_SERVERS = 100
NOVA_MAX = "2.96"
# the version documents Cascade's health check reads (what `/_stub/probes` counts)
HEALTH_KINDS = frozenset({"compute:v2.1", "volume:root", "network:root", "image:root"})
SERVICES = (
    ("compute", "compute", "/v2.1"),
    ("volumev3", "volume", "/v3"),
    ("network", "network", ""),
    ("image", "image", ""),
)


def region(index: int) -> str:
    return f"stub{index}"


def project_of(user: str) -> str:
    """The project of a user other than demo and the admins: its own."""
    return uuid.uuid5(NAMESPACE, f"project-{user}").hex


def team_pods(pods: int) -> int:
    """How many of `pods` hold the team's servers."""
    return min(TEAM_PODS, pods)


def created(pod: int, n: int, pods: int) -> datetime:
    """When server `n` of pod `pod` (of `pods`) was made: one a second, pod after pod,
    so the creation times interleave across pods (a merge takes from every pod)."""
    return EPOCH + timedelta(seconds=pod + n * pods)


def server_id(pod: str, n: int, project: str | None = None) -> str:
    """Server `n` of pod `pod`: the demo project's, or `project`'s."""
    owner = "" if project in (None, DEMO_PROJECT) else f"{project}:"
    return str(uuid.uuid5(NAMESPACE, f"{owner}{pod}/{n}"))


class Stubs:
    """The stub pods' state: configuration, counters, and each pod's servers (built on
    first use, kept as the pod's ordered list)."""

    def __init__(self, pods: int, servers: int, port: int, latency: float) -> None:
        self.pods = pods
        self.servers = servers
        self.base = f"http://127.0.0.1:{port}"
        self.latency = latency
        self.slow: dict[str, float] = {}
        self.hang: set[str] = set()
        self.errors: set[str] = set()
        self.stats: Counter[str] = Counter()
        # each pod's last health probe (a version document) and longest gap between two
        self.probed: dict[str, float] = {}
        self.gaps: dict[str, float] = {}
        self._servers: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._catalog: bytes | None = None

    def probe(self, pod: str) -> None:
        """A health probe of `pod` now: its longest gap between two probes kept."""
        at = time.monotonic()
        last = self.probed.get(pod)
        if last is not None:
            self.gaps[pod] = max(self.gaps.get(pod, 0.0), at - last)
        self.probed[pod] = at

    def probes(self) -> dict[str, Any]:
        """Since the last reset: pods probed, pods probed at least twice, the longest gap
        between two probes of one pod, and the longest time a probed pod has waited since
        its last probe (seconds)."""
        at = time.monotonic()
        return {
            "pods": len(self.probed),
            "twice": len(self.gaps),
            "longest_gap": max(self.gaps.values(), default=0.0),
            "longest_wait": max((at - t for t in self.probed.values()), default=0.0),
        }

    def catalog(self) -> bytes:
        if self._catalog is None:
            catalog = []
            for kind, path, version in SERVICES:
                endpoints = [
                    {
                        "id": f"{kind}-{i}",
                        "interface": "public",
                        "region": region(i),
                        "region_id": region(i),
                        "url": f"{self.base}/pod/{i}/{path}{version}",
                    }
                    for i in range(self.pods)
                ]
                catalog.append({"type": kind, "name": path, "id": kind, "endpoints": endpoints})
            self._catalog = json.dumps({"catalog": catalog}).encode()
        return self._catalog

    def pod_servers(self, pod: str, project: str = DEMO_PROJECT) -> list[dict[str, Any]]:
        """The pod's servers of `project`, newest first (Nova's default order)."""
        found = self._servers.get((pod, project))
        if found is None:
            if project == DEMO_PROJECT:
                count = FLOOR_SERVERS if pod == FLOOR else self.servers
                spread = self.pods
            elif project == project_of(TEAM) and pod.isdigit() and int(pod) < TEAM_PODS:
                count, spread = TEAM_SERVERS, team_pods(self.pods)
            else:
                count, spread = 0, 1
            # created times interleave across pods, so a merge takes from every pod
            offset = 0 if pod == FLOOR else int(pod)
            items = [
                self._server(pod, n, created(offset, n, spread), project) for n in range(count)
            ]
            found = self._servers[(pod, project)] = sorted(
                items, key=lambda s: (s["created"], s["id"]), reverse=True
            )
        return found

    def _server(self, pod: str, n: int, made: datetime, project: str) -> dict[str, Any]:
        sid = server_id(pod, n, project)
        root = f"{self.base}/pod/{pod}/compute"
        created = made.strftime("%Y-%m-%dT%H:%M:%SZ")
        flavor = {"id": "1", "links": [{"rel": "bookmark", "href": f"{root}/flavors/1"}]}
        image_id = str(uuid.uuid5(NAMESPACE, "image"))
        number = int(pod) if pod.isdigit() else 0
        mac = f"fa:16:3e:{n % 256:02x}:{n // 256 % 256:02x}:{number % 256:02x}"
        return {
            "id": sid,
            "name": f"stub-{pod}-{n}",
            "status": "ACTIVE",
            "tenant_id": project,
            "user_id": uuid.uuid5(NAMESPACE, "user-demo").hex,
            "metadata": {"purpose": "benchmark"},
            "hostId": uuid.uuid5(NAMESPACE, f"host-{pod}").hex,
            "image": {"id": image_id, "links": [{"rel": "bookmark", "href": f"{root}/images"}]},
            "flavor": flavor,
            "created": created,
            "updated": created,
            "addresses": {
                "private": [
                    {
                        "version": 4,
                        "addr": f"10.{n // 250 % 250}.{n % 250}.{number % 250 + 2}",
                        "OS-EXT-IPS:type": "fixed",
                        "OS-EXT-IPS-MAC:mac_addr": mac,
                    }
                ]
            },
            "accessIPv4": "",
            "accessIPv6": "",
            "links": [
                {"rel": "self", "href": f"{root}/v2.1/servers/{sid}"},
                {"rel": "bookmark", "href": f"{root}/servers/{sid}"},
            ],
            "OS-DCF:diskConfig": "MANUAL",
            "progress": 0,
            "OS-EXT-AZ:availability_zone": "nova",
            "config_drive": "",
            "key_name": None,
            "OS-SRV-USG:launched_at": created.rstrip("Z") + ".000000",
            "OS-SRV-USG:terminated_at": None,
            "OS-EXT-STS:task_state": None,
            "OS-EXT-STS:vm_state": "active",
            "OS-EXT-STS:power_state": 1,
            "os-extended-volumes:volumes_attached": [],
            "security_groups": [{"name": "default"}],
        }


def _token_body(user: str, catalog: list[Any] | None) -> dict[str, Any]:
    admin = user in ("admin", "cascade")
    project = SERVICE_PROJECT if admin else DEMO_PROJECT if user == "demo" else project_of(user)
    roles = [{"id": "r-admin", "name": "admin"}] if admin else []
    roles += [{"id": "r-member", "name": "member"}, {"id": "r-reader", "name": "reader"}]
    token: dict[str, Any] = {
        "methods": ["password"],
        "user": {"id": uuid.uuid5(NAMESPACE, f"user-{user}").hex, "name": user},
        "project": {"id": project, "name": "service" if admin else user},
        "roles": roles,
        "expires_at": (datetime.now(UTC) + timedelta(hours=12)).isoformat(),
        "issued_at": datetime.now(UTC).isoformat(),
    }
    if catalog is not None:
        token["catalog"] = catalog
    return {"token": token}


class App:
    """The ASGI application (see the module's docstring)."""

    def __init__(self, stubs: Stubs) -> None:
        self.stubs = stubs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path: str = scope["path"]
        query = dict(parse_qsl(scope["query_string"].decode()))
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        status, answer, extra = await self.answer(scope["method"], path, query, headers, body)
        data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        out = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(data))]
        out += [(k.encode(), v.encode()) for k, v in extra.items()]
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": data})

    async def answer(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        stubs = self.stubs
        if path.startswith("/_stub/"):
            return self.control(method, path, body)
        if path.startswith("/identity/v3"):
            stubs.stats["keystone"] += 1
            return self.keystone(method, path[len("/identity/v3") :], query, headers, body)
        parts = path.strip("/").split("/")
        if len(parts) < 3 or parts[0] != "pod":
            stubs.stats["other"] += 1  # e.g. a health check of the host's root
            return 404, {"error": "no such path"}, {}
        pod, service, rest = parts[1], parts[2], parts[3:]
        kind = f"{service}:{'/'.join(rest[:2]) or 'root'}"
        stubs.stats[kind] += 1
        if kind in HEALTH_KINDS:
            stubs.probe(pod)
        if pod in stubs.hang:
            await asyncio.Event().wait()
        await asyncio.sleep(stubs.slow.get(pod, stubs.latency))
        if pod in stubs.errors:
            return 503, {"error": "stub pod answering 503"}, {}
        if service == "compute":
            return self.compute(pod, rest, query, _project(headers.get("x-auth-token", "")))
        if len(rest) >= 2:  # a Cinder or Neutron list (an audit's): the pod has none
            name = rest[-2] if rest[-1] == "detail" else rest[-1]
            key = "volume_types" if name == "types" else name.replace("-", "_")
            return 200, {key: []}, {}
        return 200, self.versions(pod, service), {}

    def control(self, method: str, path: str, body: bytes) -> tuple[int, Any, dict[str, str]]:
        stubs = self.stubs
        if path == "/_stub/stats":
            return 200, dict(stubs.stats), {}
        if path == "/_stub/probes":
            return 200, stubs.probes(), {}
        if path == "/_stub/reset" and method == "POST":
            stubs.stats.clear()
            stubs.probed.clear()
            stubs.gaps.clear()
            return 200, {}, {}
        if path == "/_stub/config" and method == "POST":
            conf = json.loads(body or b"{}")
            stubs.latency = float(conf.get("latency", stubs.latency))
            stubs.slow = {str(k): float(v) for k, v in conf.get("slow", {}).items()}
            stubs.hang = {str(p) for p in conf.get("hang", [])}
            stubs.errors = {str(p) for p in conf.get("errors", [])}
            return 200, {}, {}
        return 404, {"error": "no such control"}, {}

    def keystone(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        with_catalog = "nocatalog" not in query
        if path == "/auth/tokens" and method == "POST":
            auth = json.loads(body)["auth"]["identity"]["password"]["user"]
            user = str(auth["name"])
            catalog = json.loads(self.stubs.catalog())["catalog"] if with_catalog else None
            return 201, _token_body(user, catalog), {"X-Subject-Token": f"stub-token-{user}"}
        if path == "/auth/tokens" and method == "GET":
            token = headers.get("x-subject-token", "")
            if not token.startswith("stub-token-"):
                return 404, {"error": {"code": 404, "message": "token not found"}}, {}
            catalog = json.loads(self.stubs.catalog())["catalog"] if with_catalog else None
            return 200, _token_body(token[len("stub-token-") :], catalog), {}
        if path == "/auth/catalog":
            return 200, self.stubs.catalog(), {}
        if path.startswith("/projects/"):
            pid = path.rsplit("/", 1)[1]
            return 200, {"project": {"id": pid, "name": pid, "domain_id": "default"}}, {}
        if path in ("", "/"):
            return 200, {"version": {"id": "v3.14", "status": "stable"}}, {}
        return 404, {"error": {"code": 404, "message": f"no {path} in the stub"}}, {}

    def versions(self, pod: str, service: str) -> Any:
        base = f"{self.stubs.base}/pod/{pod}/{service}"
        if service == "volume":
            return {
                "versions": [
                    {
                        "id": "v3.0",
                        "status": "CURRENT",
                        "min_version": "3.0",
                        "version": "3.70",
                        "links": [{"rel": "self", "href": f"{base}/v3/"}],
                    }
                ]
            }
        version = "v2.0" if service == "network" else "v2.16"
        return {"versions": [{"id": version, "status": "CURRENT", "links": [{"href": base}]}]}

    def compute(
        self, pod: str, rest: list[str], query: dict[str, str], project: str
    ) -> tuple[int, Any, dict[str, str]]:
        link = f"{self.stubs.base}/pod/{pod}/compute/v2.1/"
        doc = {
            "id": "v2.1",
            "status": "CURRENT",
            "min_version": "2.1",
            "version": NOVA_MAX,
            "links": [{"rel": "self", "href": link}],
        }
        if rest in ([], ["v2.1"]):
            return 200, ({"version": doc} if rest else {"versions": [doc]}), {}
        if rest == ["v2.1", "flavors", "detail"]:
            return 200, {"flavors": []}, {}
        if rest == ["v2.1", "servers", "detail"]:
            servers = self.stubs.pod_servers(pod, project)
            if "all_tenants" in query and "project_id" not in query:  # an admin's: everyone's
                team = self.stubs.pod_servers(pod, project_of(TEAM))
                servers = sorted([*servers, *team], key=lambda s: (s["created"], s["id"]))[::-1]
            start = 0
            if "marker" in query:
                ids = [s["id"] for s in servers]
                if query["marker"] not in ids:
                    return 400, _nova_error(400, f"marker [{query['marker']}] not found"), {}
                start = ids.index(query["marker"]) + 1
            limit = min(int(query.get("limit", 1000)), 1000)
            return 200, {"servers": servers[start : start + limit]}, {}
        if len(rest) == 3 and rest[:2] == ["v2.1", "servers"]:
            for server in self.stubs.pod_servers(pod, project):
                if server["id"] == rest[2]:
                    return 200, {"server": server}, {}
            return 404, _nova_error(404, f"Instance {rest[2]} could not be found."), {}
        return 404, _nova_error(404, "The resource could not be found."), {}


def _project(token: str) -> str:
    """The project whose servers a pod shows the caller of `token`: the team's to the
    team, the demo project's to anyone else (the benchmark straight to a pod sends none)."""
    return project_of(TEAM) if token == f"stub-token-{TEAM}" else DEMO_PROJECT


def _nova_error(code: int, message: str) -> dict[str, Any]:
    kind = "itemNotFound" if code == 404 else "badRequest"
    return {kind: {"code": code, "message": message}}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devcloud.stubs", description=__doc__)
    parser.add_argument("--pods", type=int, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--servers", type=int, default=10, help="servers per pod")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds per answer")
    args = parser.parse_args()
    import uvicorn

    app = App(Stubs(args.pods, args.servers, args.port, args.latency))
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        backlog=4096,
        limit_concurrency=None,
    )


if __name__ == "__main__":
    main()

"""cascade-api in process over two fake pods (Nova and Cinder each), a world of real
objects, a raw ASGI driver and the three checks of issue 11.

The driver builds the ASGI scope itself (as uvicorn would from the wire: `path` is the
percent-decoded `raw_path`), so dot segments, encoded slashes and control characters
reach the application exactly as a client can send them; httpx would normalise them.
"""

from __future__ import annotations

import dataclasses
import json
import re
import traceback
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
from sqlalchemy import func, select
from starlette.applications import Starlette

from cascade.app import create_app
from cascade.conf import Conf, DatabaseSection, KeystoneSection
from cascade.db.migrate import upgrade
from cascade.db.models import Base
from tests.unit.conftest import FakeKeystone
from tests.unit.fakecinder import FakeCinder
from tests.unit.fakenova import FakeNova, add_pod
from tests.unit.fuzz.checks import error_format
from tests.unit.fuzz.generate import FuzzRequest

ADMIN = {"X-Auth-Token": "admin-token"}
MEMBER = {"X-Auth-Token": "member-token"}
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKtWb4Gik2+YglF8ocW4n6egzABCMbC3nCzetEUagjiv fuzz"

# Failure classes the lead was fixing in main (cascade/api/guard.py and DB-level checks)
# while this suite was written: request label -> the failures (exception names, or
# "5xx", "format", "changed") expected on a request carrying it ("*": on any). Empty
# since main's guard is merged: every failure is a failure.
LEAD_FIXING: dict[str, frozenset[str]] = {}


def expected_for_now(failure: str, labels: frozenset[str]) -> bool:
    return any(failure in LEAD_FIXING.get(label, frozenset()) for label in {"*", *labels})


class Keystone(FakeKeystone):
    """The unit fixtures' fake Keystone, also answering `GET /projects/{id}` (Cascade asks
    whether a project named in a URL exists): p1 and p2 do."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if "/projects/" in request.url.path and request.method == "GET":
            project = request.url.path.rsplit("/", 1)[-1]
            if project in ("p1", "p2"):
                return httpx.Response(200, json={"project": {"id": project}})
            return httpx.Response(404, json={"error": {"code": 404}})
        return super().__call__(request)


class Pods:
    """The pods' transport: Nova on n1/n2, Cinder on c1/c2. A fake that cannot read what
    Cascade sent (its own KeyError or TypeError) answers 400, as the real service's
    schema validation would; each such answer is counted."""

    def __init__(self) -> None:
        self.novas = {"n1": FakeNova("n1", "nova-a"), "n2": FakeNova("n2", "nova-b")}
        self.cinders = {"c1": FakeCinder("c1", "nova-a"), "c2": FakeCinder("c2", "nova-b")}
        self.fake_refusals = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        fakes: dict[str, Callable[[httpx.Request], httpx.Response]] = {
            **self.novas,
            **self.cinders,
        }
        fake = fakes[request.url.host]
        try:
            return fake(request)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            self.fake_refusals += 1
            message = f"Invalid input: {type(exc).__name__}"
            return httpx.Response(400, json={"badRequest": {"code": 400, "message": message}})

    def catalog(self) -> list[dict[str, Any]]:
        def endpoint(region: str, url: str) -> dict[str, str]:
            return {"interface": "public", "region_id": region, "url": url}

        return [
            {
                "type": "compute",
                "endpoints": [
                    endpoint("pod1", "http://n1:8774/v2.1"),
                    endpoint("pod2", "http://n2:8774/v2.1"),
                ],
            },
            {
                "type": "volumev3",
                "endpoints": [
                    endpoint("pod1", "http://c1:8776/v3"),
                    endpoint("pod2", "http://c2:8776/v3"),
                ],
            },
        ]

    def stores(self) -> frozenset[str]:
        """Every object the fake pods hold, as `host/kind/id`."""
        held = {
            f"{host}/{kind}/{ident}"
            for host, nova in self.novas.items()
            for kind in ("servers", "flavors", "keypairs", "groups")
            for ident in getattr(nova, kind)
        }
        held |= {f"{h}/volumes/{i}" for h, cinder in self.cinders.items() for i in cinder.volumes}
        return frozenset(held)


@dataclass
class Answer:
    status: int
    body: bytes
    error: BaseException | None = None
    where: str = ""  # the innermost cascade frame of `error`, file:line


@dataclass
class Failure:
    cause: str  # what failed and where (one per distinct cause)
    request: FuzzRequest
    detail: str
    expected_for_now: bool = False


@dataclass
class Harness:
    app: Starlette
    keystone: FakeKeystone
    pods: Pods
    world: dict[str, list[str]] = field(default_factory=dict)
    down: bool = False  # the fake pods made unreachable on purpose (`take_pods_down`)
    sent: int = 0
    statuses: list[int] = field(default_factory=list)

    async def call(self, req: FuzzRequest) -> Answer:
        """The request through the whole application (middleware included)."""
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": req.method,
            "scheme": "http",
            "path": unquote(req.path),
            "raw_path": req.path.encode("ascii"),
            "root_path": "",
            "query_string": req.query.encode("ascii"),
            "headers": [(b"host", b"cascade.test"), *req.headers],
            "client": ("127.0.0.1", 40000),
            "server": ("cascade.test", 80),
        }
        chunks = [req.body]
        status = 0
        out: list[bytes] = []

        async def receive() -> dict[str, Any]:
            if chunks:
                return {"type": "http.request", "body": chunks.pop(), "more_body": False}
            return {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                out.append(message.get("body", b""))

        self.sent += 1
        try:
            await self.app(scope, receive, send)
        except Exception as exc:  # what the suite is looking for
            self.statuses.append(status or 500)
            return Answer(status or 500, b"".join(out), exc, _where(exc))
        self.statuses.append(status)
        return Answer(status, b"".join(out))

    def take_pods_down(self) -> None:
        """Every fake pod refuses connections from now on."""
        for nova in self.pods.novas.values():
            nova.down = True
        for cinder in self.pods.cinders.values():
            cinder.down = True
        self.down = True

    async def snapshot(self) -> Snapshot:
        """Row counts of every table at the top, and the fake pods' stores."""
        tables = Base.metadata.sorted_tables
        counts = [select(func.count()).select_from(t).scalar_subquery() for t in tables]
        async with self.app.state.engine.connect() as conn:
            row = (await conn.execute(select(*counts))).one()
        return self.pods.stores(), tuple(row)

    async def check(self, req: FuzzRequest) -> Failure | None:
        """Send `req`; the failure of one of the three checks, if any."""
        before = await self.snapshot()
        answer = await self.call(req)
        service = req.endpoint.service
        if answer.error is not None:
            name = type(answer.error).__name__
            cause = f"{name} at {answer.where}"
            detail = "".join(traceback.format_exception(answer.error)[-6:])
            return Failure(cause, req, detail, expected_for_now(name, req.labels))
        if (
            answer.status >= 500
            and not _not_served(service, answer)
            and not (self.down and _names_a_pod(answer))
        ):
            cause = f"{answer.status} in {req.endpoint}"
            body = answer.body[:400].decode("utf-8", "replace")
            return Failure(cause, req, body, expected_for_now("5xx", req.labels))
        wrong = error_format(service, answer.status, answer.body)
        if wrong is not None:
            cause = f"{service} {answer.status} format in {req.endpoint}"
            return Failure(cause, req, wrong, expected_for_now("format", req.labels))
        if 400 <= answer.status < 500:
            what = _created(before, await self.snapshot())
            if what:
                cause = f"{answer.status} left {what} in {req.endpoint}"
                body = answer.body[:300].decode("utf-8", "replace")
                return Failure(cause, req, body, expected_for_now("changed", req.labels))
        return None


Snapshot = tuple[frozenset[str], tuple[int, ...]]


def _created(before: Snapshot, after: Snapshot) -> str:
    """What `after` holds more than `before`: rows of a table, objects in a pod. (Fewer is
    not a leftover: a pod's 404 for a routed object rightly removes its routing.)"""
    names = [t.name for t in Base.metadata.sorted_tables]
    rows = [f"{n} {a}->{b}" for n, a, b in zip(names, before[1], after[1], strict=True) if b > a]
    return ", ".join(rows + sorted(after[0] - before[0]))


def _names_a_pod(answer: Answer) -> bool:
    """A 503 that says which pod cannot be reached (acceptable only while they are down)."""
    return answer.status == 503 and re.search(rb"pod[12]\b", answer.body) is not None


def _not_served(service: str, answer: Answer) -> bool:
    """Cascade's own 501 for a path of the Compute or Block Storage API it does not serve
    yet: a deliberate answer in the service's format, not a failure."""
    if answer.status != 501 or service not in ("compute", "volume"):
        return False
    try:
        doc = json.loads(answer.body)
    except ValueError:
        return False
    return isinstance(doc, dict) and "notImplemented" in doc


def _where(exc: BaseException) -> str:
    """The innermost frame in cascade/ of the exception's traceback (or the last frame)."""
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if "/cascade/" in f.filename] or frames
    if not mine:
        return "?"
    last = mine[-1]
    path = last.filename[last.filename.rfind("/cascade/") + 1 :]
    return f"{path}:{last.lineno}"


async def build(tmp_path: Path) -> Harness:
    """The application over the two fake pods, as the unit fixtures make it."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'cascade.sqlite'}"
    await upgrade(url)
    conf = Conf(
        database=DatabaseSection(connection=url),
        keystone=KeystoneSection(auth_url="http://keystone.test/v3", password="x"),
    )
    conf = dataclasses.replace(conf, api=dataclasses.replace(conf.api, max_body_bytes=4096))
    keystone, pods = Keystone(), Pods()
    app = create_app(
        conf,
        keystone_transport=httpx.MockTransport(keystone),
        pod_transport=httpx.MockTransport(pods),
    )
    harness = Harness(app, keystone, pods)
    await populate(harness)
    return harness


async def close(harness: Harness) -> None:
    await harness.app.state.registry.aclose()
    await harness.app.state.engine.dispose()


async def populate(h: Harness) -> None:
    """Two pods and one object of each kind (where the fakes let Cascade make it); their
    ids in `h.world`, by slot (see catalogue.slot)."""
    transport = httpx.ASGITransport(app=h.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cascade.test") as c:
        h.keystone.catalog = h.pods.catalog()
        world = h.world
        world["pod_id"] = [
            await add_pod(c, "pod1", "az1", pod_az="nova-a"),
            await add_pod(c, "pod2", "az2", pod_az="nova-b"),
        ]

        async def make(
            path: str, body: Any, key: str, slot: str, *, admin: bool = False, version: str = ""
        ) -> Any:
            headers = {**(ADMIN if admin else MEMBER)}
            if version:
                headers["OpenStack-API-Version"] = version
            answer = await c.post(path, json=body, headers=headers)
            if answer.status_code >= 300:
                return None
            made = answer.json()
            made = made.get(key, made) if isinstance(made, dict) else made
            ident = made.get("id") or made.get("name") if isinstance(made, dict) else None
            if ident is not None:
                world.setdefault(slot, []).append(str(ident))
            return made

        compute, volume, net = "/compute/v2.1", "/volume/v3/p1", "/networking/v2.0"
        await make(
            f"{compute}/flavors",
            {"flavor": {"name": "m1", "ram": 64, "vcpus": 1, "disk": 1, "id": "1"}},
            "flavor",
            "flavor_id",
            admin=True,
        )
        await make(
            f"{compute}/os-keypairs",
            {"keypair": {"name": "kp1", "public_key": SSH_KEY}},
            "keypair",
            "name",
        )
        await make(
            f"{compute}/os-server-groups",
            {"server_group": {"name": "g1", "policies": ["affinity"]}},
            "server_group",
            "group_id",
        )
        await make(
            f"{compute}/servers",
            {"server": {"name": "s1", "flavorRef": "1", "networks": "none"}},
            "server",
            "server_id",
        )
        await make(
            f"{compute}/os-aggregates",
            {"aggregate": {"name": "ag1", "availability_zone": "az1"}},
            "aggregate",
            "aggregate_id",
            admin=True,
        )
        await make(f"{volume}/volumes", {"volume": {"size": 1, "name": "v1"}}, "volume", "volumes")
        await make(
            f"{volume}/types",
            {"volume_type": {"name": "gold"}},
            "volume_type",
            "type_id",
            admin=True,
        )
        await make(
            f"{volume}/group_types",
            {"group_type": {"name": "gt"}},
            "group_type",
            "type_id",
            admin=True,
            version="volume 3.11",
        )
        await make(
            f"{volume}/qos-specs", {"qos_specs": {"name": "q1"}}, "qos_specs", "qos_id", admin=True
        )
        network = await make(f"{net}/networks", {"network": {"name": "n1"}}, "network", "networks")
        if network:
            subnet = await make(
                f"{net}/subnets",
                {"subnet": {"network_id": network["id"], "cidr": "10.1.0.0/24", "ip_version": 4}},
                "subnet",
                "subnets",
            )
            await make(f"{net}/ports", {"port": {"network_id": network["id"]}}, "port", "ports")
            router = await make(f"{net}/routers", {"router": {"name": "r1"}}, "router", "routers")
            if router:
                world["router_id"] = [router["id"]]
                if subnet:
                    await c.put(
                        f"{net}/routers/{router['id']}/add_router_interface",
                        json={"subnet_id": subnet["id"]},
                        headers=MEMBER,
                    )
        public = await make(
            f"{net}/networks",
            {"network": {"name": "public", "router:external": True}},
            "network",
            "networks",
            admin=True,
        )
        if public:
            await make(
                f"{net}/subnets",
                {"subnet": {"network_id": public["id"], "cidr": "172.24.4.0/24", "ip_version": 4}},
                "subnet",
                "subnets",
                admin=True,
            )
            await make(
                f"{net}/floatingips",
                {"floatingip": {"floating_network_id": public["id"]}},
                "floatingip",
                "floatingips",
            )
        group = await make(
            f"{net}/security-groups",
            {"security_group": {"name": "sg1"}},
            "security_group",
            "security-groups",
        )
        if group:
            await make(
                f"{net}/security-group-rules",
                {"security_group_rule": {"security_group_id": group["id"], "direction": "ingress"}},
                "security_group_rule",
                "security-group-rules",
            )
        await make(
            "/v1/bindings",
            {"binding": {"project_id": "p2", "az": "az2"}},
            "binding",
            "binding_id",
            admin=True,
        )
        for kind, slot in (("routings", "routing_id"), ("jobs", "job_id")):
            listed = (await c.get(f"/v1/{kind}", headers=ADMIN)).json().get(kind, [])
            world[slot] = [str(item["id"]) for item in listed[:3]]
        world["project_id"] = ["p1", "p2"]
        world["class_name"] = ["default"]
        world["alias"] = ["security-group", "quotas"]
        world["action"] = ["add_router_interface", "remove_router_interface", "enable", "disable"]
        world["key"] = ["hw:cpu_policy", "k"]
        world["tag"] = ["t1"]
        world["host"] = ["c1-volume@fake"]

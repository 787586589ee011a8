"""`devcloud fuzz --requests N`: the property suite's requests against the devcloud's
cascade-api (port base + 80), as the demo, alt_demo and admin users.

The same generator as the in-process suite (`tests/unit/fuzz/generate.py`) over the
same route catalogue (read from cascade's application), seeded: the parameters are
filled with the ids the demo user and the admin can list (servers, volumes, networks,
...) or hostile strings. Prints the counts by status class and every 5xx (method,
path, body excerpt, answer). Issue 11 asks for 0 answers of 500 from Cascade over at
least 10,000 requests.

The plan (which requests) and the summary (what came back) are pure functions,
tested in tests/unit/test_fuzz_routes.py; only `run` talks to the devcloud.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpcore
import httpx

CHECKOUT = Path(__file__).resolve().parent.parent
if str(CHECKOUT) not in sys.path:  # the generator lives beside the suite it serves
    sys.path.insert(0, str(CHECKOUT))

from cascade.app import create_app  # noqa: E402
from cascade.conf import Conf, DatabaseSection, KeystoneSection  # noqa: E402
from devcloud.layout import Layout  # noqa: E402
from devcloud.rest import Rest  # noqa: E402
from tests.unit.fuzz.catalogue import Endpoint, endpoints  # noqa: E402
from tests.unit.fuzz.checks import error_format, status_class, tally  # noqa: E402
from tests.unit.fuzz.generate import FuzzRequest, World, request  # noqa: E402

# what the top can list to fill the parameters: slot -> (path, list key, id field)
LISTS: dict[str, tuple[str, str, str]] = {
    "server_id": ("/compute/v2.1/servers", "servers", "id"),
    "flavor_id": ("/compute/v2.1/flavors", "flavors", "id"),
    "name": ("/compute/v2.1/os-keypairs", "keypairs", "name"),
    "group_id": ("/compute/v2.1/os-server-groups", "server_groups", "id"),
    "aggregate_id": ("/compute/v2.1/os-aggregates", "aggregates", "id"),
    "volumes": ("/volume/v3/volumes", "volumes", "id"),
    "snapshots": ("/volume/v3/snapshots", "snapshots", "id"),
    "backups": ("/volume/v3/backups", "backups", "id"),
    "type_id": ("/volume/v3/types", "volume_types", "id"),
    "qos_id": ("/volume/v3/qos-specs", "qos_specs", "id"),
    "transfer_id": ("/volume/v3/volume-transfers", "transfers", "id"),
    "networks": ("/networking/v2.0/networks", "networks", "id"),
    "subnets": ("/networking/v2.0/subnets", "subnets", "id"),
    "ports": ("/networking/v2.0/ports", "ports", "id"),
    "security-groups": ("/networking/v2.0/security-groups", "security_groups", "id"),
    "security-group-rules": (
        "/networking/v2.0/security-group-rules",
        "security_group_rules",
        "id",
    ),
    "routers": ("/networking/v2.0/routers", "routers", "id"),
    "floatingips": ("/networking/v2.0/floatingips", "floatingips", "id"),
    "pod_id": ("/v1/pods", "pods", "id"),
    "binding_id": ("/v1/bindings", "bindings", "id"),
    "routing_id": ("/v1/routings", "routings", "id"),
    "job_id": ("/v1/jobs", "jobs", "id"),
}
PER_SLOT = 3  # ids kept per slot


@dataclass(frozen=True)
class Outcome:
    request: FuzzRequest
    status: int  # 0: no answer (the error in `answer`)
    answer: str


def catalogue() -> list[Endpoint]:
    """Every route of cascade-api (an application built only to read its routes)."""
    conf = Conf(
        database=DatabaseSection(connection="sqlite+aiosqlite:///:memory:"),
        keystone=KeystoneSection(auth_url="http://keystone.invalid/v3", password="x"),
    )
    return endpoints(create_app(conf).routes)


def world_from(listed: Mapping[str, Sequence[object]]) -> dict[str, list[str]]:
    """The parameters' real ids from the lists' items (slot -> items of LISTS' shape)."""
    world: dict[str, list[str]] = {}
    for slot, items in listed.items():
        field = LISTS[slot][2]
        ids = [str(i[field]) for i in items if isinstance(i, dict) and i.get(field)]
        if ids:
            world[slot] = ids[:PER_SLOT]
    world.setdefault("router_id", world.get("routers", []))
    return world


def plan(
    routes: Sequence[Endpoint],
    world: World,
    tokens: Sequence[str],
    count: int,
    seed: int,
    readonly: frozenset[str] = frozenset(),
) -> list[FuzzRequest]:
    """`count` requests, the routes taken in turn (each as often as the others). A token
    in `readonly` (the admin's, against the devcloud) is sent only with GET; a request
    that would change something with it goes with the first token instead: the admin may
    delete the devcloud's pods, external networks and flavors, which the run must leave
    standing (the in-process suite sends the admin's odd changes to a world of its own)."""
    rng = random.Random(seed)
    made = [request(rng, routes[n % len(routes)], world, tokens) for n in range(count)]
    return [_without(req, readonly, tokens[0]) for req in made]


def _without(req: FuzzRequest, readonly: frozenset[str], instead: str) -> FuzzRequest:
    if req.method == "GET":
        return req
    swap = {token.encode() for token in readonly}
    headers = tuple(
        (name, instead.encode() if name == b"x-auth-token" and value in swap else value)
        for name, value in req.headers
    )
    return dataclasses.replace(req, headers=headers)


def summary(outcomes: Sequence[Outcome]) -> str:
    """Counts by status class, then every 5xx and every answer without an answer (status
    0), and the 4xx not in their service's error format."""
    counts = tally(o.status for o in outcomes)
    lines = [
        f"{len(outcomes)} requests: "
        + ", ".join(f"{k} {v}" for k, v in counts.items() if k != "0xx")
        + (f", no answer {counts['0xx']}" if "0xx" in counts else "")
    ]
    bad = [o for o in outcomes if o.status >= 500 or o.status == 0]
    lines.append(f"{len(bad)} answers of 5xx or none:")
    for o in bad:
        r = o.request
        lines.append(
            f"  {o.status or 'none'} {r.method} {r.target[:300]}\n"
            f"      body: {r.excerpt(160)!r}\n      answer: {o.answer[:300]!r}"
        )
    formats = [
        (o, why)
        for o in outcomes
        if (why := error_format(o.request.endpoint.service, o.status, o.answer.encode()))
    ]
    lines.append(f"{len(formats)} refusals not in their service's error format:")
    for o, why in formats[:50]:
        lines.append(f"  {o.status} {o.request.method} {o.request.target[:200]}: {why}")
    return "\n".join(lines)


async def _tokens(layout: Layout) -> dict[str, Rest]:
    users = {"demo": "demo", "alt_demo": "alt_demo", "admin": "admin"}
    found: dict[str, Rest] = {}
    for user, project in users.items():
        rest = Rest(layout.auth_url, user, project)
        await rest.__aenter__()
        found[user] = rest
    return found


async def _listed(http: httpx.AsyncClient, demo: str, admin: str) -> dict[str, list[object]]:
    listed: dict[str, list[object]] = {}
    for slot, (path, key, _) in LISTS.items():
        token = admin if path.startswith("/v1") or "aggregates" in path else demo
        resp = await http.get(path, headers={"X-Auth-Token": token})
        if resp.status_code == 200:
            items = resp.json().get(key, [])
            listed[slot] = list(items) if isinstance(items, list) else []
    return listed


async def _send(pool: httpcore.AsyncConnectionPool, root: httpx.URL, req: FuzzRequest) -> Outcome:
    """The request exactly as generated: httpcore, since httpx would remove its dot
    segments; a request the client itself will not send (a control character in a
    header) or that gets no answer is status 0."""
    url = httpcore.URL(
        scheme=b"http", host=root.host.encode(), port=root.port, target=req.target.encode()
    )
    host = f"{root.host}:{root.port}".encode()
    try:
        resp = await pool.request(
            req.method.encode(),
            url,
            headers=[(b"host", host), *req.headers],
            content=req.body,
            extensions={"timeout": {"connect": 10.0, "read": 120.0, "write": 30.0}},
        )
    except httpcore.LocalProtocolError as exc:
        return Outcome(req, 0, f"not sent by the client: {exc}")
    except (httpcore.ProtocolError, httpcore.NetworkError, httpcore.TimeoutException) as exc:
        return Outcome(req, 0, f"{type(exc).__name__}: {exc}")
    return Outcome(req, resp.status, resp.content.decode("utf-8", "replace"))


async def run(layout: Layout, count: int, seed: int = 1, concurrency: int = 4) -> str:
    """Send the plan to the devcloud's cascade-api; the summary."""
    users = await _tokens(layout)
    try:
        tokens = {name: rest.token for name, rest in users.items()}
        async with httpx.AsyncClient(base_url=layout.url("cascade"), timeout=120.0) as http:
            world = world_from(await _listed(http, tokens["demo"], tokens["admin"]))
            world |= {"project_id": [users["demo"].project_id, users["alt_demo"].project_id]}
            admin = frozenset({tokens["admin"]})
            requests = plan(catalogue(), world, list(tokens.values()), count, seed, admin)
            gate = asyncio.Semaphore(concurrency)
            async with httpcore.AsyncConnectionPool(max_connections=concurrency) as pool:

                async def one(req: FuzzRequest) -> Outcome:
                    async with gate:
                        return await _send(pool, http.base_url, req)

                outcomes = await asyncio.gather(*(one(r) for r in requests))
    finally:
        for rest in users.values():
            await rest.__aexit__(None, None, None)
    return summary(outcomes)


__all__ = ["Outcome", "catalogue", "plan", "run", "status_class", "summary", "world_from"]

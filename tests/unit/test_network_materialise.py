"""What the pods get for a security group: rules with remote groups expanded."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from cascade.db.engine import now
from cascade.db.models import Pod, Routing
from cascade.pods.network import PodNetworkRefused, PodNeutron
from cascade.services import copies, routings
from cascade.services.network import materialise, store
from cascade.services.network.materialise import NETWORK, desired_rules


def rule(group: str, **body: Any) -> dict[str, Any]:
    base = {
        "security_group_id": group,
        "direction": "ingress",
        "ethertype": "IPv4",
        "protocol": None,
        "port_range_min": None,
        "port_range_max": None,
        "remote_ip_prefix": None,
        "remote_group_id": None,
    }
    return {**base, **body}


async def test_remote_groups_become_member_addresses(app: Starlette) -> None:
    async with app.state.sessions() as db:
        web = store.add(db, store.SECURITY_GROUP, "p1", {"name": "web"})
        db_group = store.add(db, store.SECURITY_GROUP, "p1", {"name": "db"})
        await db.flush()
        for body in (
            rule(
                db_group.id,
                protocol="tcp",
                port_range_min=5432,
                port_range_max=5432,
                remote_group_id=web.id,
            ),
            rule(db_group.id, ethertype="IPv6", remote_group_id=web.id),
            rule(db_group.id, direction="egress"),
        ):
            store.add(db, store.SECURITY_GROUP_RULE, "p1", body, parent_id=db_group.id)
        for addresses in (["10.0.0.5", "fd00::5"], ["10.0.1.7"]):
            ips = [{"subnet_id": "s", "ip_address": a} for a in addresses]
            store.add(db, store.PORT, "p1", {"security_groups": [web.id], "fixed_ips": ips})
        store.add(
            db,
            store.PORT,
            "p1",
            {
                "security_groups": [db_group.id],
                "fixed_ips": [{"subnet_id": "s", "ip_address": "10.9.9.9"}],
            },
        )
        await db.commit()
        got = await desired_rules(db, db_group)
    keys = sorted(
        (r["direction"], r["ethertype"], r["protocol"], r["remote_ip_prefix"]) for r in got
    )
    assert keys == [
        ("egress", "IPv4", None, None),
        ("ingress", "IPv4", "tcp", "10.0.0.5/32"),
        ("ingress", "IPv4", "tcp", "10.0.1.7/32"),
        ("ingress", "IPv6", None, "fd00::5/128"),
    ]
    assert all("remote_group_id" not in r for r in got)  # pods never see top group ids


async def test_a_remote_group_without_members_allows_nothing(app: Starlette) -> None:
    async with app.state.sessions() as db:
        lonely = store.add(db, store.SECURITY_GROUP, "p1", {"name": "lonely"})
        await db.flush()
        store.add(
            db,
            store.SECURITY_GROUP_RULE,
            "p1",
            rule(lonely.id, remote_group_id=lonely.id),
            parent_id=lonely.id,
        )
        await db.commit()
        assert await desired_rules(db, lonely) == []


# --- bottom objects as copies: claimed by one request, found by name, adopted ---------


@dataclasses.dataclass(frozen=True)
class FakeNeutron(PodNeutron):
    """A pod's Neutron that answers from `named` (lookups) and `answer` (creates)."""

    named_ids: list[str] = dataclasses.field(default_factory=list)
    answer: int = 201
    calls: list[tuple[str, str, Any]] = dataclasses.field(default_factory=list)

    async def call(
        self, method: str, path: str, *, json: Any = None, params: Any = None
    ) -> httpx.Response:
        self.calls.append((method, path, json if method == "POST" else params))
        await asyncio.sleep(0.01)
        if method == "GET":
            return httpx.Response(200, json={"networks": [{"id": i} for i in self.named_ids]})
        if self.answer != 201:
            return httpx.Response(self.answer, json={"NeutronError": {"message": "no"}})
        return httpx.Response(201, json={"network": {"id": f"b-{len(self.calls)}"}})


async def _neutron(app: Starlette, **fields: Any) -> FakeNeutron:
    async with app.state.sessions() as db:
        pod = Pod(id="pod-a", name="a", region_name="r", az="az1", pod_az="nova", created_at=now())
        db.add(pod)
        await db.commit()
    return FakeNeutron(app.state.registry, pod, **fields)


async def _routing(app: Starlette, top_id: str) -> Routing:
    async with app.state.sessions() as db:
        found = await routings.find(db, NETWORK, top_id, "pod-a")
    assert found is not None
    return found


async def test_a_copy_is_made_once_and_routed_with_its_project(app: Starlette) -> None:
    neutron = await _neutron(app)
    async with app.state.sessions() as db:
        made = await materialise.ensure(db, neutron, NETWORK, "t1", "p1", {"name": "t1"})
        again = await materialise.ensure(db, neutron, NETWORK, "t1", "p1", {"name": "t1"})
    assert made == again == "b-2"
    assert neutron.calls == [
        ("GET", "/networks", {"name": "t1"}),
        ("POST", "/networks", {"network": {"name": "t1"}}),
    ]
    routing = await _routing(app, "t1")
    assert (routing.bottom_id, routing.status, routing.project_id) == ("b-2", "active", "p1")


async def test_a_copy_found_by_name_or_given_is_adopted(app: Starlette) -> None:
    neutron = await _neutron(app, named_ids=["left"])
    async with app.state.sessions() as db:
        assert await materialise.ensure(db, neutron, NETWORK, "t1", "p1", {}) == "left"
        assert await materialise.ensure(db, neutron, NETWORK, "t2", "p1", {}, adopt="x") == "x"
    assert neutron.calls == [("GET", "/networks", {"name": "t1"})]


async def test_concurrent_requests_make_one_copy(app: Starlette) -> None:
    neutron = await _neutron(app)

    async def one() -> str:
        async with app.state.sessions() as db:
            return await materialise.ensure(db, neutron, NETWORK, "t1", "p1", {})

    assert list(await asyncio.gather(one(), one(), one())) == ["b-2"] * 3
    assert [c[0] for c in neutron.calls] == ["GET", "POST"]


async def test_a_claim_its_maker_left_is_taken_over(app: Starlette) -> None:
    neutron = await _neutron(app)
    async with app.state.sessions() as db:
        await routings.record_intent(db, NETWORK, "t1", "pod-a", "p1")
        routing = await copies.reread(db, NETWORK, "t1", "pod-a")
        assert routing is not None
        routing.created_at = now() - timedelta(seconds=copies.WAIT_SECONDS + 1)
        await db.commit()
        assert await materialise.ensure(db, neutron, NETWORK, "t1", "p1", {}) == "b-2"
    assert (await _routing(app, "t1")).status == "active"


async def test_a_refused_create_is_the_pods_refusal(app: Starlette) -> None:
    neutron = await _neutron(app, answer=409)
    async with app.state.sessions() as db:
        with pytest.raises(PodNetworkRefused, match="409 for a network copy: no"):
            await materialise.ensure(db, neutron, NETWORK, "t1", "p1", {})
    assert (await _routing(app, "t1")).status == "creating"


@dataclasses.dataclass(frozen=True)
class RulesNeutron(PodNeutron):
    """A pod's rules of one bottom group, created in bulk as Neutron does: all or none,
    409 when one of them exists already."""

    rules: dict[tuple[Any, ...], str] = dataclasses.field(default_factory=dict)

    async def call(
        self, method: str, path: str, *, json: Any = None, params: Any = None
    ) -> httpx.Response:
        await asyncio.sleep(0.01)  # concurrent syncs interleave here
        if method == "GET":
            listed = [
                {**dict(zip(materialise.RULE_KEYS, k, strict=True)), "id": i}
                for k, i in self.rules.items()
            ]
            return httpx.Response(200, json={"security_group_rules": listed})
        keys = [materialise.rule_key(r) for r in json["security_group_rules"]]
        if any(k in self.rules for k in keys):
            return httpx.Response(409, json={"NeutronError": {"message": "Rule exists"}})
        for key in keys:
            self.rules[key] = f"r-{len(self.rules)}"
        return httpx.Response(201, json={"security_group_rules": []})


async def test_concurrent_syncs_of_a_group_make_each_rule_once(app: Starlette) -> None:
    """A job and the first servers of a group in a pod sync its rules at once: the one
    that finds a rule made by another looks again instead of failing the server create."""
    pod = Pod(id="pod-r", name="r", region_name="r", az="az1", pod_az="nova", created_at=now())
    neutron = RulesNeutron(app.state.registry, pod)
    async with app.state.sessions() as db:
        group = store.add(db, store.SECURITY_GROUP, "p1", {"name": "web"})
        await db.flush()
        for port in (22, 80):
            body = rule(group.id, protocol="tcp", port_range_min=port, port_range_max=port)
            store.add(db, store.SECURITY_GROUP_RULE, "p1", body, parent_id=group.id)
        await db.commit()

    async def sync() -> None:
        async with app.state.sessions() as db:
            top = await store.get(db, store.SECURITY_GROUP, group.id)
            assert top is not None
            await materialise.sync_rules(db, neutron, top, "b-group")

    await asyncio.gather(sync(), sync(), sync())
    assert sorted(k[3] for k in neutron.rules) == [22, 80]


@dataclasses.dataclass(frozen=True)
class BareNeutron(PodNeutron):
    """A pod's Neutron with no network at all: lookups find nothing, creates succeed."""

    calls: list[tuple[str, str, Any]] = dataclasses.field(default_factory=list)

    async def call(
        self, method: str, path: str, *, json: Any = None, params: Any = None
    ) -> httpx.Response:
        self.calls.append((method, path, json if method == "POST" else params))
        key = path.strip("/").split("/")[0]
        if method == "GET":
            return httpx.Response(200, json={key: []})
        return httpx.Response(201, json={key[:-1]: {"id": f"b-{len(self.calls)}"}})


async def test_an_external_network_a_pod_lacks_is_made_there(app: Starlette) -> None:
    """A top external network (flat, on the external physical network, one AZ) whose pod
    has no external network of its own: made there, named after the top id (so it is
    found again, and deleted with the top network), with the top subnet's pools."""
    pod = (await _neutron(app)).pod
    neutron = BareNeutron(app.state.registry, pod)
    body = {
        "name": "ext",
        "router:external": True,
        "provider:network_type": "flat",
        "provider:physical_network": "external",
        "_home_pod": pod.id,
    }
    async with app.state.sessions() as db:
        network = store.add(db, store.NETWORK, "admin", body)
        store.add(
            db,
            store.SUBNET,
            "admin",
            {
                "cidr": "203.0.113.0/24",
                "ip_version": 4,
                "gateway_ip": "203.0.113.1",
                "allocation_pools": [{"start": "203.0.113.10", "end": "203.0.113.20"}],
            },
            parent_id=network.id,
        )
        await db.commit()
        b_net, b_subnets = await materialise.ensure_network(db, neutron, network, {})
    posts = [(path, sent) for method, path, sent in neutron.calls if method == "POST"]
    assert [path for path, _ in posts] == ["/networks", "/subnets"]
    made = posts[0][1]["network"]
    assert (made["name"], made["router:external"], made["provider:network_type"]) == (
        network.id,
        True,
        "flat",
    )
    assert posts[1][1]["subnet"]["allocation_pools"] == [
        {"start": "203.0.113.10", "end": "203.0.113.20"}
    ]
    assert b_net == "b-3" and len(b_subnets) == 1

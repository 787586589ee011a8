"""A router's plan across pods: the routes each bottom router gets (pure functions)."""

from __future__ import annotations

from typing import Any

import pytest

from cascade.conf import NetworkSection
from cascade.db.models import NetResource
from cascade.services.network import bridges, router_plan
from cascade.services.network.errors import Conflict
from cascade.services.network.router_plan import Plan


def _row(kind: str, body: dict[str, Any], row_id: str = "") -> NetResource:
    return NetResource(id=row_id or kind, kind=kind, project_id="p", body=body)


def _plan(
    subnets: dict[str, tuple[str, str]],
    gateway_pod: str | None,
    routes: list[dict[str, str]] | None = None,
    shadows: list[str] | None = None,
) -> Plan:
    """A plan from {subnet id: (cidr, anchor pod)}."""
    router = _row("router", {"routes": routes or []})
    network = _row("network", {})
    by_id = {s: (_row("subnet", {"cidr": c}, s), network, pod) for s, (c, pod) in subnets.items()}
    span = sorted({pod for _, pod in subnets.values()} | ({gateway_pod} if gateway_pod else set()))
    return Plan(router, gateway_pod, gateway_pod, {}, {}, by_id, shadows or [], span)


BRIDGE = {"pod1": "100.64.0.1", "pod2": "100.64.0.2", "pod3": "100.64.0.3"}


def test_each_pod_routes_to_the_subnets_anchored_elsewhere_and_to_the_gateway() -> None:
    plan = _plan(
        {
            "vlan": ("10.1.0.0/24", "pod1"),
            "l2": ("10.2.0.0/24", "pod2"),
            "l3": ("10.3.0.0/24", "pod3"),
        },
        "pod1",
    )
    assert plan.bridged
    assert plan.routes("pod1", BRIDGE) == [
        {"destination": "10.2.0.0/24", "nexthop": "100.64.0.2"},
        {"destination": "10.3.0.0/24", "nexthop": "100.64.0.3"},
    ]
    assert plan.routes("pod2", BRIDGE) == [
        {"destination": "10.1.0.0/24", "nexthop": "100.64.0.1"},
        {"destination": "10.3.0.0/24", "nexthop": "100.64.0.3"},
        {"destination": "0.0.0.0/0", "nexthop": "100.64.0.1"},
    ]


def test_one_pod_needs_no_bridge_and_no_route_of_its_own() -> None:
    plan = _plan({"a": ("10.1.0.0/24", "pod1"), "b": ("10.2.0.0/24", "pod1")}, "pod1")
    assert not plan.bridged
    assert plan.routes("pod1", {}) == []


def test_a_shadowed_subnet_is_routed_in_halves_in_the_gateways_pod() -> None:
    # the gateway's pod holds a disconnected copy of pod2's subnet for a floating IP:
    # two more specific routes win over the copy's connected route
    plan = _plan({"l2": ("10.2.0.0/24", "pod2")}, "pod1", shadows=["l2"])
    assert plan.routes("pod1", BRIDGE) == [
        {"destination": "10.2.0.0/25", "nexthop": "100.64.0.2"},
        {"destination": "10.2.0.128/25", "nexthop": "100.64.0.2"},
    ]
    assert plan.routes("pod2", BRIDGE) == [{"destination": "0.0.0.0/0", "nexthop": "100.64.0.1"}]


def test_the_tenants_routes_reach_their_nexthop_over_the_bridge() -> None:
    tenant = [
        {"destination": "192.168.0.0/16", "nexthop": "10.2.0.5"},
        {"destination": "0.0.0.0/0", "nexthop": "10.1.0.9"},
    ]
    plan = _plan({"vlan": ("10.1.0.0/24", "pod1"), "l2": ("10.2.0.0/24", "pod2")}, "pod1", tenant)
    assert plan.routes("pod2", BRIDGE) == [
        {"destination": "192.168.0.0/16", "nexthop": "10.2.0.5"},
        # the tenant's default route (in pod1) is reached via pod1's bridge address; it
        # replaces the one to the gateway's pod
        {"destination": "0.0.0.0/0", "nexthop": "100.64.0.1"},
        {"destination": "10.1.0.0/24", "nexthop": "100.64.0.1"},
    ]
    assert plan.routes("pod1", BRIDGE) == [
        {"destination": "192.168.0.0/16", "nexthop": "100.64.0.2"},
        {"destination": "0.0.0.0/0", "nexthop": "10.1.0.9"},
        {"destination": "10.2.0.0/24", "nexthop": "100.64.0.2"},
    ]


def test_ipv6_subnets_get_no_route_across_pods() -> None:
    plan = _plan({"v6": ("2001:db8::/64", "pod2"), "l1": ("10.1.0.0/24", "pod1")}, "pod1")
    assert plan.routes("pod1", BRIDGE) == []


def test_halves() -> None:
    assert router_plan.halves("10.0.0.0/24") == ["10.0.0.0/25", "10.0.0.128/25"]
    assert router_plan.halves("10.0.0.1/32") == ["10.0.0.1/32"]


def test_the_bridge_subnet_avoids_the_routers_own() -> None:
    conf = NetworkSection(bridge_cidr="100.64.0.0/22", bridge_prefixlen=24)
    assert bridges.choose_cidr(conf, ["10.0.0.0/24"]) == "100.64.0.0/24"
    assert bridges.choose_cidr(conf, ["100.64.0.0/23", "2001:db8::/64"]) == "100.64.2.0/24"
    with pytest.raises(Conflict):
        bridges.choose_cidr(conf, ["100.64.0.0/16"])


def test_shadow_ids_are_stable_per_router_and_subnet() -> None:
    one = router_plan.shadow_interface_id("r", "s")
    assert one == router_plan.shadow_interface_id("r", "s")
    assert one != router_plan.shadow_interface_id("r", "t")

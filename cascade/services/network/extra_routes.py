"""A router's extra routes (extension `extraroute`), checked as Neutron checks them.

Routes are set by PUT on the router (`{"router": {"routes": [...]}}`, never on
POST); each needs a nexthop on a subnet the router is attached to (an interface
or its gateway) that is not one of the router's own addresses. An interface
whose subnet holds a route's nexthop cannot be removed while the route stays.
The router's pod gets the same routes with its copy (`router.build`): the
addresses are the top's, so the nexthops mean the same there.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from cascade.services.network import attrs
from cascade.services.network.errors import BadRequest, Conflict

MAX_ROUTES = 30  # Neutron's [DEFAULT] max_routes


def parse(raw: Any) -> list[dict[str, str]]:
    """The routes as Neutron stores them, or its 400 for a bad or duplicate entry."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise attrs.AttrInvalid("routes", f"Invalid data format for hostroute: '{raw}'")
    out: list[dict[str, str]] = []
    for route in raw:
        if not isinstance(route, dict) or set(route) != {"destination", "nexthop"}:
            raise attrs.AttrInvalid("routes", f"Invalid data format for hostroute: '{route}'")
        try:
            destination = ipaddress.ip_network(str(route["destination"]), strict=False)
            nexthop = ipaddress.ip_address(str(route["nexthop"]))
        except ValueError:
            raise attrs.AttrInvalid(
                "routes", f"Invalid data format for hostroute: '{route}'"
            ) from None
        canonical = {"destination": str(destination), "nexthop": str(nexthop)}
        if canonical in out:
            raise attrs.AttrInvalid("routes", f"Duplicate hostroute '{route}'")
        out.append(canonical)
    return out


def check(
    routes: list[dict[str, str]], router_id: str, cidrs: list[str], own_ips: list[str]
) -> None:
    """Neutron's `_validate_routes`: 400 InvalidRoutes for a nexthop the router is not
    connected to or that is one of its own addresses, 400 RoutesExhausted past the limit."""
    if len(routes) > MAX_ROUTES:
        raise BadRequest(
            f"Unable to complete operation for {router_id}. The number of routes exceeds the "
            f"maximum {MAX_ROUTES}.",
            type="RoutesExhausted",
        )
    networks = [ipaddress.ip_network(c, strict=False) for c in cidrs]
    for route in routes:
        hop = ipaddress.ip_address(route["nexthop"])
        if not any(hop.version == n.version and hop in n for n in networks):
            raise _invalid(routes, "the nexthop is not connected with router")
        if route["nexthop"] in own_ips:
            raise _invalid(routes, "the nexthop is used by router")


def in_use(routes: list[dict[str, str]], cidr: str, router_id: str, subnet_id: str) -> None:
    """409 RouterInterfaceInUseByRoute when a route's nexthop is on `cidr` (the subnet of
    an interface about to go)."""
    network = ipaddress.ip_network(cidr, strict=False)
    for route in routes:
        hop = ipaddress.ip_address(route["nexthop"])
        if hop.version == network.version and hop in network:
            raise Conflict(
                f"Router interface for subnet {subnet_id} on router {router_id} cannot be "
                "deleted, as it is required by one or more routes.",
                type="RouterInterfaceInUseByRoute",
            )


def _invalid(routes: list[dict[str, str]], reason: str) -> BadRequest:
    return BadRequest(f"Invalid format for routes: {routes}, {reason}", type="InvalidRoutes")

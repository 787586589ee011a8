"""Central IP address management: the top hands out every fixed IP and MAC.

An address is a row of `net_addresses` keyed by (network, IP) and a MAC a row
of `net_macs` keyed by the MAC, so two allocations of one address cannot both
commit: a concurrent loser gets an IntegrityError and retries its
transaction. Addresses are held by top ports (owner = port id) or reserved
for a pod (owner = `pod:<pod id>:<subnet id>`: the pod's DHCP port and the
only address its bottom allocation pool contains).
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.models import NetAddress, NetMac
from cascade.services.network.errors import Conflict, InvalidInput, NeutronError

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAC_PREFIX = "fa:16:3e"  # Neutron's default base_mac


RETRIES = 5  # a create that lost an address to a concurrent one tries with fresh ones
T = TypeVar("T")


async def retried(db: AsyncSession, once: Callable[[], Awaitable[T]], pinned: bool) -> T:
    """`once()` (a create or update that allocates addresses and commits), again after a
    concurrent request took one of the same addresses first (the unique key refused
    this one: rolled back). `pinned`: the caller named the address, so taking another
    is no answer: Neutron's 409."""
    for attempt in range(RETRIES):
        try:
            return await once()
        except IntegrityError:
            await db.rollback()
            if pinned or attempt == RETRIES - 1:
                raise Conflict(
                    "An address requested was taken concurrently; retry the request.",
                    type="IpAddressAlreadyAllocated",
                ) from None
    raise AssertionError("unreachable")


def pod_owner(pod_id: str, subnet_id: str) -> str:
    return f"pod:{pod_id}:{subnet_id}"


def network_of(cidr: str) -> IPNetwork:
    return ipaddress.ip_network(cidr, strict=False)


AUTO_ADDRESS_MODES = ("slaac", "dhcpv6-stateless")


def is_auto_address(subnet: dict[str, Any]) -> bool:
    """Neutron's `is_auto_address_subnet`: addresses come from the MAC (EUI-64), by SLAAC
    or DHCPv6 stateless, named by either mode."""
    return (
        subnet.get("ipv6_address_mode") in AUTO_ADDRESS_MODES
        or subnet.get("ipv6_ra_mode") in AUTO_ADDRESS_MODES
    )


def eui64(cidr: str, mac: str) -> str:
    """The EUI-64 address of `mac` in the IPv6 prefix `cidr` (RFC 4291, as oslo's
    `get_ipv6_addr_by_EUI64`): the MAC split by ff:fe, its universal/local bit flipped."""
    net = network_of(cidr)
    if net.version != 6:
        raise ValueError("Unable to generate IP address by EUI64 for IPv4 prefix")
    value = int(valid_mac(mac).replace(":", ""), 16)
    interface = ((value >> 24) << 40) | (0xFFFE << 24) | (value & 0xFFFFFF)
    return str(ipaddress.IPv6Address(int(net.network_address) + (interface ^ (1 << 57))))


def default_pools(cidr: str, gateway: str | None) -> list[dict[str, str]]:
    """Neutron's pools for a subnet: every host address (v4 without network and
    broadcast, v6 without the subnet-router anycast) except the gateway."""
    net = network_of(cidr)
    first = int(net.network_address) + 1
    last = int(net.broadcast_address) - (1 if net.version == 4 else 0)
    if net.version == 4 and net.prefixlen >= 31:
        first, last = int(net.network_address), int(net.broadcast_address)
    ranges = [(first, last)]
    if gateway is not None:
        gw = int(ipaddress.ip_address(gateway))
        ranges = [(lo, hi) for lo, hi in ((first, gw - 1), (gw + 1, last)) if lo <= hi]
        if not first <= gw <= last:
            ranges = [(first, last)]
    make = ipaddress.ip_address
    return [{"start": str(make(lo)), "end": str(make(hi))} for lo, hi in ranges if lo <= hi]


def pool_addresses(pools: list[dict[str, str]]) -> Iterator[IPAddress]:
    for pool in pools:
        start, end = ipaddress.ip_address(pool["start"]), ipaddress.ip_address(pool["end"])
        for value in range(int(start), int(end) + 1):
            yield ipaddress.ip_address(value)


async def used(db: AsyncSession, network_id: str) -> set[str]:
    query = select(NetAddress.ip_address).where(NetAddress.network_id == network_id)
    return set((await db.scalars(query)).all())


async def allocate(
    db: AsyncSession,
    network_id: str,
    subnet: dict[str, Any],
    owner: str,
    wanted: str | None = None,
    *,
    mac: str | None = None,
) -> str:
    """One address of `subnet` for `owner`: `wanted` if it is in the subnet and free;
    else, on an automatic IPv6 subnet (SLAAC, DHCPv6 stateless) with the port's `mac`
    given, the MAC's EUI-64 address, as Neutron assigns it; else the first free one of
    the allocation pools (Neutron's errors otherwise)."""
    taken = await used(db, network_id)
    if wanted is None and mac is not None and is_auto_address(subnet):
        wanted = eui64(subnet["cidr"], mac)
    if wanted is not None:
        try:
            address = ipaddress.ip_address(wanted)
        except ValueError:
            raise InvalidInput(f"{wanted} is not a valid IP address") from None
        if address not in network_of(subnet["cidr"]):
            raise NeutronError(
                f"IP address {wanted} is not a valid IP for the specified subnet.",
                400,
                "InvalidIpForSubnet",
            )
        if str(address) in taken:
            raise Conflict(
                f"IP address {address} already allocated in subnet {subnet['id']}",
                type="IpAddressAlreadyAllocated",
            )
        choice = str(address)
    else:
        free = (str(a) for a in pool_addresses(subnet["allocation_pools"]) if str(a) not in taken)
        found = next(free, None)
        if found is None:
            raise Conflict(
                f"No more IP addresses available for subnet {subnet['id']}.",
                type="IpAddressGenerationFailure",
            )
        choice = found
    db.add(
        NetAddress(network_id=network_id, ip_address=choice, subnet_id=subnet["id"], owner=owner)
    )
    return choice


async def release(db: AsyncSession, owner: str) -> None:
    await db.execute(delete(NetAddress).where(NetAddress.owner == owner))


async def release_address(db: AsyncSession, network_id: str, ip_address: str) -> None:
    await db.execute(
        delete(NetAddress).where(
            NetAddress.network_id == network_id, NetAddress.ip_address == ip_address
        )
    )


async def in_subnet(db: AsyncSession, subnet_id: str) -> list[NetAddress]:
    query = select(NetAddress).where(NetAddress.subnet_id == subnet_id)
    return list((await db.scalars(query)).all())


def valid_mac(mac: str) -> str:
    parts = mac.lower().split(":")
    if len(parts) != 6 or not all(len(p) == 2 for p in parts):
        raise InvalidInput(f"'{mac}' is not a valid MAC address")
    try:
        first = int(parts[0], 16)
        [int(p, 16) for p in parts[1:]]
    except ValueError:
        raise InvalidInput(f"'{mac}' is not a valid MAC address") from None
    if first & 1 or mac.lower() == "00:00:00:00:00:00":
        raise InvalidInput(f"'{mac}' is not a valid MAC address")
    return mac.lower()


async def allocate_mac(
    db: AsyncSession, owner: str, network_id: str, wanted: str | None = None
) -> str:
    """A MAC no other port anywhere has: `wanted` if free, else a random Neutron-style one."""
    if wanted is not None:
        mac = valid_mac(wanted)
        if await db.get(NetMac, mac) is not None:
            raise Conflict(
                f"Unable to complete operation for network {network_id}. "
                f"The mac address {mac} is in use.",
                type="MacAddressInUse",
            )
    else:
        for _ in range(16):
            tail = ":".join(f"{random.randint(0, 255):02x}" for _ in range(3))
            mac = f"{MAC_PREFIX}:{tail}"
            if await db.get(NetMac, mac) is None:
                break
        else:
            raise Conflict(
                f"Unable to generate unique mac on network {network_id}.",
                type="MacAddressGenerationFailure",
            )
    db.add(NetMac(mac_address=mac, owner=owner))
    return mac


async def release_mac(db: AsyncSession, owner: str) -> None:
    await db.execute(delete(NetMac).where(NetMac.owner == owner))


def purging(port_id: str) -> str:
    """The owner of a deleted port's addresses and MAC until its pods' copies are gone:
    handed out again only then, so no pod still holds one that the top gives away."""
    return f"purging:{port_id}"


async def hold(db: AsyncSession, owner: str, new_owner: str) -> None:
    await db.execute(update(NetAddress).where(NetAddress.owner == owner).values(owner=new_owner))
    await db.execute(update(NetMac).where(NetMac.owner == owner).values(owner=new_owner))

"""VLAN ids for top networks: one id of the configured ranges per network, the same
id in every pod, so the L2 segment spans pods."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.conf import NetworkSection
from cascade.db.models import NetSegment
from cascade.services.network.errors import Conflict, InvalidInput


def ranges(conf: NetworkSection) -> list[tuple[int, int]]:
    """`[network] vlan_ranges` as (low, high) pairs; a bad value stops start-up."""
    out = []
    for part in conf.vlan_ranges.split(","):
        low, _, high = part.strip().partition(":")
        pair = (int(low), int(high))
        if not 1 <= pair[0] <= pair[1] <= 4094:
            raise ValueError(f"[network] vlan_ranges: {part!r} is not low:high within 1..4094")
        out.append(pair)
    return out


def text(conf: NetworkSection) -> str:
    return ",".join(f"{lo}:{hi}" for lo, hi in ranges(conf))


async def allocate(
    db: AsyncSession, conf: NetworkSection, network_id: str, wanted: int | None
) -> int:
    """`wanted` (an admin's choice, inside the ranges and free), else the lowest free id."""
    physnet = conf.physical_network
    query = select(NetSegment.segmentation_id).where(NetSegment.physical_network == physnet)
    taken = set((await db.scalars(query)).all())
    if wanted is not None:
        if not 1 <= wanted <= 4094:
            raise InvalidInput("segmentation_id out of range (1 through 4094)")
        if not any(lo <= wanted <= hi for lo, hi in ranges(conf)):
            raise InvalidInput(
                f"segmentation_id {wanted} is outside the VLAN ranges the top hands out on "
                f"{physnet} ({text(conf)}); the pods allocate the other ids themselves"
            )
        if wanted in taken:
            raise Conflict(
                f"Unable to create the network. The VLAN {wanted} on physical network "
                f"{physnet} is in use.",
                type="VlanIdInUse",
            )
        choice = wanted
    else:
        free = (v for lo, hi in ranges(conf) for v in range(lo, hi + 1) if v not in taken)
        found = next(free, None)
        if found is None:
            raise Conflict(
                "Unable to create the network. No tenant network is available for allocation.",
                type="NoNetworkAvailable",
            )
        choice = found
    db.add(NetSegment(physical_network=physnet, segmentation_id=choice, network_id=network_id))
    return choice


async def release(db: AsyncSession, network_id: str) -> None:
    await db.execute(delete(NetSegment).where(NetSegment.network_id == network_id))

"""AMI link outages: the AMI client integration reports link down/up; metrics flag them.

Call tracking only sees calls while the AMI link is up. Every period without a link is
stored in ``ami_link_outages`` (one open row per server while it is down), and any metrics
interval that overlaps one is reported as incomplete instead of silently undercounted.
Calls made while cac311 itself was not running leave no outage row: the AMI integration
should report ``record_link_down`` when it first fails to connect at start-up too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text

from case_core.db.models.metrics import AmiLinkOutageRow
from case_core.db.uow import UnitOfWorkFactory


@dataclass(frozen=True)
class Outage:
    """One stored outage; ``up_at`` is None while the link is still down."""

    server: str
    down_at: datetime
    up_at: datetime | None


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("outage times must be time-zone-aware")
    return at


async def record_link_down(uow_factory: UnitOfWorkFactory, server: str, at: datetime) -> bool:
    """Open an outage for ``server`` at ``at``; False if one is already open (idempotent)."""
    async with uow_factory() as uow:
        result = await uow.session.execute(
            text(
                "INSERT INTO ami_link_outages (server, down_at) VALUES (:server, :at) "
                "ON CONFLICT (server) WHERE up_at IS NULL DO NOTHING RETURNING id"
            ),
            {"server": server, "at": _aware(at)},
        )
        created = result.first() is not None
        await uow.commit()
    return created


async def record_link_up(uow_factory: UnitOfWorkFactory, server: str, at: datetime) -> bool:
    """Close the open outage of ``server`` at ``at``; False if none was open."""
    async with uow_factory() as uow:
        result = await uow.session.execute(
            text(
                "UPDATE ami_link_outages SET up_at = GREATEST(down_at, :at) "
                "WHERE server = :server AND up_at IS NULL RETURNING id"
            ),
            {"server": server, "at": _aware(at)},
        )
        closed = result.first() is not None
        await uow.commit()
    return closed


async def outages_between(
    uow_factory: UnitOfWorkFactory, start: datetime, end: datetime
) -> list[Outage]:
    """Outages overlapping [start, end), oldest first."""
    async with uow_factory() as uow:
        rows = (
            await uow.session.execute(
                select(AmiLinkOutageRow)
                .where(AmiLinkOutageRow.down_at < end)
                .where((AmiLinkOutageRow.up_at.is_(None)) | (AmiLinkOutageRow.up_at > start))
                .order_by(AmiLinkOutageRow.down_at)
            )
        ).scalars()
        return [Outage(r.server, r.down_at, r.up_at) for r in rows]

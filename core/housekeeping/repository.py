"""All SQL of the housekeeping jobs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import InboundMessage, InboundStatus, Ticket, TicketStatus

# Mail still waiting for the pipeline keeps its bytes, however old.
_PURGEABLE = [
    s.value for s in InboundStatus if s not in (InboundStatus.received, InboundStatus.processing)
]


async def purge_raw_mail(session: AsyncSession, *, before: datetime, limit: int) -> int:
    """Drop the raw bytes of up to `limit` messages received before `before`; keep the row."""
    doomed = (
        select(InboundMessage.id)
        .where(
            InboundMessage.status.in_(_PURGEABLE),
            InboundMessage.received_at < before,
            InboundMessage.raw_purged_at.is_(None),
        )
        .order_by(InboundMessage.received_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    result = await session.execute(
        update(InboundMessage)
        .where(InboundMessage.id.in_(doomed))
        .values(raw=None, raw_purged_at=func.now())
    )
    return result.rowcount or 0


async def lock_resolved_before(
    session: AsyncSession, *, before: datetime, limit: int
) -> list[Ticket]:
    return list(
        await session.scalars(
            select(Ticket)
            .where(Ticket.status == TicketStatus.resolved.value, Ticket.resolved_at < before)
            .order_by(Ticket.resolved_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )

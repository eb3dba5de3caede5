"""All SQL about attachment rows."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Attachment, AttachmentStatus


async def add(session: AsyncSession, attachment: Attachment) -> Attachment:
    session.add(attachment)
    await session.flush()  # created_at: RETURNING (eager_defaults)
    return attachment


async def get(session: AsyncSession, attachment_id: int) -> Attachment | None:
    return await session.get(Attachment, attachment_id)


async def get_for_update(session: AsyncSession, attachment_id: int) -> Attachment | None:
    """The row, locked until the transaction ends: two completions of one upload serialise."""
    return await session.scalar(
        select(Attachment)
        .where(Attachment.id == attachment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def list_pending_created_before(
    session: AsyncSession, *, cutoff: datetime | timedelta, limit: int
) -> list[Attachment]:
    """Pending uploads older than `cutoff` (a time, or an age measured by the database clock),
    oldest first; served by the partial index ix_attachments_pending_created."""
    boundary = func.now() - cutoff if isinstance(cutoff, timedelta) else cutoff
    rows = await session.scalars(
        select(Attachment)
        .where(
            Attachment.status == AttachmentStatus.pending.value,
            Attachment.created_at < boundary,
        )
        .order_by(Attachment.created_at, Attachment.id)
        .limit(limit)
    )
    return list(rows)


async def delete_if_pending(session: AsyncSession, attachment_id: int) -> bool:
    """Delete the row only if it is still pending (a completion may have won the race)."""
    result = await session.execute(
        delete(Attachment)
        .where(
            Attachment.id == attachment_id,
            Attachment.status == AttachmentStatus.pending.value,
        )
        .returning(Attachment.id)
    )
    return result.scalar_one_or_none() is not None

"""All SQL behind the operational gauges; each count is served by a partial or status index."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import (
    InboundMessage,
    InboundStatus,
    JobRun,
    JobRunStatus,
    OutboundEmail,
    OutboundStatus,
)


async def inbound_queue_depth(session: AsyncSession) -> int:
    statuses = (InboundStatus.received.value, InboundStatus.processing.value)
    return int(
        await session.scalar(
            select(func.count())
            .select_from(InboundMessage)
            .where(InboundMessage.status.in_(statuses))
        )
        or 0
    )


async def outbox_depth(session: AsyncSession) -> int:
    statuses = (OutboundStatus.queued.value, OutboundStatus.sending.value)
    return int(
        await session.scalar(
            select(func.count())
            .select_from(OutboundEmail)
            .where(OutboundEmail.status.in_(statuses))
        )
        or 0
    )


async def failed_job_runs_since(session: AsyncSession, since: datetime) -> dict[str, int]:
    rows = await session.execute(
        select(JobRun.job_id, func.count())
        .where(JobRun.status == JobRunStatus.failed.value, JobRun.started_at >= since)
        .group_by(JobRun.job_id)
    )
    return {job_id: int(count) for job_id, count in rows}

"""What /metrics reports about the system, computed when it is scraped."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core.ops import repository

JOB_FAILURE_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class SystemGauges:
    inbound_queue_depth: int
    outbox_depth: int
    job_failures_24h: dict[str, int]


async def system_gauges(session: AsyncSession) -> SystemGauges:
    since = datetime.now(UTC) - JOB_FAILURE_WINDOW
    return SystemGauges(
        inbound_queue_depth=await repository.inbound_queue_depth(session),
        outbox_depth=await repository.outbox_depth(session),
        job_failures_24h=await repository.failed_job_runs_since(session, since),
    )

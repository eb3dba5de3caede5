"""All SQL about job runs."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import JobRun, JobRunStatus, JobTrigger

FINISHED = (JobRunStatus.succeeded.value, JobRunStatus.failed.value, JobRunStatus.skipped.value)


async def claim_tick(
    session: AsyncSession, *, job_id: str, scheduled_for: datetime, host: str
) -> JobRun | None:
    """The run row of one scheduled tick, or None when another replica already claimed it."""
    run_id = await session.scalar(
        insert(JobRun)
        .values(
            job_id=job_id,
            trigger=JobTrigger.schedule.value,
            status=JobRunStatus.running.value,
            scheduled_for=scheduled_for,
            host=host,
        )
        .on_conflict_do_nothing(index_elements=["job_id", "scheduled_for"])
        .returning(JobRun.id)
    )
    return None if run_id is None else await session.get(JobRun, run_id)


async def add(session: AsyncSession, run: JobRun) -> JobRun:
    session.add(run)
    await session.flush()
    await session.refresh(run)
    return run


async def get(session: AsyncSession, run_id: int) -> JobRun | None:
    return await session.get(JobRun, run_id)


async def claim_queued(
    session: AsyncSession, *, host: str, busy_job_ids: Iterable[str] = ()
) -> JobRun | None:
    """Take the oldest "run now" request whose job is not running here (ix_job_runs_queued)."""
    candidate = (
        select(JobRun.id)
        .where(JobRun.status == JobRunStatus.queued.value)
        .order_by(JobRun.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    busy = list(busy_job_ids)
    if busy:
        candidate = candidate.where(JobRun.job_id.not_in(busy))
    run_id = await session.scalar(
        update(JobRun)
        .where(JobRun.id == candidate.scalar_subquery())
        .values(status=JobRunStatus.running.value, started_at=func.now(), host=host)
        .returning(JobRun.id)
    )
    if run_id is None:
        return None
    return await session.get(JobRun, run_id, populate_existing=True)


async def queued_run(session: AsyncSession, job_id: str) -> JobRun | None:
    return await session.scalar(
        select(JobRun)
        .where(JobRun.job_id == job_id, JobRun.status == JobRunStatus.queued.value)
        .order_by(JobRun.id)
        .limit(1)
    )


async def finish(session: AsyncSession, run_id: int, **values: Any) -> None:
    await session.execute(update(JobRun).where(JobRun.id == run_id).values(**values))


async def list_runs(
    session: AsyncSession,
    *,
    job_id: str,
    status: str | None,
    before_id: int | None,
    limit: int,
) -> list[JobRun]:
    """Newest first, keyset on id."""
    statement = select(JobRun).where(JobRun.job_id == job_id)
    if status is not None:
        statement = statement.where(JobRun.status == status)
    if before_id is not None:
        statement = statement.where(JobRun.id < before_id)
    return list(await session.scalars(statement.order_by(JobRun.id.desc()).limit(limit)))


async def latest_runs(session: AsyncSession, job_ids: Iterable[str]) -> dict[str, JobRun]:
    """The most recent started (not merely queued) run of each job (ix_job_runs_job_started)."""
    found: dict[str, JobRun] = {}
    for job_id in job_ids:
        run = await session.scalar(
            select(JobRun)
            .where(JobRun.job_id == job_id, JobRun.status != JobRunStatus.queued.value)
            .order_by(JobRun.started_at.desc(), JobRun.id.desc())
            .limit(1)
        )
        if run is not None:
            found[job_id] = run
    return found


async def running_runs(session: AsyncSession) -> list[JobRun]:
    return list(
        await session.scalars(
            select(JobRun).where(JobRun.status == JobRunStatus.running.value).order_by(JobRun.id)
        )
    )


async def delete_finished_before(session: AsyncSession, *, before: datetime, limit: int) -> int:
    doomed = (
        select(JobRun.id)
        .where(JobRun.started_at < before, JobRun.status.in_(FINISHED))
        .order_by(JobRun.started_at)
        .limit(limit)
    )
    result = await session.execute(delete(JobRun).where(JobRun.id.in_(doomed)))
    return result.rowcount or 0

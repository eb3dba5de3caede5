"""Found by bench/chaos/db_outage.py: while PostgreSQL was down the scheduler's ticks vanished
without a trace (no run row, nothing in the history an admin reads). A tick that fires while
the database is unreachable is now recorded as a failed run once it is back, once, whichever
replica records it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bench.chaos.harness import free_port
from core.config import get_settings
from core.jobs import runner as job_runner
from core.models import JobRun
from scheduler.leader import Leadership
from scheduler.runner import SCHEDULED_FOR, SchedulerRunner


async def _tick(scheduler: SchedulerRunner, job_id: str, at: datetime) -> None:
    token = SCHEDULED_FOR.set(at)
    try:
        await scheduler.on_tick(job_id)
    finally:
        SCHEDULED_FOR.reset(token)


async def test_ticks_missed_during_an_outage_become_failed_runs(
    committed_db: AsyncEngine, database_url: str
) -> None:
    settings = get_settings().model_copy(update={"database_url": database_url})
    scheduler = SchedulerRunner(settings)
    down = make_url(database_url).set(port=free_port()).render_as_string(hide_password=False)
    scheduler.leadership = Leadership(down)
    missed = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    await _tick(scheduler, "sla_scan", missed)
    await _tick(scheduler, "sla_scan", missed + timedelta(seconds=30))
    assert len(scheduler.missed) == 2

    scheduler.leadership = Leadership(database_url)
    try:
        await _tick(scheduler, "sla_scan", missed + timedelta(seconds=60))
    finally:
        await scheduler.leadership.release()
    assert not scheduler.missed
    async with AsyncSession(committed_db) as session:
        runs = list(await session.scalars(select(JobRun).order_by(JobRun.scheduled_for)))
    assert [(r.job_id, r.status) for r in runs] == [
        ("sla_scan", "failed"),
        ("sla_scan", "failed"),
        ("sla_scan", "succeeded"),
    ]
    assert all("database unavailable" in (r.error or "") for r in runs[:2])
    # A second replica that missed the same tick records nothing more.
    assert not await job_runner.record_missed_tick(
        scheduler.specs["sla_scan"], scheduled_for=missed, reason="again"
    )

"""The job runner and the catalog: every run is a row (succeeded / failed with a traceback /
skipped), a tick is claimed once, a job never runs twice at once, interrupted runs are marked,
"run now" requests are claimed, and the APScheduler executor hands each run its scheduled tick."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core import db
from core.config import get_settings
from core.errors import Unavailable
from core.jobs import catalog, repository, runner
from core.jobs import service as jobs
from core.jobs.catalog import JobSpec
from core.jobs.context import BoundedLog, JobContext
from core.models import JobRun
from scheduler.runner import SCHEDULED_FOR, TickStampingExecutor


def spec(body, job_id: str = "test_job") -> JobSpec:  # type: ignore[no-untyped-def]
    return JobSpec(job_id, "Test job", "", None, "on demand", body)


async def test_runs_are_recorded_with_counts_log_and_errors(committed_db: AsyncEngine) -> None:
    async def works(context: JobContext) -> None:
        context.count("done", 3)
        context.info("did three things")

    async def breaks(context: JobContext) -> None:
        context.count("done", 1)
        raise Unavailable("the MIS database is unreachable")

    async def idle(context: JobContext) -> None:
        context.skip("nothing configured")

    ok = await runner.execute(spec(works), trigger="cli")  # type: ignore[arg-type]
    assert ok is not None and ok.status == "succeeded" and ok.summary == {"done": 3}
    assert "did three things" in ok.log and ok.duration_ms is not None and ok.finished_at
    failed = await runner.execute(spec(breaks), trigger="manual")  # type: ignore[arg-type]
    assert failed is not None and failed.status == "failed" and failed.summary == {"done": 1}
    assert failed.error is not None
    assert failed.error.startswith("Unavailable: the MIS database is unreachable\n")
    assert "Traceback (most recent call last)" in failed.error
    skipped = await runner.execute(spec(idle))
    assert (
        skipped is not None and skipped.status == "skipped" and "nothing configured" in skipped.log
    )


async def test_a_tick_is_claimed_once_and_a_job_never_runs_twice_at_once(
    committed_db: AsyncEngine,
) -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def slow(context: JobContext) -> None:
        started.set()
        await release.wait()

    tick = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
    first = asyncio.create_task(runner.execute(spec(slow), scheduled_for=tick))
    await started.wait()
    assert await runner.execute(spec(slow), scheduled_for=tick) is None  # already claimed
    overlapping = await runner.execute(spec(slow), trigger="cli")  # type: ignore[arg-type]
    assert overlapping is not None and overlapping.status == "skipped"
    assert "still in progress" in overlapping.log
    release.set()
    done = await first
    assert done is not None and done.status == "succeeded" and done.scheduled_for == tick


async def test_runs_left_by_a_dead_process_are_marked_interrupted(
    committed_db: AsyncEngine,
) -> None:
    async with AsyncSession(committed_db, expire_on_commit=False) as session:
        dead = JobRun(job_id="purge_raw_mail", status="running", host="gone:1")
        alive = JobRun(job_id="user_sync", status="running", host="here:2")
        session.add_all([dead, alive])
        await session.commit()
    async with runner.job_lock("user_sync") as held:  # someone is really running it
        assert held
        assert await runner.abandon_interrupted_runs() == 1
    async with AsyncSession(committed_db) as session:
        assert (await session.get(JobRun, dead.id)).status == "failed"  # type: ignore[union-attr]
        assert "gone:1" in (await session.get(JobRun, dead.id)).error  # type: ignore[union-attr, operator]
        assert (await session.get(JobRun, alive.id)).status == "running"  # type: ignore[union-attr]


async def test_run_now_requests_are_claimed_oldest_first_skipping_busy_jobs(
    committed_db: AsyncEngine,
) -> None:
    settings = get_settings()
    async with db.session_scope() as session:
        sync = await jobs.request_run(session, settings=settings, job_id="user_sync", actor=None)
        purge = await jobs.request_run(
            session, settings=settings, job_id="purge_raw_mail", actor=None
        )
    async with db.session_scope() as session:
        claimed = await repository.claim_queued(session, host="h:1", busy_job_ids={"user_sync"})
        assert claimed is not None and claimed.id == purge.id and claimed.status == "running"
        assert (
            await repository.claim_queued(session, host="h:1", busy_job_ids={"user_sync"}) is None
        )
        claimed = await repository.claim_queued(session, host="h:1")
        assert claimed is not None and claimed.id == sync.id


async def test_prune_keeps_recent_and_unfinished_runs(committed_db: AsyncEngine) -> None:
    now = datetime.now(UTC)
    async with AsyncSession(committed_db, expire_on_commit=False) as session:
        old = JobRun(job_id="sla_scan", status="succeeded", started_at=now - timedelta(days=100))
        old_running = JobRun(
            job_id="sla_scan", status="running", started_at=now - timedelta(days=100)
        )
        recent = JobRun(job_id="sla_scan", status="failed", started_at=now - timedelta(days=2))
        session.add_all([old, old_running, recent])
        await session.commit()
    run = await runner.execute(catalog.get_spec(get_settings(), "prune_job_runs"))
    assert run is not None and run.summary == {"pruned": 1}
    async with AsyncSession(committed_db) as session:
        left = set(await session.scalars(select(JobRun.id)))
    assert old.id not in left and {old_running.id, recent.id, run.id} <= left


def test_catalog_schedules_come_from_settings_and_ticks_are_aligned() -> None:
    settings = get_settings().model_copy(
        update={"scheduler_sla_scan_seconds": 30, "scheduler_user_sync_cron": ""}
    )
    specs = catalog.job_specs(settings)
    assert specs["user_sync"].trigger is None and "disabled" in specs["user_sync"].schedule
    moment = datetime(2026, 11, 28, 6, 0, 7, tzinfo=UTC)
    # Every replica computes the same ticks: interval triggers are anchored.
    assert catalog.next_run_at(specs["sla_scan"], moment) == datetime(
        2026, 11, 28, 6, 0, 30, tzinfo=UTC
    )
    nightly = catalog.next_run_at(specs["purge_raw_mail"], moment)  # 03:30 Asia/Seoul
    assert nightly == datetime(2026, 11, 28, 18, 30, tzinfo=UTC)


def test_bounded_log_keeps_the_beginning_and_counts_the_rest() -> None:
    log = BoundedLog(max_lines=3)
    for n in range(10):
        log.add(f"line {n}")
    text = log.text()
    assert "line 0" in text and "line 2" in text and "line 3" not in text
    assert text.endswith("... 7 more line(s) not kept")


@pytest.mark.parametrize("interval", [0.2])
async def test_the_executor_hands_each_run_its_scheduled_tick(interval: float) -> None:
    seen: list[datetime | None] = []
    twice = asyncio.Event()

    async def job() -> None:
        seen.append(SCHEDULED_FOR.get())
        if len(seen) >= 2:
            twice.set()

    scheduler = AsyncIOScheduler(executors={"default": TickStampingExecutor()})
    anchor = datetime(2020, 1, 1, tzinfo=UTC)
    scheduler.add_job(job, IntervalTrigger(seconds=interval, start_date=anchor), id="probe")
    scheduler.start()
    try:
        async with asyncio.timeout(10):
            await twice.wait()
    finally:
        scheduler.shutdown(wait=False)
    for tick in seen[:2]:
        assert tick is not None
        offset = (tick - anchor).total_seconds() / interval
        assert abs(offset - round(offset)) < 1e-6  # exactly on an anchored tick
    assert seen[0] != seen[1]

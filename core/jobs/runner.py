"""Run a job and record it: every run, whoever starts it (the scheduler's tick, "run now" from the
API, the CLI), is a job_runs row with start, finish, duration, status, summary counts, a bounded
log and, on failure, the error with its traceback.

This module is the jobs' process edge, shared by the scheduler and the CLI: it owns the
transactions (the run row is committed before the job starts, so admins see it running) and hands
the job units of work through its context. Job bodies call core services that only flush.

Two guards keep a job from running twice at once:
- a scheduled tick is claimed by inserting its (job_id, scheduled_for) row: one replica wins;
- while a job runs it holds a PostgreSQL advisory lock keyed by its id, on its own connection, so
  a CLI run and a scheduled run of the same job never overlap (the later one is `skipped`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from sqlalchemy import func, select

from core import db
from core.config import Settings, get_settings
from core.errors import CoreError
from core.jobs import repository
from core.jobs.catalog import JobSpec
from core.jobs.context import JobContext
from core.models import JobRun, JobRunStatus, JobTrigger

logger = logging.getLogger(__name__)

JOB_LOCK_NAMESPACE = 7_401  # advisory-lock key space of per-job locks
MAX_ERROR_CHARS = 20_000


def runner_name() -> str:
    """host:pid, so the runs of two replicas on one machine can be told apart."""
    return f"{socket.gethostname()}:{os.getpid()}"[:255]


def describe_error(exc: BaseException) -> str:
    """A first line an admin can read, then the traceback."""
    headline = exc.message if isinstance(exc, CoreError) else str(exc).strip().splitlines()
    if isinstance(headline, list):
        headline = headline[0] if headline else ""
    first = f"{type(exc).__name__}: {headline}" if headline else type(exc).__name__
    trace = "".join(traceback.format_exception(exc))
    return f"{first}\n\n{trace}"[:MAX_ERROR_CHARS]


@asynccontextmanager
async def job_lock(job_id: str) -> AsyncIterator[bool]:
    """Hold the job's advisory lock for the block; yields False when someone else holds it."""
    conn = await db.get_engine().connect()
    try:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        key = (JOB_LOCK_NAMESPACE, func.hashtext(job_id))
        acquired = bool(await conn.scalar(select(func.pg_try_advisory_lock(*key))))
        try:
            yield acquired
        finally:
            if acquired:
                try:
                    await asyncio.shield(conn.scalar(select(func.pg_advisory_unlock(*key))))
                except BaseException:
                    # Never hand a connection that may still hold the lock back to the pool.
                    await conn.invalidate()
                    raise
    finally:
        await conn.close()


async def execute(
    spec: JobSpec,
    *,
    trigger: JobTrigger = JobTrigger.schedule,
    settings: Settings | None = None,
    scheduled_for: datetime | None = None,
    claimed: JobRun | None = None,
    requested_by_id: int | None = None,
    dry_run: bool = False,
) -> JobRun | None:
    """Run `spec` once and return its finished run row; None when a scheduled tick was already
    claimed by another replica. `claimed` is a queued "run now" row already taken by the caller."""
    settings = settings or get_settings()
    host = runner_name()
    async with db.session_scope() as session:
        if claimed is not None:
            run: JobRun | None = claimed
        elif scheduled_for is not None:
            run = await repository.claim_tick(
                session, job_id=spec.id, scheduled_for=scheduled_for, host=host
            )
            if run is None:
                return None
        else:
            run = await repository.add(
                session,
                JobRun(
                    job_id=spec.id,
                    trigger=JobTrigger(trigger).value,
                    status=JobRunStatus.running.value,
                    host=host,
                    requested_by_id=requested_by_id,
                ),
            )
        assert run is not None
        run_id, started_at = run.id, run.started_at
    context = JobContext(
        job_id=spec.id,
        trigger=JobTrigger(run.trigger).value,
        settings=settings,
        run_id=run_id,
        dry_run=dry_run,
    )
    if dry_run:
        context.info("dry run: nothing will be written")
    clock = time.monotonic()
    status, error = JobRunStatus.succeeded, None
    try:
        async with job_lock(spec.id) as acquired:
            if not acquired:
                context.skip("another run of this job is still in progress")
            else:
                await spec.body(context)
        if context.skipped_reason:
            status = JobRunStatus.skipped
    except asyncio.CancelledError as exc:
        status, error = JobRunStatus.failed, "interrupted: the process running the job stopped"
        context.info(error)
        await asyncio.shield(_finish(run_id, started_at, clock, status, context, error))
        raise exc
    except Exception as exc:
        status, error = JobRunStatus.failed, describe_error(exc)
        context.info("failed: " + error.splitlines()[0])
        logger.warning("job %s (run %s) failed: %s", spec.id, run_id, error.splitlines()[0])
    return await _finish(run_id, started_at, clock, status, context, error)


async def record_missed_tick(spec: JobSpec, *, scheduled_for: datetime, reason: str) -> bool:
    """A scheduled tick that could not run because the database was unreachable, recorded as a
    failed run once it is reachable again. Claimed like a tick, so several replicas that all
    missed it record it once; False when the tick already has a run."""
    async with db.session_scope() as session:
        run = await repository.claim_tick(
            session, job_id=spec.id, scheduled_for=scheduled_for, host=runner_name()
        )
        if run is None:
            return False
        await repository.finish(
            session,
            run.id,
            status=JobRunStatus.failed.value,
            finished_at=datetime.now(UTC),
            duration_ms=0,
            error=(
                "database unavailable at the scheduled time: this tick did not run\n\n" + reason
            )[:MAX_ERROR_CHARS],
        )
    return True


async def _finish(
    run_id: int,
    started_at: datetime,
    clock: float,
    status: JobRunStatus,
    context: JobContext,
    error: str | None,
) -> JobRun:
    async with db.session_scope() as session:
        await repository.finish(
            session,
            run_id,
            status=status.value,
            finished_at=datetime.now(UTC),
            duration_ms=int((time.monotonic() - clock) * 1000),
            summary=context.summary,
            log=context.log.text(),
            error=error,
        )
        run = await session.get(JobRun, run_id, populate_existing=True)
        assert run is not None
        return run


async def abandon_interrupted_runs(*, known_live: set[str] | frozenset[str] = frozenset()) -> int:
    """Runs left `running` by a process that died (its job lock is free) become `failed`.

    Called by a new scheduler leader. A run whose job lock is still held is alive somewhere."""
    marked = 0
    async with db.session_scope() as session:
        runs = await repository.running_runs(session)
    for run in runs:
        if run.job_id in known_live:
            continue
        async with job_lock(run.job_id) as free:
            if not free:
                continue
            async with db.session_scope() as session:
                await repository.finish(
                    session,
                    run.id,
                    status=JobRunStatus.failed.value,
                    finished_at=datetime.now(UTC),
                    error=f"interrupted: the process running it ({run.host}) stopped",
                )
            marked += 1
    return marked

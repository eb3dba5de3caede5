"""What admins see of the scheduler: the jobs with their schedule, next and last run; the runs of
a job; one run with its log; and "run now".

"Run now" from the API inserts a `queued` run row and returns it (202). The scheduler leader
claims queued rows on every tick (SCHEDULER_TICK_SECONDS) and runs them like a scheduled run.
Why not run the job inside the API process: a user sync of 100k users or a large purge would tie
up an API worker for minutes, die with the request on a redeploy, and could overlap a scheduled
run on another machine; the leader already guarantees one runner per job and records the outcome.
The price: with no scheduler running, a request stays `queued` (visible as such to the admin).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings
from core.errors import NotFound
from core.jobs import catalog, repository
from core.models import JobRun, JobRunStatus, JobTrigger, User


@dataclass(frozen=True)
class JobInfo:
    id: str
    name: str
    description: str
    schedule: str
    next_run_at: datetime | None
    last_status: str | None
    last_run_at: datetime | None
    last_run_id: int | None
    queued: bool


async def list_jobs(
    session: AsyncSession, *, settings: Settings, now: datetime | None = None
) -> list[JobInfo]:
    now = now or datetime.now(UTC)
    specs = catalog.job_specs(settings)
    latest = await repository.latest_runs(session, specs)
    result = []
    for spec in specs.values():
        last = latest.get(spec.id)
        result.append(
            JobInfo(
                id=spec.id,
                name=spec.name,
                description=spec.description,
                schedule=spec.schedule,
                next_run_at=catalog.next_run_at(spec, now),
                last_status=last.status if last else None,
                last_run_at=last.started_at if last else None,
                last_run_id=last.id if last else None,
                queued=await repository.queued_run(session, spec.id) is not None,
            )
        )
    return result


async def list_runs(
    session: AsyncSession,
    *,
    settings: Settings,
    job_id: str,
    status: JobRunStatus | None = None,
    cursor: int | None = None,
    limit: int = 50,
) -> tuple[list[JobRun], int | None]:
    """Newest first; `cursor` is the id to continue below (the previous page's next_cursor)."""
    catalog.get_spec(settings, job_id)
    limit = max(1, min(limit, 200))
    runs = await repository.list_runs(
        session,
        job_id=job_id,
        status=status.value if status else None,
        before_id=cursor,
        limit=limit + 1,
    )
    next_cursor = runs[limit - 1].id if len(runs) > limit else None
    return runs[:limit], next_cursor


async def get_run(session: AsyncSession, run_id: int) -> JobRun:
    run = await repository.get(session, run_id)
    if run is None:
        raise NotFound(f"no job run {run_id}")
    return run


async def request_run(
    session: AsyncSession, *, settings: Settings, job_id: str, actor: User | None
) -> JobRun:
    """Queue a run for the scheduler leader; a request already waiting is returned, not doubled."""
    catalog.get_spec(settings, job_id)
    waiting = await repository.queued_run(session, job_id)
    if waiting is not None:
        return waiting
    return await repository.add(
        session,
        JobRun(
            job_id=job_id,
            trigger=JobTrigger.manual.value,
            status=JobRunStatus.queued.value,
            requested_by_id=actor.id if actor else None,
        ),
    )


async def prune_runs(
    session: AsyncSession, *, older_than_days: int, now: datetime, limit: int = 5000
) -> int:
    return await repository.delete_finished_before(
        session, before=now - timedelta(days=older_than_days), limit=limit
    )

"""Scheduled jobs for admins: what runs when, what every run did, and "run now".

"Run now" queues a run (202) that the scheduler leader starts within SCHEDULER_TICK_SECONDS; see
core/jobs/service.py for why the API does not run jobs itself."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from api.deps import AdminUser, SessionDep
from core.jobs import service
from core.jobs.schemas import Job, JobRun, JobRunDetail, JobRunPage
from core.models import JobRunStatus

router = APIRouter(prefix="/api/v1/admin", tags=["jobs"])

JobId = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[a-z0-9_]+$")]
RunId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("/jobs", response_model=list[Job])
async def list_jobs(request: Request, admin_user: AdminUser, session: SessionDep) -> list[Job]:
    """Every scheduled job: its schedule, next run, and how its last run went."""
    jobs = await service.list_jobs(session, settings=request.app.state.settings)
    return [Job.model_validate(j) for j in jobs]


@router.get("/jobs/{job_id}/runs", response_model=JobRunPage)
async def list_job_runs(
    job_id: JobId,
    request: Request,
    admin_user: AdminUser,
    session: SessionDep,
    status: JobRunStatus | None = None,
    cursor: Annotated[str | None, Query(max_length=20, pattern=r"^[0-9]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> JobRunPage:
    """The runs of one job, newest first, optionally only one status (e.g. failed)."""
    runs, next_cursor = await service.list_runs(
        session,
        settings=request.app.state.settings,
        job_id=job_id,
        status=status,
        cursor=int(cursor) if cursor else None,
        limit=limit,
    )
    return JobRunPage(
        items=[JobRun.model_validate(r) for r in runs],
        next_cursor=str(next_cursor) if next_cursor else None,
    )


@router.get("/job-runs/{run_id}", response_model=JobRunDetail)
async def get_job_run(run_id: RunId, admin_user: AdminUser, session: SessionDep) -> JobRunDetail:
    """One run with its log, summary counts and, if it failed, the error and traceback."""
    return JobRunDetail.model_validate(await service.get_run(session, run_id))


@router.post("/jobs/{job_id}/run", response_model=JobRun, status_code=202)
async def run_job_now(
    job_id: JobId, request: Request, admin_user: AdminUser, session: SessionDep
) -> JobRun:
    """Queue a run now; the scheduler leader starts it within a tick. A request already waiting
    is returned instead of queueing a second one."""
    run = await service.request_run(
        session, settings=request.app.state.settings, job_id=job_id, actor=admin_user
    )
    return JobRun.model_validate(run)

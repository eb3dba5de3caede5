"""Response shapes of the jobs admin API (names are the OpenAPI schema names)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from core.models import JobRunStatus, JobTrigger


class Job(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    description: str
    schedule: str
    next_run_at: datetime | None
    last_status: JobRunStatus | None
    last_run_at: datetime | None
    last_run_id: int | None
    queued: bool


class JobRun(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    job_id: str
    trigger: JobTrigger
    status: JobRunStatus
    scheduled_for: datetime | None
    started_at: datetime
    finished_at: datetime | None
    duration_ms: int | None
    summary: dict[str, Any]
    error: str | None
    host: str | None
    requested_by_id: int | None


class JobRunDetail(JobRun):
    log: str


class JobRunPage(BaseModel):
    items: list[JobRun]
    next_cursor: str | None

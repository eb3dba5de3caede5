from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import (
    Base,
    JobRunStatus,
    JobTrigger,
    created_at_column,
    enum_check,
    id_column,
)


class JobRun(Base):
    """One run of a scheduled job, whoever started it; admins read these to trust the scheduler."""

    __tablename__ = "job_runs"
    __table_args__ = (
        enum_check("status", JobRunStatus),
        enum_check("trigger", JobTrigger),
        Index("ix_job_runs_job_started", "job_id", text("started_at DESC")),
        Index("ix_job_runs_started", "started_at"),
        # One run per scheduled tick, whichever scheduler replica claims it first.
        UniqueConstraint("job_id", "scheduled_for"),
        Index("ix_job_runs_queued", "id", postgresql_where=text("status = 'queued'")),
    )

    id: Mapped[int] = id_column()
    job_id: Mapped[str] = mapped_column(String(100))
    trigger: Mapped[str] = mapped_column(String(16), server_default=JobTrigger.schedule.value)
    started_at: Mapped[datetime] = created_at_column()
    finished_at: Mapped[datetime | None]
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), server_default=JobRunStatus.running.value)
    summary: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    log: Mapped[str] = mapped_column(Text, server_default="")
    error: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(String(255))
    # The tick a scheduled run belongs to (null for manual and CLI runs).
    scheduled_for: Mapped[datetime | None]
    requested_by_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )

"""What a running job sees: its settings, a bounded log, summary counts, and units of work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core import db
from core.config import Settings

MAX_LOG_LINES = 200
MAX_LOG_CHARS = 32_000
MAX_LINE_CHARS = 1_000


class BoundedLog:
    """Keeps the first lines of a run's log; counts what it had to drop."""

    def __init__(self, max_lines: int = MAX_LOG_LINES, max_chars: int = MAX_LOG_CHARS) -> None:
        self.max_lines, self.max_chars = max_lines, max_chars
        self.lines: list[str] = []
        self.chars = 0
        self.dropped = 0

    def add(self, message: str) -> None:
        line = f"{datetime.now(UTC):%H:%M:%S} {message}"[:MAX_LINE_CHARS]
        if len(self.lines) >= self.max_lines or self.chars + len(line) > self.max_chars:
            self.dropped += 1
            return
        self.lines.append(line)
        self.chars += len(line) + 1

    def text(self) -> str:
        tail = [f"... {self.dropped} more line(s) not kept"] if self.dropped else []
        return "\n".join(self.lines + tail)


@dataclass
class JobContext:
    job_id: str
    trigger: str
    settings: Settings
    run_id: int | None = None
    dry_run: bool = False
    summary: dict[str, Any] = field(default_factory=dict)
    log: BoundedLog = field(default_factory=BoundedLog)
    skipped_reason: str | None = None

    @property
    def now(self) -> datetime:
        return datetime.now(UTC)

    def info(self, message: str) -> None:
        self.log.add(message)

    def count(self, key: str, n: int = 1) -> None:
        self.summary[key] = self.summary.get(key, 0) + n

    def skip(self, reason: str) -> None:
        """Finish as `skipped` (nothing to do, not configured) rather than succeeded."""
        self.skipped_reason = reason
        self.info(f"skipped: {reason}")

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work, committed on success: the job runner is this job's process edge."""
        async with db.session_scope() as session:
            yield session

"""Fixed-window rate limits kept in PostgreSQL, so every API replica counts against the same
window: a counter row per (key, window start), incremented with one upsert."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import repository
from core.errors import RateLimited


@dataclass(frozen=True)
class Limit:
    name: str
    max_count: int
    window_seconds: int

    def window_start(self, now: datetime) -> datetime:
        epoch = int(now.timestamp())
        return datetime.fromtimestamp(epoch - epoch % self.window_seconds, UTC)

    def key(self, subject: str) -> str:
        subject = subject.strip().lower()
        if len(subject) > 200:  # the key column holds 300 characters
            subject = "sha256:" + hashlib.sha256(subject.encode()).hexdigest()
        return f"{self.name}:{subject}"


def _now() -> datetime:
    return datetime.now(UTC)


async def _previous_window_count(session: AsyncSession, limit: Limit, subject: str) -> int:
    previous = limit.window_start(_now()) - timedelta(seconds=limit.window_seconds)
    return await repository.read_counter(session, key=limit.key(subject), window_start=previous)


async def count(session: AsyncSession, limit: Limit, subject: str) -> int:
    """Events in the current window plus the previous one. Counting only the current window would
    let a burst straddling a boundary through twice over, and would forget five failed logins made
    a second before the window turned."""
    current = await repository.read_counter(
        session, key=limit.key(subject), window_start=limit.window_start(_now())
    )
    return current + await _previous_window_count(session, limit, subject)


async def hit(session: AsyncSession, limit: Limit, subject: str) -> int:
    """Count one event for `subject` in the current window; returns the count so far."""
    return await repository.increment_counter(
        session, key=limit.key(subject), window_start=limit.window_start(_now())
    )


async def ensure_below(session: AsyncSession, limit: Limit, subject: str) -> None:
    """RateLimited if `subject` has already used up this window."""
    if await count(session, limit, subject) >= limit.max_count:
        raise RateLimited(
            "too many attempts", detail="too many attempts; try again in a few minutes"
        )


async def hit_or_refuse(session: AsyncSession, limit: Limit, subject: str) -> None:
    """Count one event and refuse it (RateLimited) if it goes past the limit."""
    earlier = await _previous_window_count(session, limit, subject)
    if await hit(session, limit, subject) + earlier > limit.max_count:
        raise RateLimited("too many requests", detail="too many requests; try again later")


async def purge_expired(session: AsyncSession, *, older_than: timedelta) -> int:
    """Drop counters of windows that ended long ago (housekeeping)."""
    return await repository.delete_counters_before(session, before=_now() - older_than)

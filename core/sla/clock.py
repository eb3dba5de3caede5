"""The SLA engine's notion of "now".

Engine functions take `now` explicitly. Event handlers have no `now` of their own, so they read it
here: the wall clock, unless a caller (the SLA scan, a test) froze it for the duration of a block,
so that handlers run inside the scan see the scan's instant.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

_frozen: ContextVar[datetime | None] = ContextVar("sla_now", default=None)


def now() -> datetime:
    return _frozen.get() or datetime.now(UTC)


@contextmanager
def frozen(at: datetime) -> Iterator[datetime]:
    if at.tzinfo is None:
        raise ValueError("freeze the SLA clock with a timezone-aware datetime")
    token = _frozen.set(at)
    try:
        yield at
    finally:
        _frozen.reset(token)

"""Abuse limits on the mail channel, shared by every gateway replica through PostgreSQL.

Each limit is a fixed-window counter in `rate_limit_counters` (the table sign-in limits use):
one `INSERT ... ON CONFLICT DO UPDATE ... RETURNING count` per event, so two replicas counting
the same key at once serialise on its row and each gets its own, exact, number. A burst counts
exactly: the tenth mail of a burst sees 10, whether or not the first nine are processed yet.

The counts (MAIL_* and MAILGATEWAY_* settings):

* `peer`        messages per minute from one untrusted peer IP, at MAIL FROM (`451 4.7.1`);
* `sender`      mails per hour from one sender address (quarantined "rate limit");
* `new-tickets` tickets opened by mail per minute, all senders (quarantined "flood");
* `unverified-acks` acknowledgements per hour to senders nobody verified (none beyond it).

Where a count is taken matters for throughput, not correctness: in the caller's transaction the
counter row stays locked until that transaction commits (a worker's batch of mails), so the
mail worker counts in a short transaction of its own (`counting_apart`). A count taken there
stands even if the mail's own transaction rolls back and is retried: an attempt is an attempt,
and the error is on the safe side.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import repository as counters_repo

# (key, window in seconds) -> the count including this event.
Counter = Callable[[str, int], Awaitable[int]]

PEER_WINDOW = 60
SENDER_WINDOW = 3600
NEW_TICKET_WINDOW = 60
UNVERIFIED_ACK_WINDOW = 3600


def window_start(seconds: int, *, now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, UTC)


def counting_in(session: AsyncSession) -> Counter:
    """Count in the caller's transaction (the admin's release, tests)."""

    async def count(key: str, window: int) -> int:
        return await counters_repo.increment_counter(
            session, key=key[:300], window_start=window_start(window)
        )

    return count


def counting_apart(
    open_session: Callable[[], AbstractAsyncContextManager[AsyncSession]],
) -> Counter:
    """Count in a short transaction of its own, opened with `open_session` (the process's
    `db.session_scope`, which commits on exit)."""

    async def count(key: str, window: int) -> int:
        async with open_session() as session:
            return await counters_repo.increment_counter(
                session, key=key[:300], window_start=window_start(window)
            )

    return count


def peer_key(ip: str) -> str:
    return f"mail:peer:{ip}"


def sender_key(address: str) -> str:
    return f"mail:sender:{address.lower()}"


NEW_TICKETS_KEY = "mail:new-tickets"
UNVERIFIED_ACKS_KEY = "mail:unverified-acks"

"""Abuse limits on the mail channel, shared by every gateway replica through PostgreSQL.

Each limit is a fixed-window counter in `rate_limit_counters` (the table sign-in limits use),
added to with `INSERT ... ON CONFLICT DO UPDATE ... RETURNING count`: two replicas counting the
same key at once serialise on its row and each gets its own, exact, number. A burst counts
exactly: the tenth mail of a burst sees 10, whether or not the first nine are processed yet.
A window is fixed (the minute, the hour): a burst that straddles two windows can get up to
twice the limit across them.

The counts (MAIL_* and MAILGATEWAY_* settings):

* `peer`        messages per minute from one untrusted peer IP (IPv6: its /64), at MAIL FROM
                (`451 4.7.1`); the listener keeps these itself and adds them to PostgreSQL in
                batches (mailgateway/server.py);
* `sender`      mails per hour from one sender address (quarantined "rate limit");
* `new-tickets` tickets opened by mail per minute, all senders (quarantined "flood");
* `unverified-acks` acknowledgements per hour to senders nobody verified (none beyond it).

The pipeline takes a mail's counts in one statement. In the caller's transaction a counter row
(new tickets this minute, shared by every mail) would stay locked until that transaction commits
(a worker's batch), so a mail worker process counts on an autocommit connection of its own that
does not wait for the WAL flush (mailgateway/worker.py): a count lost in a crash costs nothing,
and a transaction per mail waiting for the disk cost the pipeline half its throughput. A count
taken there stands even if the mail's own transaction rolls back and is retried: an attempt is an
attempt, and the error is on the safe side.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy.ext.asyncio import AsyncSession

from core import db
from core.inbound import repository

# [(key, window in seconds, amount), ...] -> the counts including these, in the same order.
Counter = Callable[[list[tuple[str, int, int]]], Awaitable[list[int]]]

PEER_WINDOW = 60
SENDER_WINDOW = 3600
NEW_TICKET_WINDOW = 60
UNVERIFIED_ACK_WINDOW = 3600
NEW_TICKETS_KEY = "mail:new-tickets"
UNVERIFIED_ACKS_KEY = "mail:unverified-acks"
IPV6_PEER_PREFIX = 64  # one host, one subscriber line: a /64 is one peer


def window_start(seconds: int, *, now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, UTC)


async def take(conn: psycopg.AsyncConnection[Any], keys: list[tuple[str, int, int]]) -> list[int]:
    """Add to the counters of `keys` on `conn`; their counts, in the order of `keys`."""
    rows = [(key[:300], window_start(window), amount) for key, window, amount in keys]
    counts = await repository.bump_counters(conn, rows)
    return [counts[(key, start)] for key, start, _ in rows]


def counting_in(session: AsyncSession) -> Counter:
    """Count in the caller's transaction (the admin's release, tests)."""

    async def count(keys: list[tuple[str, int, int]]) -> list[int]:
        return await take(await db.driver_connection(session), keys)

    return count


def peer_key(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if isinstance(address, ipaddress.IPv6Address):
        network = ipaddress.IPv6Network((address, IPV6_PEER_PREFIX), strict=False)
        return f"mail:peer:{network}"
    return f"mail:peer:{address}"


def sender_key(address: str) -> str:
    return f"mail:sender:{address.lower()}"

"""All SQL of the inbound pipeline: storing received mail, claiming work, threading look-ups."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from core import db
from core.models import (
    Comment,
    InboundMessage,
    InboundStatus,
    OutboundEmail,
    Ticket,
    TicketParticipant,
    User,
)
from core.users import repository as users_repository

# Every accepted mail goes through here before its 250, on the listener's one event loop: the
# batch goes straight to the driver (one pipelined executemany, ids in the order given), which
# cost a fraction of the ORM's bulk insert with sorted RETURNING.
_INSERT_RECEIVED = """
    INSERT INTO inbound_messages (mail_from, rcpt_to, peer, helo, raw, raw_size, raw_sha256,
                                  status, received_at, next_attempt_at)
    VALUES (%(mail_from)s, %(rcpt_to)s, %(peer)s, %(helo)s, %(raw)s, %(raw_size)s,
            %(raw_sha256)s, %(status)s, COALESCE(%(received_at)s::timestamptz, now()),
            COALESCE(%(received_at)s::timestamptz, now()))
    RETURNING id
"""


async def insert_received(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert many received mails in the session's transaction; their ids in the order given."""
    if not rows:
        return []
    cursor = (await db.driver_connection(session)).cursor()
    try:
        await cursor.executemany(_INSERT_RECEIVED, list(rows), returning=True)
        ids: list[int] = []
        async for result in cursor.results():
            ids.append(int((await result.fetchone())[0]))
    finally:
        await cursor.close()
    return ids


_CLAIM = text(
    """
    WITH picked AS (
        SELECT id FROM inbound_messages
        WHERE status IN ('received', 'processing')
          AND next_attempt_at <= now()
          AND (status = 'received' OR locked_until < now())
        ORDER BY next_attempt_at, id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    UPDATE inbound_messages AS m
       SET status = 'processing',
           attempts = m.attempts + 1,
           locked_until = now() + make_interval(secs => :lease)
      FROM picked
     WHERE m.id = picked.id
    RETURNING m.id, m.attempts, m.raw_size
    """
)


class Claim(NamedTuple):
    id: int
    attempt: int
    raw_size: int


async def claim(session: AsyncSession, *, limit: int, lease_seconds: int) -> list[Claim]:
    """Claim up to `limit` due messages (received, or processing with an expired lease: a worker
    died) for this worker. Several workers never claim the same row."""
    result = await session.execute(_CLAIM, {"limit": limit, "lease": lease_seconds})
    return [Claim(row[0], row[1], row[2]) for row in result]


async def lock_claimed(session: AsyncSession, claims: Sequence[Claim]) -> dict[int, InboundMessage]:
    """The claimed rows that are still ours (same attempt, still processing), by id, locked for
    this transaction in id order. A worker whose lease ran out and was reclaimed by another finds
    its row missing and leaves it alone.

    It waits for the row locks rather than skipping locked rows: another worker's claim can hold
    the lock for a moment on a row it looked at and then left (PostgreSQL keeps the lock of a
    row that fails the FOR UPDATE recheck until that claim commits). Skipping made the rightful
    owner drop its message, which then sat `processing` until the lease ran out (5 minutes)."""
    attempts = {claim.id: claim.attempt for claim in claims}
    rows = await session.scalars(
        select(InboundMessage)
        .where(
            InboundMessage.id.in_(attempts),
            InboundMessage.status == InboundStatus.processing.value,
        )
        .order_by(InboundMessage.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {row.id: row for row in rows if row.attempts == attempts[row.id]}


# Several verdicts share one commit: each row's processed_at is moved to the moment just before
# it, so "processed at" (and the latency the bench reports from it) is when the result became
# visible, not when its own step finished.
async def stamp_processed(session: AsyncSession, inbound_ids: list[int]) -> None:
    await db.driver_execute(
        session,
        "UPDATE inbound_messages SET processed_at = clock_timestamp() WHERE id = ANY(%s)",
        (inbound_ids,),
    )


async def get(
    session: AsyncSession, message_id: int, *, for_update: bool = False
) -> InboundMessage | None:
    statement = select(InboundMessage).where(InboundMessage.id == message_id)
    if for_update:
        statement = statement.with_for_update()
    return await session.scalar(statement.execution_options(populate_existing=True))


async def set_retry(
    session: AsyncSession, *, message_id: int, attempt: int, delay_seconds: float, reason: str
) -> bool:
    result = await session.execute(
        update(InboundMessage)
        .where(
            InboundMessage.id == message_id,
            InboundMessage.status == InboundStatus.processing.value,
            InboundMessage.attempts == attempt,
        )
        .values(
            status=InboundStatus.received.value,
            next_attempt_at=func.now() + timedelta(seconds=delay_seconds),
            locked_until=None,
            reason=reason,
        )
    )
    return bool(result.rowcount)


# The verdict of every processed mail, straight to the driver (building an ORM update for each
# mail cost more than running it).
_RECORD_VERDICT = """
    UPDATE inbound_messages SET
        status = %(status)s, reason = %(reason)s, locked_until = NULL,
        processed_at = clock_timestamp(), parse_result = %(parse_result)s,
        ticket_id = %(ticket_id)s, comment_id = %(comment_id)s,
        message_id = COALESCE(%(message_id)s, message_id),
        subject = COALESCE(%(subject)s, subject),
        from_address = COALESCE(%(from_address)s, from_address),
        trust_level = COALESCE(%(trust_level)s, trust_level)
    WHERE id = %(inbound_id)s
      AND (CAST(%(attempt)s AS integer) IS NULL
           OR (status = 'processing' AND attempts = CAST(%(attempt)s AS integer)))
    """


async def record_verdict(
    session: AsyncSession,
    *,
    inbound_id: int,
    attempt: int | None,
    status: str,
    reason: str | None,
    parse_result: dict[str, Any],
    ticket_id: int | None,
    comment_id: int | None,
    message_id: str | None,
    subject: str | None,
    from_address: str | None,
    trust_level: str | None = None,
) -> bool:
    """Record the pipeline's verdict and what the parse learnt (None keeps a column as it is for
    the last three); with `attempt`, only if the row is still this worker's claim."""
    cursor = await db.driver_execute(
        session,
        _RECORD_VERDICT,
        {
            "inbound_id": inbound_id,
            "attempt": attempt,
            "status": status,
            "reason": reason,
            "parse_result": Jsonb(parse_result),
            "ticket_id": ticket_id,
            "comment_id": comment_id,
            "message_id": message_id,
            "subject": subject,
            "from_address": from_address,
            "trust_level": trust_level,
        },
    )
    return bool(cursor.rowcount)


async def set_final(
    session: AsyncSession,
    *,
    inbound_id: int,
    attempt: int | None,
    status: str,
    reason: str | None,
    **values: Any,
) -> bool:
    """Record a verdict (and any other columns in `values`); with `attempt`, only if the row is
    still this worker's claim."""
    statement = update(InboundMessage).where(InboundMessage.id == inbound_id)
    if attempt is not None:
        statement = statement.where(
            InboundMessage.status == InboundStatus.processing.value,
            InboundMessage.attempts == attempt,
        )
    result = await session.execute(
        statement.values(
            status=status,
            reason=reason,
            locked_until=None,
            processed_at=func.clock_timestamp(),
            **values,
        )
    )
    return bool(result.rowcount)


async def stuck_over_attempts(
    session: AsyncSession, *, max_attempts: int, limit: int = 100
) -> list[InboundMessage]:
    """Messages whose worker died `max_attempts` times (lease expired each time)."""
    result = await session.scalars(
        select(InboundMessage)
        .where(
            InboundMessage.status == InboundStatus.processing.value,
            InboundMessage.locked_until < func.now(),
            InboundMessage.attempts >= max_attempts,
        )
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(result)


async def xact_lock(session: AsyncSession, key: str) -> None:
    """Serialise work on one key (a Message-ID) until this transaction ends."""
    await db.driver_execute(
        session, "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,)
    )


async def comment_with_message_id(session: AsyncSession, message_id: str) -> tuple[int, int] | None:
    """(comment id, ticket id) of the comment that came with this Message-ID. Comments are
    flushed as they are added, so one added earlier in this transaction is found too."""
    cursor = await db.driver_execute(
        session, "SELECT id, ticket_id FROM comments WHERE message_id = %s LIMIT 1", (message_id,)
    )
    row = await cursor.fetchone()
    return (row[0], row[1]) if row else None


async def earlier_copy_by_digest(
    session: AsyncSession, *, exclude_id: int, raw_sha256: str
) -> tuple[int, int | None] | None:
    """(inbound id, ticket id) of an earlier byte-identical copy that became a comment."""
    row = (
        await session.execute(
            select(InboundMessage.id, InboundMessage.ticket_id)
            .where(
                InboundMessage.raw_sha256 == raw_sha256,
                InboundMessage.id != exclude_id,
                InboundMessage.status == InboundStatus.processed.value,
                InboundMessage.comment_id.is_not(None),
            )
            .order_by(InboundMessage.id)
            .limit(1)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def outbound_recipients(session: AsyncSession, message_ids: list[str]) -> set[str]:
    """Who the mails we sent with these Message-IDs went to (lowercased)."""
    if not message_ids:
        return set()
    rows = await session.scalars(
        select(OutboundEmail.recipient).where(OutboundEmail.message_id.in_(message_ids[:100]))
    )
    return {recipient.lower() for recipient in rows}


async def ticket_ids_for_message_ids(session: AsyncSession, message_ids: list[str]) -> list[int]:
    """Tickets that own any of these Message-IDs: mail we sent, comments, thread starters.
    Returned in the order of `message_ids` (the caller lists the most specific first)."""
    if not message_ids:
        return []
    found: dict[str, int] = {}
    outbound = await session.execute(
        select(OutboundEmail.message_id, OutboundEmail.ticket_id).where(
            OutboundEmail.message_id.in_(message_ids), OutboundEmail.ticket_id.is_not(None)
        )
    )
    comments = await session.execute(
        select(Comment.message_id, Comment.ticket_id).where(Comment.message_id.in_(message_ids))
    )
    threads = await session.execute(
        select(Ticket.thread_message_id, Ticket.id).where(Ticket.thread_message_id.in_(message_ids))
    )
    for rows in (outbound, comments, threads):
        for mid, ticket_id in rows:
            if mid is not None and ticket_id is not None:
                found.setdefault(mid, ticket_id)
    return [found[mid] for mid in message_ids if mid in found]


async def outbound_ticket_id(session: AsyncSession, message_id: str) -> int | None:
    return await session.scalar(
        select(OutboundEmail.ticket_id).where(OutboundEmail.message_id == message_id).limit(1)
    )


async def team_addresses(session: AsyncSession) -> list[str]:
    return list(await users_repository.team_emails(session))


async def is_participant(session: AsyncSession, *, ticket_id: int, user_id: int) -> bool:
    return (
        await session.scalar(
            select(TicketParticipant.user_id).where(
                TicketParticipant.ticket_id == ticket_id, TicketParticipant.user_id == user_id
            )
        )
        is not None
    )


async def users_by_emails(session: AsyncSession, emails: list[str]) -> list[User]:
    if not emails:
        return []
    result = await session.scalars(select(User).where(User.email.in_(emails)))
    return list(result)


async def list_messages(
    session: AsyncSession,
    *,
    status: str | None,
    q: str | None,
    before_id: int | None,
    limit: int,
    trust_level: str | None = None,
) -> list[InboundMessage]:
    statement = select(InboundMessage).order_by(InboundMessage.id.desc()).limit(limit)
    if status:
        statement = statement.where(InboundMessage.status == status)
    if trust_level:
        statement = statement.where(InboundMessage.trust_level == trust_level)
    if before_id is not None:
        statement = statement.where(InboundMessage.id < before_id)
    if q:
        pattern = f"%{q.strip()}%"
        statement = statement.where(
            or_(
                InboundMessage.subject.ilike(pattern),
                InboundMessage.from_address.ilike(pattern),
                InboundMessage.mail_from.ilike(pattern),
                InboundMessage.message_id.ilike(pattern),
                InboundMessage.reason.ilike(pattern),
            )
        )
    # The list never needs the raw bytes.
    result = await session.scalars(statement.options(defer(InboundMessage.raw)))
    return list(result)


_BUMP_COUNTERS = """
    INSERT INTO rate_limit_counters (key, window_start, count)
    SELECT key, window_start, n
    FROM unnest(%(keys)s::text[], %(windows)s::timestamptz[], %(ns)s::int[])
        AS t(key, window_start, n)
    ON CONFLICT (key, window_start)
        DO UPDATE SET count = rate_limit_counters.count + EXCLUDED.count
    RETURNING key, window_start, count
    """


async def bump_counters(
    conn: psycopg.AsyncConnection[Any], increments: list[tuple[str, datetime, int]]
) -> dict[tuple[str, datetime], int]:
    """Add to several abuse-limit counters in one statement; their new counts by (key, window).
    `conn` is a session's driver connection (`db.driver_connection`) or a process's own
    autocommit connection. The rows are taken in key order, so two transactions counting
    overlapping keys cannot deadlock."""
    rows = sorted(increments)
    cursor = await conn.execute(
        _BUMP_COUNTERS,
        {
            "keys": [key for key, _, _ in rows],
            "windows": [window for _, window, _ in rows],
            "ns": [n for _, _, n in rows],
        },
    )
    return {(key, window): int(count) for key, window, count in await cursor.fetchall()}

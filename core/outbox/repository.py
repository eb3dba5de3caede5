"""All SQL about the outbox: enqueue, loop-guard counts, thread ids, the sender's claim/lease
bookkeeping, and the admin log.

The sender's statements are single statements on an autocommit connection: each one is its own
transaction, so a claim, a hand-over mark or a result is durable the moment it returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core import db
from core.models import (
    Attachment,
    AttachmentStatus,
    Comment,
    OutboundEmail,
    OutboundStatus,
    Ticket,
    User,
)

Executor = AsyncSession | AsyncConnection


# --- enqueue --------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueuedEmail:
    """What enqueueing wrote (the row itself stays in the database: reading it back as an ORM
    object cost more than writing it)."""

    id: int
    subject: str
    status: str


_INSERT_EMAIL = """
    INSERT INTO outbound_emails (kind, event_key, ticket_id, comment_id, recipient, locale,
        from_address, reply_to, subject, message_id, headers, body_text, body_html, raw, status,
        last_error)
    VALUES (%(kind)s, %(event_key)s, %(ticket_id)s, %(comment_id)s, %(recipient)s, %(locale)s,
        %(from_address)s, %(reply_to)s, %(subject)s, %(message_id)s, %(headers)s, %(body_text)s,
        %(body_html)s, %(raw)s, %(status)s, %(last_error)s)
    ON CONFLICT (event_key, recipient) DO NOTHING
    RETURNING id
"""


async def insert_email(session: AsyncSession, values: dict[str, Any]) -> QueuedEmail | None:
    """Insert one row; None when (event_key, recipient) is already there (the same event twice).
    Straight to the driver: it runs for every notification."""
    driver = await db.driver_connection(session)
    cursor = await driver.execute(_INSERT_EMAIL, {**values, "headers": Jsonb(values["headers"])})
    row = await cursor.fetchone()
    if row is None:
        return None
    return QueuedEmail(id=row[0], subject=values["subject"], status=values["status"])


# Loop-guard counts. Each reads the ages of the recipient's mails (not suppressed) within the
# widest window and counts per window here: the guards cap those mails, so there are few, and a
# fixed statement on the driver costs a fraction of building a windowed-count select for every
# mail.
_AGES_ABOUT_TICKET = """
    SELECT extract(epoch FROM now() - created_at) FROM outbound_emails
    WHERE ticket_id = %(ticket_id)s AND recipient = %(recipient)s AND status <> 'suppressed'
      AND created_at > now() - make_interval(mins => %(widest)s)
    """
_AGES_WITHOUT_TICKET = """
    SELECT extract(epoch FROM now() - created_at) FROM outbound_emails
    WHERE ticket_id IS NULL AND recipient = %(recipient)s AND kind = %(kind)s
      AND status <> 'suppressed' AND created_at > now() - make_interval(mins => %(widest)s)
    """
# Acknowledgements go through the requester's recent tickets (tickets are touched when they
# open, so updated_at bounds them) and then the (ticket_id, recipient) index.
_AGES_OF_ACKNOWLEDGEMENTS = """
    SELECT extract(epoch FROM now() - o.created_at) FROM outbound_emails o
    WHERE o.ticket_id IN (
            SELECT t.id FROM tickets t
            WHERE t.requester_id = %(requester_id)s
              AND t.updated_at > now() - make_interval(mins => %(widest)s)
              AND t.created_at > now() - make_interval(mins => %(widest)s))
      AND o.recipient = %(recipient)s AND o.kind = 'acknowledgement' AND o.status <> 'suppressed'
      AND o.created_at > now() - make_interval(mins => %(widest)s)
    """


async def _windowed_counts(
    session: AsyncSession, statement: Any, windows_min: Sequence[int], **params: Any
) -> list[int]:
    if not windows_min:
        return []
    cursor = await db.driver_execute(session, statement, {**params, "widest": max(windows_min)})
    ages = [float(age) for (age,) in await cursor.fetchall()]
    return [sum(1 for age in ages if age < minutes * 60) for minutes in windows_min]


async def sent_counts_for_ticket(
    session: AsyncSession, *, recipient: str, ticket_id: int, windows_min: Sequence[int]
) -> list[int]:
    """How many non-suppressed mails went to `recipient` about `ticket_id` in each window."""
    return await _windowed_counts(
        session, _AGES_ABOUT_TICKET, windows_min, recipient=recipient, ticket_id=ticket_id
    )


async def ticketless_counts(
    session: AsyncSession, *, recipient: str, kind: str, windows_min: Sequence[int]
) -> list[int]:
    """Per window: non-suppressed mails of `kind` about no ticket (sign-in links) to `recipient`.
    `ticket_id IS NULL` keeps this on the (ticket_id, recipient, created_at) index."""
    return await _windowed_counts(
        session, _AGES_WITHOUT_TICKET, windows_min, recipient=recipient, kind=kind
    )


async def acknowledgement_counts(
    session: AsyncSession, *, recipient: str, requester_id: int, windows_min: Sequence[int]
) -> list[int]:
    """Per window: acknowledgements sent to `recipient` for tickets they opened, over all of
    their tickets."""
    await session.flush()  # the statement reads tickets, which the session may be changing
    return await _windowed_counts(
        session,
        _AGES_OF_ACKNOWLEDGEMENTS,
        windows_min,
        recipient=recipient,
        requester_id=requester_id,
    )


async def thread_message_ids(session: AsyncSession, *, ticket: Ticket) -> list[str]:
    """The ticket's thread in time order: the opening mail, every comment that came by mail, and
    every notification we sent about it (suppressed ones never left, so they are not part of it)."""
    comments = select(Comment.created_at, Comment.message_id).where(
        Comment.ticket_id == ticket.id, Comment.message_id.is_not(None)
    )
    outbound = select(OutboundEmail.created_at, OutboundEmail.message_id).where(
        OutboundEmail.ticket_id == ticket.id,
        OutboundEmail.status != OutboundStatus.suppressed.value,
    )
    rows = (await session.execute(comments.union_all(outbound))).all()
    ordered = [mid for _, mid in sorted(rows, key=lambda r: r[0])]
    ids: list[str] = []
    if ticket.thread_message_id:
        ids.append(ticket.thread_message_id)
    for mid in ordered:
        if mid and mid not in ids:
            ids.append(mid)
    return ids


async def bouncing_user(session: AsyncSession, address: str) -> User | None:
    return await session.scalar(
        select(User).where(User.email == address, User.bouncing_since.is_not(None))
    )


# --- admin log ------------------------------------------------------------------------------


async def list_emails(
    session: AsyncSession,
    *,
    status: str | None = None,
    q: str | None = None,
    ticket_id: int | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[OutboundEmail]:
    statement = select(OutboundEmail).order_by(OutboundEmail.id.desc()).limit(limit)
    if status:
        statement = statement.where(OutboundEmail.status == status)
    if ticket_id is not None:
        statement = statement.where(OutboundEmail.ticket_id == ticket_id)
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        statement = statement.where(
            or_(OutboundEmail.recipient.ilike(pattern), OutboundEmail.subject.ilike(pattern))
        )
    if before_id is not None:
        statement = statement.where(OutboundEmail.id < before_id)
    return list(await session.scalars(statement))


async def get_email(
    session: AsyncSession, email_id: int, *, for_update: bool = False
) -> OutboundEmail | None:
    statement = select(OutboundEmail).where(OutboundEmail.id == email_id)
    if for_update:
        statement = statement.with_for_update()
    return await session.scalar(statement)


async def requeue(session: AsyncSession, email_id: int) -> None:
    await session.execute(
        update(OutboundEmail)
        .where(OutboundEmail.id == email_id)
        .values(
            status=OutboundStatus.queued.value,
            attempts=0,
            next_attempt_at=func.now(),
            locked_until=None,
            last_error=None,
            sent_at=None,
        )
    )


# --- the sender -----------------------------------------------------------------------------

IN_DOUBT_NOTE = (
    "unconfirmed: a sender stopped after handing this message to the relay and before it could "
    "record the relay's answer; it is not sent again, to avoid a duplicate. If the relay log shows "
    "no delivery for its Message-ID, retry it from the outbound log."
)

_CLAIM_SQL = """
    WITH due AS (
        SELECT id FROM outbound_emails
        WHERE status IN ('queued', 'sending') AND next_attempt_at <= now()
        ORDER BY next_attempt_at, id
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    )
    UPDATE outbound_emails AS o SET
        status = CASE WHEN o.status = 'sending' AND o.sent_at IS NOT NULL
                      THEN 'sent' ELSE 'sending' END,
        last_error = CASE WHEN o.status = 'sending' AND o.sent_at IS NOT NULL
                          THEN %(in_doubt)s ELSE o.last_error END,
        attempts = CASE WHEN o.status = 'sending' AND o.sent_at IS NOT NULL
                        THEN o.attempts ELSE o.attempts + 1 END,
        locked_until = CASE WHEN o.status = 'sending' AND o.sent_at IS NOT NULL
                            THEN NULL ELSE now() + make_interval(secs => %(lease)s) END,
        next_attempt_at = CASE WHEN o.status = 'sending' AND o.sent_at IS NOT NULL
                               THEN o.next_attempt_at
                               ELSE now() + make_interval(secs => %(lease)s) END
    FROM due
    WHERE o.id = due.id
    -- in ClaimedEmail's field order; the parts compose needs come back only when the bytes were
    -- not written at enqueue time (or a comment's files may have to be attached)
    RETURNING o.id, o.status, o.kind, o.ticket_id, o.comment_id, o.locale, o.recipient,
              o.from_address, o.reply_to, o.subject, o.message_id,
              CASE WHEN o.raw IS NULL OR o.comment_id IS NOT NULL THEN o.headers END,
              CASE WHEN o.raw IS NULL OR o.comment_id IS NOT NULL THEN o.body_text END,
              CASE WHEN o.raw IS NULL OR o.comment_id IS NOT NULL THEN o.body_html END,
              o.raw, o.created_at, o.attempts, o.locked_until,
              (SELECT u.bouncing_since FROM users u WHERE u.email = o.recipient::citext),
              (SELECT u.bounce_reason FROM users u WHERE u.email = o.recipient::citext)
"""

# The hand-over marks, written just before DATA, and the outcomes after it. Their commits need not
# wait for the WAL flush (synchronous_commit off for that one transaction, via set_config so it
# stays one round trip): they must survive a crash of the sender, not of the database; see
# scheduler/mailsender.py for the whole argument. They run for every mail, so they go straight to
# the driver (psycopg placeholders), and successes ride along with the next marks: one statement
# marks every lane's next mail and records every lane's last success (group commit).
_MARK_HANDING = """
    WITH sent AS (
        UPDATE outbound_emails AS o
        SET status = 'sent', last_error = NULL, sent_at = COALESCE(o.sent_at, now()),
            locked_until = NULL
        FROM unnest(%(sent_ids)s::bigint[], %(sent_leases)s::timestamptz[]) AS s(id, lease)
        WHERE o.id = s.id AND o.status = 'sending' AND o.locked_until = s.lease
          AND set_config('synchronous_commit', 'off', true) IS NOT NULL
    ),
    marked AS (
        UPDATE outbound_emails AS o SET sent_at = now()
        FROM unnest(%(ids)s::bigint[], %(leases)s::timestamptz[]) AS m(id, lease)
        WHERE o.id = m.id AND o.status = 'sending' AND o.locked_until = m.lease
          AND set_config('synchronous_commit', 'off', true) IS NOT NULL
        RETURNING o.id
    )
    SELECT id FROM marked
"""

_FINISH = """
    UPDATE outbound_emails AS o SET
        status = v.status,
        last_error = v.error,
        attempts = o.attempts - v.undo,
        sent_at = CASE WHEN v.status = 'sent' THEN COALESCE(o.sent_at, now()) ELSE NULL END,
        next_attempt_at = CASE WHEN v.status = 'queued'
                               THEN now() + make_interval(secs => v.delay)
                               ELSE o.next_attempt_at END,
        locked_until = NULL
    FROM unnest(%(ids)s::bigint[], %(statuses)s::text[], %(errors)s::text[],
                %(delays)s::float8[], %(undo)s::int[], %(leases)s::timestamptz[])
         AS v(id, status, error, delay, undo, lease)
    WHERE o.id = v.id AND o.status = 'sending' AND o.locked_until = v.lease
      AND set_config('synchronous_commit', 'off', true) IS NOT NULL
"""


async def _driver(conn: AsyncConnection) -> Any:
    """The psycopg connection under `conn` (which is in autocommit mode)."""
    raw = await conn.get_raw_connection()
    return raw.driver_connection


@dataclass(frozen=True)
class ClaimedEmail:
    id: int
    status: str
    kind: str
    ticket_id: int | None
    comment_id: int | None
    locale: str
    recipient: str
    from_address: str
    reply_to: str | None
    subject: str
    message_id: str
    headers: dict[str, Any] | None  # None when `raw` holds the whole message
    body_text: str | None
    body_html: str | None
    raw: bytes | None
    created_at: datetime
    attempts: int
    locked_until: datetime | None
    bouncing_since: datetime | None
    bounce_reason: str | None


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed row: sent, queued again (after `delay` s), failed, suppressed,
    or released unsent (`undo` = 1 gives the claim's attempt back)."""

    id: int
    lease: datetime
    status: str
    error: str | None = None
    delay: float = 0.0
    undo: int = 0


async def claim_due(
    conn: AsyncConnection, *, limit: int, lease_seconds: float
) -> list[ClaimedEmail]:
    # Straight to the driver, like the marks: SQLAlchemy's row processing cost more than the
    # statement itself (about 70 us a row, 50 rows a claim).
    cursor = await (await _driver(conn)).execute(
        _CLAIM_SQL,
        {"limit": limit, "lease": float(lease_seconds), "in_doubt": IN_DOUBT_NOTE},
        binary=True,  # the bytes of `raw` as they are, not hex text to decode
    )
    return [ClaimedEmail(*row) for row in await cursor.fetchall()]


async def mark_handing(
    conn: AsyncConnection | psycopg.AsyncConnection[Any],
    *,
    marks: Sequence[tuple[int, datetime]] = (),
    sent: Sequence[Outcome] = (),
) -> set[int]:
    """Record that DATA is about to start for each (id, lease) in `marks`, and the successes in
    `sent`; the ids whose mark held (the others' leases were lost to another sender)."""
    driver = conn if isinstance(conn, psycopg.AsyncConnection) else await _driver(conn)
    cursor = await driver.execute(
        _MARK_HANDING,
        {
            "ids": [email_id for email_id, _ in marks],
            "leases": [lease for _, lease in marks],
            "sent_ids": [o.id for o in sent],
            "sent_leases": [o.lease for o in sent],
        },
    )
    return {row[0] for row in await cursor.fetchall()}


async def finish(conn: AsyncConnection, outcomes: Sequence[Outcome]) -> int:
    if not outcomes:
        return 0
    cursor = await (await _driver(conn)).execute(
        _FINISH,
        {
            "ids": [o.id for o in outcomes],
            "statuses": [o.status for o in outcomes],
            "errors": [o.error for o in outcomes],
            "delays": [float(o.delay) for o in outcomes],
            "undo": [o.undo for o in outcomes],
            "leases": [o.lease for o in outcomes],
        },
    )
    return int(cursor.rowcount or 0)


async def public_attachments(conn: Executor, *, comment_id: int) -> list[Any]:
    """The stored files of a (public) comment, as the sender attaches or links them."""
    result = await conn.execute(
        select(
            Attachment.id,
            Attachment.filename,
            Attachment.content_type,
            Attachment.size,
            Attachment.storage_key,
        )
        .where(
            Attachment.comment_id == comment_id,
            Attachment.status == AttachmentStatus.stored.value,
        )
        .order_by(Attachment.id)
    )
    return list(result)


async def count_by_status(conn: Executor) -> dict[str, int]:
    result = await conn.execute(
        select(OutboundEmail.status, func.count()).group_by(OutboundEmail.status)
    )
    return {status: int(n) for status, n in result}

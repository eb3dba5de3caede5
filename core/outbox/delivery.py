"""Deliver one batch of due outbox rows through one transport, and record what became of each.

The protocol, row by row (the why is in scheduler/mailsender.py):

1. claim: one statement marks up to `batch_size` due rows `sending` with a lease (FOR UPDATE SKIP
   LOCKED, so concurrent senders never take the same row); a row whose lease ran out while it was
   marked as handed over is settled as sent-unconfirmed instead of being sent again;
2. MAIL FROM / RCPT TO / DATA, and meanwhile the hand-over mark (`sent_at`), fenced by the lease;
3. once the mark holds, the content, then the outcome, fenced by the lease too: refusals and
   outages are recorded at once, a success together with the next mail's hand-over mark (or at
   the end of the batch).

Marks and outcomes commit without waiting for the WAL flush: each must survive a crash of the
sender, not of the database, and WAL order means an outcome never survives without its mark.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core import db
from core.errors import NotFound
from core.outbox import compose, repository
from core.outbox import render as rendering
from core.outbox.repository import ClaimedEmail, Outcome
from core.outbox.transport import Accepted, LeaseLost, Refused, RelayUnavailable, Transport
from core.storage import Storage

logger = logging.getLogger(__name__)

ATTACH_MAX_BYTES = 2 * 1024 * 1024  # larger public attachments are linked, not attached
ATTACH_TOTAL_MAX_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class SenderOptions:
    lanes: int = 8  # concurrent SMTP connections per sender process
    batch_size: int = 25
    lease_seconds: float = 300.0  # a dead sender's rows are taken over after this
    retry_base_seconds: float = 60.0  # 1 min, 2, 4, 8 ... capped at retry_max_seconds
    retry_max_seconds: float = 1800.0
    max_attempts: int = 15  # about 6 hours of relay outage before a mail is given up
    poll_interval: float = 1.0
    smtp_timeout: float = 30.0


@dataclass
class BatchReport:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    suppressed: int = 0
    unconfirmed: int = 0
    released: int = 0
    lease_lost: int = 0
    relay_down: bool = False

    def add(self, other: BatchReport) -> None:
        for name in (
            "claimed",
            "sent",
            "retried",
            "failed",
            "suppressed",
            "unconfirmed",
            "released",
            "lease_lost",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.relay_down = self.relay_down or other.relay_down


class AttachmentUnavailable(Exception):
    pass


def retry_delay(attempts: int, options: SenderOptions) -> float:
    """Exponential backoff with +-20 % jitter, so a recovered relay is not hit by every row at
    the same instant."""
    base = min(options.retry_base_seconds * 2 ** max(attempts - 1, 0), options.retry_max_seconds)
    return base * random.uniform(0.8, 1.2)


def temporary_outcome(row: ClaimedEmail, error: str, options: SenderOptions) -> Outcome:
    assert row.locked_until is not None
    if row.attempts >= options.max_attempts:
        return Outcome(
            row.id,
            row.locked_until,
            "failed",
            error=f"gave up after {row.attempts} attempts; last error: {error}",
        )
    return Outcome(
        row.id,
        row.locked_until,
        "queued",
        error=f"attempt {row.attempts} of {options.max_attempts}: {error}",
        delay=retry_delay(row.attempts, options),
    )


def _attachment_meta(file: Any, url: str | None = None) -> dict[str, Any]:
    meta = {"filename": file.filename, "size_label": rendering.size_label(file.size)}
    if url:
        meta["url"] = url
    return meta


async def message_bytes(
    conn: AsyncConnection,
    row: ClaimedEmail,
    *,
    storage: Callable[[], Storage],
    api_base_url: str,
) -> bytes:
    """The message as the relay receives it. A comment's public files are attached when small
    (up to ATTACH_MAX_BYTES each, ATTACH_TOTAL_MAX_BYTES together) and linked otherwise; the
    links go to the API's permission-checked download."""
    files = (
        await repository.public_attachments(conn, comment_id=row.comment_id)
        if row.comment_id is not None
        else []
    )
    if not files and row.raw is not None:
        return row.raw  # written at enqueue time
    assert row.headers is not None and row.body_text is not None  # claimed with the parts
    attachments: list[compose.MailAttachment] = []
    extra_text = extra_html = None
    if files:
        attached: list[dict[str, Any]] = []
        linked: list[dict[str, Any]] = []
        total = 0
        for file in files:
            url = f"{api_base_url.rstrip('/')}/api/v1/attachments/{file.id}"
            if file.size > ATTACH_MAX_BYTES or total + file.size > ATTACH_TOTAL_MAX_BYTES:
                linked.append(_attachment_meta(file, url))
                continue
            try:
                data = await storage().get(file.storage_key)
            except NotFound:
                logger.warning("attachment %s of mail %s is gone; linked instead", file.id, row.id)
                linked.append(_attachment_meta(file, url))
                continue
            except Exception as exc:  # storage down: try the whole mail again later
                raise AttachmentUnavailable(
                    f"attachment {file.filename!r} could not be read: {exc}"
                ) from exc
            attachments.append(compose.MailAttachment(file.filename, file.content_type, data))
            attached.append(_attachment_meta(file))
            total += file.size
        extra_text, extra_html = rendering.render_attachments(
            row.locale, attached=attached, linked=linked
        )
    return compose.message_bytes(
        from_address=row.from_address,
        to=row.headers.get("To") or row.recipient,
        subject=row.subject,
        message_id=row.message_id,
        date=row.created_at,
        reply_to=row.reply_to,
        headers={k: v for k, v in row.headers.items() if k != "To"},
        text=row.body_text,
        html=row.body_html,
        attachments=attachments,
        extra_text=extra_text,
        extra_html=extra_html,
    )


async def claim_batch(engine: AsyncEngine, options: SenderOptions) -> list[ClaimedEmail]:
    """Claim up to `options.batch_size` due rows (their lease starts now)."""
    async with engine.connect() as raw_conn:
        conn = await raw_conn.execution_options(isolation_level="AUTOCOMMIT")
        return await repository.claim_due(
            conn, limit=options.batch_size, lease_seconds=options.lease_seconds
        )


def _default_storage() -> Storage:
    from core.storage import get_storage

    return get_storage()


async def deliver_batch(
    engine: AsyncEngine,
    transport: Transport,
    *,
    envelope_sender: str,
    options: SenderOptions,
    should_stop: Callable[[], bool] = lambda: False,
    storage: Callable[[], Storage] = _default_storage,
    api_base_url: str = "",
    marks: HandOverMarks | None = None,
    rows: list[ClaimedEmail] | None = None,
) -> BatchReport:
    """Deliver `rows` (claimed beforehand with `claim_batch`), or claim a batch first."""
    report = BatchReport()
    if rows is None:
        rows = await claim_batch(engine, options)
    async with engine.connect() as raw_conn:
        conn = await raw_conn.execution_options(isolation_level="AUTOCOMMIT")
        report.claimed = len(rows)
        book = _Bookkeeper(conn, marks)
        try:
            await _deliver_rows(
                rows,
                book,
                transport,
                report,
                envelope_sender=envelope_sender,
                options=options,
                should_stop=should_stop,
                storage=storage,
                api_base_url=api_base_url,
            )
        finally:
            await book.flush()
    return report


class HandOverMarks:
    """Group commit of hand-over marks: every lane's request that arrives while a statement is
    in flight goes into the next one, so N lanes cost about one statement per N mails instead
    of one per mail. Each mail is still marked before its own content goes out; a held success
    rides along. Shared by the lanes of one sender. It keeps a connection of its own, outside
    the pool, with synchronous_commit off for the whole session (see scheduler/mailsender.py).
    One statement at a time measured best in bench/outbound: two or four in flight, each on its
    own connection, split the batches into more statements for the same mails (ratio 0.30-0.39
    against 0.36-0.42)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._pending: list[
            tuple[tuple[int, datetime] | None, Outcome | None, asyncio.Future[bool]]
        ] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._conn: psycopg.AsyncConnection[Any] | None = None

    async def mark(self, mark: tuple[int, datetime] | None, sent: Outcome | None) -> bool:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="mailsender-marks")
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((mark, sent, future))
        self._wakeup.set()
        return await future

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None:
            self._conn = await db.connect_autocommit(
                self.engine,
                application_name="servicedesk-mailsender-marks",
                options="-c synchronous_commit=off",
            )
        return self._conn

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            batch, self._pending = self._pending, []
            if not batch:
                continue
            try:
                conn = await self._connection()
                held = await repository.mark_handing(
                    conn,
                    marks=[m for m, _, _ in batch if m is not None],
                    sent=[o for _, o, _ in batch if o is not None],
                )
            except Exception as exc:  # database trouble: every waiting lane hears of it
                await self._drop_connection()
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for mark, _, future in batch:
                if not future.done():
                    future.set_result(mark is None or mark[0] in held)

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._drop_connection()


class _Bookkeeper:
    """Records outcomes. A success is held back and written together with the next mail's
    hand-over mark (one statement instead of two); `flush` writes whatever is still held."""

    def __init__(self, conn: AsyncConnection, marks: HandOverMarks | None) -> None:
        self.conn = conn
        self.marks = marks
        self.sent: Outcome | None = None

    def _take(self) -> Outcome | None:
        sent, self.sent = self.sent, None
        return sent

    async def record(self, *outcomes: Outcome) -> None:
        held = self._take()
        await repository.finish(self.conn, [*([held] if held else []), *outcomes])

    async def _mark(self, mark: tuple[int, datetime] | None, sent: Outcome | None) -> bool:
        if self.marks is not None:
            return await self.marks.mark(mark, sent)
        held = await repository.mark_handing(
            self.conn, marks=[mark] if mark else [], sent=[sent] if sent else []
        )
        return mark is None or mark[0] in held

    def hand_over(self, row: ClaimedEmail, lease: datetime) -> Callable[[], Awaitable[bool]]:
        async def mark() -> bool:
            return await self._mark((row.id, lease), self._take())

        return mark

    async def flush(self) -> None:
        held = self._take()
        if held is not None:
            await self._mark(None, held)


async def _deliver_rows(
    rows: list[ClaimedEmail],
    book: _Bookkeeper,
    transport: Transport,
    report: BatchReport,
    *,
    envelope_sender: str,
    options: SenderOptions,
    should_stop: Callable[[], bool],
    storage: Callable[[], Storage],
    api_base_url: str,
) -> None:
    for index, row in enumerate(rows):
        if row.status != "sending":
            report.unconfirmed += 1
            logger.warning("outbound mail %s settled as sent-unconfirmed", row.id)
            continue
        assert row.locked_until is not None
        lease = row.locked_until
        if should_stop():
            unsent = [r for r in rows[index:] if r.status == "sending"]
            await book.record(
                *(Outcome(r.id, r.locked_until, "queued", undo=1) for r in unsent)  # type: ignore[arg-type]
            )
            report.released += len(unsent)
            return
        if row.bouncing_since is not None:
            reason = f": {row.bounce_reason}" if row.bounce_reason else ""
            await book.record(
                Outcome(
                    row.id,
                    lease,
                    "suppressed",
                    error=f"not sent: {row.recipient} is bouncing since "
                    f"{row.bouncing_since:%Y-%m-%d}{reason}",
                )
            )
            report.suppressed += 1
            continue
        try:
            data = await message_bytes(book.conn, row, storage=storage, api_base_url=api_base_url)
        except AttachmentUnavailable as exc:
            await book.record(temporary_outcome(row, str(exc), options))
            report.retried += 1
            continue
        except Exception as exc:
            logger.exception("outbound mail %s could not be built", row.id)
            await book.record(Outcome(row.id, lease, "failed", error=f"could not build: {exc}"))
            report.failed += 1
            continue
        try:
            result = await transport.send(
                email_id=row.id,
                sender=envelope_sender,
                recipient=row.recipient,
                data=data,
                before_data=book.hand_over(row, lease),
            )
        except RelayUnavailable as exc:
            report.relay_down = True
            pending = [r for r in rows[index:] if r.status == "sending"]
            outcomes = [temporary_outcome(r, str(exc), options) for r in pending]
            await book.record(*outcomes)
            report.retried += sum(1 for o in outcomes if o.status == "queued")
            report.failed += sum(1 for o in outcomes if o.status == "failed")
            return
        if isinstance(result, Accepted):
            await book.flush()  # only if the mark did not carry it (a sink without DATA)
            book.sent = Outcome(row.id, lease, "sent")
            report.sent += 1
        elif isinstance(result, Refused):
            if result.permanent:
                outcome = Outcome(row.id, lease, "failed", error=result.detail)
            else:
                outcome = temporary_outcome(row, result.detail, options)
            await book.record(outcome)
            if outcome.status == "failed":
                report.failed += 1
            else:
                report.retried += 1
        elif isinstance(result, LeaseLost):
            report.lease_lost += 1

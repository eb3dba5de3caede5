"""The outbound mail sender: a continuous loop that delivers the outbox (core/outbox).

Where it runs. The scheduler process starts `run_sender` as a task next to its jobs (unless
SCHEDULER_RUN_MAILSENDER=false), and `servicedesk mailsender` runs it alone. It is deliberately not
an APScheduler job: jobs run only on the elected leader, and mail must not wait for an election or
for the next tick. It does not need a leader at all: rows are claimed with FOR UPDATE SKIP LOCKED,
so every replica's sender can work the same queue side by side, and adding a `mailsender` process
adds throughput.

Exactly once per (event, recipient). The outbox row is unique per (event_key, recipient), so a
mail is enqueued once; the hard part is the window between the relay's 250 and our database
update. A row moves queued -> sending (with a lease, `locked_until`) -> sent/queued/failed, and
before the message's content goes out the sender records the hand-over (`sent_at`), fenced by its
lease:

* a sender that dies before the hand-over mark never sent the content: when the lease runs out
  the row is simply claimed again and sent (no duplicate is possible; an unfinished SMTP
  transaction is discarded by the relay);
* a sender that dies after the mark may or may not have had the message accepted. We prefer not
  to send it again: the row is settled as `sent` with a note ("unconfirmed: ...") in `last_error`
  that names the Message-ID to look for in the relay's log, and an admin can retry it from the
  outbound log. The window is one SMTP transaction per connection (milliseconds), so this trades a
  possible duplicate in a rare crash for a possible loss in a rarer one, visibly recorded
  (tests/outbound/test_sender.py SIGKILLs a sender while the relay holds a mail's 250);
* a connection dropped during DATA is treated like any MTA treats it: a temporary failure, retried
  (RFC 5321 4.1.1.4 leaves the outcome unknown; a duplicate is possible and carries the same
  Message-ID, which mail clients fold together).

Cost. The mark is written while MAIL FROM, RCPT TO and DATA are exchanged and awaited before the
content goes out (the relay keeps nothing until the content's final dot), so its round trip hides
behind theirs; the marks of all lanes are group-committed (one statement marks every lane's next
mail), each mail's success rides along with the next mark, and that connection runs with
synchronous_commit off: a mark must survive the sender's crash, not the database's (and WAL order
means a success never survives without its mark). bench/outbound measures the whole against a
bare aiosmtplib loop.

Retries: 4xx answers and unreachable relays are retried with exponential backoff (1 min, 2, 4 ...
capped at 30 min, +-20 % jitter) up to SenderOptions.max_attempts; 5xx answers fail at once with
the relay's words in `last_error`, readable in GET /api/v1/admin/outbound?status=failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from functools import partial

from sqlalchemy.ext.asyncio import AsyncEngine

from core import db
from core.config import Settings, get_settings
from core.outbox.delivery import (
    BatchReport,
    HandOverMarks,
    SenderOptions,
    claim_batch,
    deliver_batch,
)
from core.outbox.repository import ClaimedEmail
from core.outbox.transport import FileSinkTransport, SmtpTransport, Transport
from core.storage import get_storage

logger = logging.getLogger(__name__)

MAX_ERROR_PAUSE = 30.0


def default_transport_factory(
    settings: Settings, options: SenderOptions
) -> Callable[[], Transport]:
    if settings.smtp_host:
        return lambda: SmtpTransport.from_settings(settings, timeout=options.smtp_timeout)
    return lambda: FileSinkTransport(settings.outbox_sink_dir)


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def _lane(
    number: int,
    stop: asyncio.Event,
    *,
    engine: AsyncEngine,
    transport: Transport,
    envelope_sender: str,
    options: SenderOptions,
    totals: BatchReport,
    settings: Settings,
    marks: HandOverMarks,
) -> None:
    deliver = partial(
        deliver_batch,
        engine,
        transport,
        envelope_sender=envelope_sender,
        options=options,
        storage=partial(get_storage, settings),
        api_base_url=settings.api_public_url,
        marks=marks,
    )
    errors = 0
    # The next batch is claimed while this one is sent, so a lane never stands idle for the
    # claim's round trip. Only after a full batch (a backlog): an idle queue is polled as before.
    # A claimed batch is always handed to deliver_batch, which sends it or, once `stop` is set,
    # gives it back unsent.
    prefetch: asyncio.Task[list[ClaimedEmail]] | None = None
    try:
        while not stop.is_set():
            try:
                # Taken out before it is awaited: a claim that failed is not awaited again.
                claimed, prefetch = prefetch, None
                rows = await (claimed if claimed is not None else claim_batch(engine, options))
                if len(rows) >= options.batch_size and not stop.is_set():
                    prefetch = asyncio.create_task(claim_batch(engine, options))
                report = await deliver(should_stop=stop.is_set, rows=rows)
            except Exception:
                # The database is down or a statement failed: back off, keep the process alive.
                errors += 1
                logger.exception("mail sender lane %d: batch failed", number)
                await transport.close()
                await _pause(stop, min(options.poll_interval * 2**errors, MAX_ERROR_PAUSE))
                continue
            errors = 0
            totals.add(report)
            if report.claimed == 0 or report.relay_down:
                # Idle (or the relay is down): do not hold a relay connection open meanwhile.
                await transport.close()
                await _pause(stop, options.poll_interval)
        if prefetch is not None:
            # Stopping: what was claimed ahead goes back to the queue untouched.
            claimed, prefetch = prefetch, None
            totals.add(await deliver(should_stop=lambda: True, rows=await claimed))
    finally:
        if prefetch is not None:
            prefetch.cancel()
        await transport.close()


async def run_sender(
    stop: asyncio.Event,
    *,
    engine: AsyncEngine | None = None,
    settings: Settings | None = None,
    options: SenderOptions | None = None,
    transport_factory: Callable[[], Transport] | None = None,
) -> BatchReport:
    """Deliver the outbox until `stop` is set; rows in flight are finished or released first.
    Returns the totals (handy for tests and benches)."""
    settings = settings or get_settings()
    engine = engine or db.get_engine()
    options = options or SenderOptions()
    factory = transport_factory or default_transport_factory(settings, options)
    if settings.smtp_host:
        logger.info(
            "mail sender: %d lanes to %s:%d", options.lanes, settings.smtp_host, settings.smtp_port
        )
    else:
        logger.info(
            "mail sender: SMTP_HOST unset, writing .eml files to %s", settings.outbox_sink_dir
        )
    totals = BatchReport()
    marks = HandOverMarks(engine)
    lanes = [
        asyncio.create_task(
            _lane(
                number,
                stop,
                engine=engine,
                transport=factory(),
                envelope_sender=settings.reply_address,
                options=options,
                totals=totals,
                settings=settings,
                marks=marks,
            ),
            name=f"mailsender-lane-{number}",
        )
        for number in range(max(1, options.lanes))
    ]
    try:
        await asyncio.gather(*lanes)
    finally:
        for lane in lanes:
            lane.cancel()
        await asyncio.gather(*lanes, return_exceptions=True)
        await marks.close()
    return totals


async def serve_sender(settings: Settings, *, lanes: int = 8) -> None:
    """`servicedesk mailsender`: the sender alone until SIGTERM/SIGINT (in-flight mail finished)."""
    import signal

    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    engine = db.init_engine("mailsender", settings=settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await run_sender(stop, engine=engine, settings=settings, options=SenderOptions(lanes=lanes))
    finally:
        await db.dispose_engine()

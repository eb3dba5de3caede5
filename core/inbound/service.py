"""Receiving and working the inbound queue; the rules both `mailgateway` and `mailworker` follow.

Durability: the listener stores the raw bytes and the envelope in `inbound_messages` (bytea) and
answers 250 only after that transaction commits. PostgreSQL rather than object storage, because
one commit then makes the message durable: there is no second system whose write could succeed
while the row's fails (or the reverse), and nothing to reconcile after a crash.

The queue is the same table. A worker claims due rows with `FOR UPDATE SKIP LOCKED` (so any number
of workers, in any number of processes, never take the same row), marks them `processing` with a
lease (`locked_until`) and an attempt number, and commits; then it processes each in its own
transaction, which first re-locks the row and checks the attempt number is still its own. A worker
that dies mid-message leaves the row `processing`; when the lease expires the row is claimed again
(attempt + 1), and after MAIL_MAX_ATTEMPTS such attempts it is quarantined. Errors (database,
storage, a bug tripped by one odd mail) are retried with exponential backoff from
MAIL_RETRY_BASE_SECONDS and quarantined with the error after MAIL_MAX_ATTEMPTS. Nothing stays
`received` or `processing` for ever.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings
from core.inbound import pipeline, repository
from core.inbound.limits import Counter
from core.models import InboundStatus

logger = logging.getLogger(__name__)
MAX_RETRY_DELAY_SECONDS = 3600


@dataclass(frozen=True)
class ReceivedMail:
    """What the SMTP listener hands over: the envelope and the bytes exactly as received."""

    mail_from: str
    rcpt_to: list[str]
    raw: bytes
    peer: str | None = None
    helo: str | None = None
    received_at: datetime | None = None


def _text(value: str) -> str:
    """Envelope strings as PostgreSQL text can hold them: SMTPUTF8 arguments arrive with
    undecodable bytes as surrogates, and NUL is never allowed."""
    value = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return value.replace("\x00", "")


def _row(mail: ReceivedMail) -> dict[str, object]:
    return {
        "mail_from": _text(mail.mail_from)[:998],
        "rcpt_to": [_text(r)[:998] for r in mail.rcpt_to],
        "peer": (mail.peer or None) and _text(mail.peer)[:128],
        "helo": mail.helo and _text(mail.helo)[:998],
        "raw": mail.raw,
        "raw_size": len(mail.raw),
        "raw_sha256": hashlib.sha256(mail.raw).hexdigest(),
        "status": InboundStatus.received.value,
        "received_at": mail.received_at,  # None: the database's now(), also the first attempt
    }


async def receive(session: AsyncSession, mails: list[ReceivedMail]) -> list[int]:
    """Record received mails (the caller commits, then answers 250); their ids in order."""
    return await repository.insert_received(session, [_row(m) for m in mails])


async def claim_batch(
    session: AsyncSession, *, settings: Settings, limit: int
) -> list[repository.Claim]:
    """Quarantine messages whose workers kept dying, then claim up to `limit` due messages.
    The caller commits before processing them."""
    for row in await repository.stuck_over_attempts(
        session, max_attempts=settings.mail_max_attempts
    ):
        await repository.set_final(
            session,
            inbound_id=row.id,
            attempt=None,
            status=InboundStatus.quarantined.value,
            reason=(
                f"processing stopped {row.attempts} times without finishing (worker crash or "
                f"timeout after {settings.mail_lease_seconds}s)"
            ),
        )
    return await repository.claim(session, limit=limit, lease_seconds=settings.mail_lease_seconds)


async def process_claimed(
    session: AsyncSession,
    *,
    claims: Sequence[repository.Claim],
    settings: Settings,
    count: Counter | None = None,
) -> dict[int, pipeline.Outcome]:
    """Run the pipeline on claimed messages and record each verdict, all in the caller's one
    transaction (the caller commits); the outcomes by inbound id. A claim that is no longer
    ours (the lease expired and another worker took it) is left out.

    Several mails per transaction share the claim's row locks, the commit, and what a
    transaction reads once (SLA policies, team addresses). An exception rolls back every mail
    of the transaction: the worker then runs each alone, so a mail that keeps failing costs
    only its own attempts (mailgateway/worker.py)."""
    locked = await repository.lock_claimed(session, claims)
    outcomes: dict[int, pipeline.Outcome] = {}
    for claim in claims:
        inbound = locked.get(claim.id)
        if inbound is None:
            continue
        outcome = await pipeline.run(session, inbound, settings=settings, count=count)
        await record_outcome(session, inbound_id=inbound.id, outcome=outcome, attempt=claim.attempt)
        outcomes[inbound.id] = outcome
    if len(outcomes) > 1:
        await repository.stamp_processed(session, list(outcomes))
    return outcomes


async def record_outcome(
    session: AsyncSession,
    *,
    inbound_id: int,
    outcome: pipeline.Outcome,
    attempt: int | None,
    extra: dict[str, object] | None = None,
) -> bool:
    """Write the verdict and what the parse learnt (one UPDATE); False if the claim was lost."""
    facts = outcome.parse_result
    return await repository.record_verdict(
        session,
        inbound_id=inbound_id,
        attempt=attempt,
        status=outcome.status.value,
        reason=_jsonb_safe(outcome.reason) if outcome.reason else None,
        parse_result=_jsonb_safe({**facts, **(extra or {})}),
        ticket_id=outcome.ticket_id,
        comment_id=outcome.comment_id,
        message_id=facts.get("message_id"),
        subject=facts.get("subject"),
        from_address=facts.get("from_address"),
        trust_level=outcome.trust_level,
    )


def _jsonb_safe(value: Any) -> Any:
    """JSONB cannot hold U+0000 or lone surrogates (undecodable bytes kept by the parser);
    hostile mail can put them anywhere."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
    if isinstance(value, dict):
        return {_jsonb_safe(k): _jsonb_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonb_safe(v) for v in value]
    return value


def retry_delay(settings: Settings, attempt: int) -> float:
    return float(
        min(MAX_RETRY_DELAY_SECONDS, settings.mail_retry_base_seconds * 2 ** max(0, attempt - 1))
    )


async def record_failure(
    session: AsyncSession,
    *,
    message_id: int,
    attempt: int,
    error: BaseException,
    settings: Settings,
) -> str:
    """After an exception: schedule a retry, or quarantine after MAIL_MAX_ATTEMPTS.
    Returns the new status."""
    description = f"{type(error).__name__}: {error}"[:1000]
    if attempt >= settings.mail_max_attempts:
        await repository.set_final(
            session,
            inbound_id=message_id,
            attempt=attempt,
            status=InboundStatus.quarantined.value,
            reason=f"failed {attempt} times; last error: {description}",
        )
        return InboundStatus.quarantined.value
    await repository.set_retry(
        session,
        message_id=message_id,
        attempt=attempt,
        delay_seconds=retry_delay(settings, attempt),
        reason=f"attempt {attempt} failed: {description}",
    )
    return InboundStatus.received.value

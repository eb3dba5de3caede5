"""Pipeline workers: claim received mail, run the pipeline, record the verdict.

A thin loop over core/inbound/service.py (which holds the rules: leases, attempts, backoff,
quarantine). Runs as MAIL_WORKERS tasks inside `servicedesk mailgateway` and/or in
`servicedesk mailworker` processes; they coordinate only through the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from core import db
from core.config import Settings
from core.inbound import limits, service
from core.inbound.repository import Claim

logger = logging.getLogger(__name__)

CLAIM_BATCH = 8
IDLE_SLEEP_SECONDS = 0.2
# Parsing a mail takes several times its size in memory (the stdlib parser's lines, decoded
# parts, the copy being stored). Mails above this size are processed one at a time per process,
# so ten 25 MB mails arriving together do not all sit in memory at once; small mail flows freely.
LARGE_MAIL_BYTES = 1024 * 1024
_large_mail: asyncio.Semaphore | None = None
# The abuse-limit counts, each in a short transaction of its own: in the batch's transaction a
# shared counter row (new tickets this minute) would stay locked until the batch commits.
_count = limits.counting_apart(db.session_scope)


def _large_mail_gate() -> asyncio.Semaphore:
    global _large_mail
    if _large_mail is None:
        _large_mail = asyncio.Semaphore(1)
    return _large_mail


async def process_one(settings: Settings, claim: Claim) -> str | None:
    """Process one claimed message in its own transaction; on error, record the failure."""
    try:
        async with db.session_scope() as session:
            outcomes = await service.process_claimed(
                session, claims=[claim], settings=settings, count=_count
            )
        outcome = outcomes.get(claim.id)
        return outcome.status.value if outcome else None
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        logger.warning("inbound %s attempt %s failed: %r", claim.id, claim.attempt, exc)
        try:
            async with db.session_scope() as session:
                return await service.record_failure(
                    session,
                    message_id=claim.id,
                    attempt=claim.attempt,
                    error=exc,
                    settings=settings,
                )
        except Exception as inner:
            # The database is away: the lease will expire and the message is claimed again.
            logger.warning("could not record the failure of inbound %s: %r", claim.id, inner)
            return None


async def process_together(settings: Settings, claims: list[Claim]) -> None:
    """Process first-attempt claims in one transaction (one commit, one read of what every mail
    needs); if anything fails, the transaction rolls back and each mail runs alone, so the
    failure is recorded against the one mail that caused it."""
    try:
        async with db.session_scope() as session:
            await service.process_claimed(session, claims=claims, settings=settings, count=_count)
        return
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        logger.info("a batch of %d mails rolled back (%r); processing each alone", len(claims), exc)
    for claim in claims:
        await process_one(settings, claim)


async def run_once(settings: Settings, *, limit: int = CLAIM_BATCH) -> int:
    """Claim and process one batch; returns how many messages were claimed.

    Small mails on their first attempt share a transaction. A retried mail runs alone: its
    earlier attempt failed or its worker died, and whatever it does must not take its
    neighbours down with it (a mail that kills the process would otherwise use up the
    attempts of every mail claimed beside it)."""
    async with db.session_scope() as session:
        claimed = await service.claim_batch(session, settings=settings, limit=limit)
    together = [c for c in claimed if c.attempt == 1 and c.raw_size <= LARGE_MAIL_BYTES]
    alone = claimed
    if len(together) > 1:
        await process_together(settings, together)
        alone = [c for c in claimed if c not in together]
    for claim in alone:
        if claim.raw_size > LARGE_MAIL_BYTES:
            async with _large_mail_gate():
                await process_one(settings, claim)
        else:
            await process_one(settings, claim)
    return len(claimed)


async def drain(settings: Settings) -> int:
    """Process until nothing is due (tests, one-shot runs); returns how many were claimed."""
    total = 0
    while claimed := await run_once(settings):
        total += claimed
    return total


async def worker_loop(settings: Settings, stop: asyncio.Event, *, name: str = "worker") -> None:
    backoff = IDLE_SLEEP_SECONDS
    while not stop.is_set():
        try:
            claimed = await run_once(settings)
            backoff = IDLE_SLEEP_SECONDS
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.warning("%s: cannot claim work: %r", name, exc)
            claimed, backoff = 0, min(backoff * 2, 10.0)
        if not claimed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=backoff)


async def run_workers(settings: Settings, stop: asyncio.Event, *, count: int | None = None) -> None:
    count = count if count is not None else settings.mail_workers
    await asyncio.gather(
        *(worker_loop(settings, stop, name=f"worker-{i}") for i in range(max(1, count)))
    )

"""Pipeline workers: claim received mail, run the pipeline, record the verdict.

A thin loop over core/inbound/service.py (which holds the rules: leases, attempts, backoff,
quarantine). Runs as MAIL_WORKERS tasks inside `servicedesk mailgateway` and/or in
`servicedesk mailworker` processes; they coordinate only through the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import psycopg

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


class LimitCounter:
    """The abuse-limit counts of this process's workers (core/inbound/limits.py), on one
    autocommit connection of their own that does not wait for the WAL flush. In a batch's
    transaction a shared counter row (new tickets this minute) would stay locked until the batch
    commits; in a transaction of their own, waiting for the disk once per mail cost the pipeline
    a sixth of its throughput."""

    def __init__(self) -> None:
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._lock = asyncio.Lock()

    async def __call__(self, keys: list[tuple[str, int, int]]) -> list[int]:
        async with self._lock:
            try:
                if self._conn is None:
                    self._conn = await db.connect_autocommit(
                        db.get_engine(),
                        application_name="servicedesk-mail-limits",
                        options="-c synchronous_commit=off",
                    )
                return await limits.take(self._conn, keys)
            except Exception:
                await self.close()  # reconnect next time; this mail's attempt fails and retries
                raise

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()


def _large_mail_gate() -> asyncio.Semaphore:
    global _large_mail
    if _large_mail is None:
        _large_mail = asyncio.Semaphore(1)
    return _large_mail


async def process_one(settings: Settings, claim: Claim, count: limits.Counter) -> str | None:
    """Process one claimed message in its own transaction; on error, record the failure."""
    try:
        async with db.session_scope() as session:
            outcomes = await service.process_claimed(
                session, claims=[claim], settings=settings, count=count
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


async def process_together(settings: Settings, claims: list[Claim], count: limits.Counter) -> None:
    """Process first-attempt claims in one transaction (one commit, one read of what every mail
    needs); if anything fails, the transaction rolls back and each mail runs alone, so the
    failure is recorded against the one mail that caused it."""
    try:
        async with db.session_scope() as session:
            await service.process_claimed(session, claims=claims, settings=settings, count=count)
        return
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        logger.info("a batch of %d mails rolled back (%r); processing each alone", len(claims), exc)
    for claim in claims:
        await process_one(settings, claim, count)


async def run_once(settings: Settings, count: limits.Counter, *, limit: int = CLAIM_BATCH) -> int:
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
        await process_together(settings, together, count)
        alone = [c for c in claimed if c not in together]
    for claim in alone:
        if claim.raw_size > LARGE_MAIL_BYTES:
            async with _large_mail_gate():
                await process_one(settings, claim, count)
        else:
            await process_one(settings, claim, count)
    return len(claimed)


async def drain(settings: Settings) -> int:
    """Process until nothing is due (tests, one-shot runs); returns how many were claimed."""
    total = 0
    count = LimitCounter()
    try:
        while claimed := await run_once(settings, count):
            total += claimed
    finally:
        await count.close()
    return total


async def worker_loop(
    settings: Settings, stop: asyncio.Event, count: limits.Counter, *, name: str = "worker"
) -> None:
    backoff = IDLE_SLEEP_SECONDS
    while not stop.is_set():
        try:
            claimed = await run_once(settings, count)
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
    counter = LimitCounter()
    try:
        await asyncio.gather(
            *(
                worker_loop(settings, stop, counter, name=f"worker-{i}")
                for i in range(max(1, count))
            )
        )
    finally:
        await counter.close()

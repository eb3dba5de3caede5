"""Housekeeping jobs on real rows: raw mail purged after the retention (metadata kept), uploads
never completed deleted with their bytes, resolved tickets closed after N days."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core.config import get_settings
from core.jobs import catalog, runner
from core.models import Attachment, InboundMessage, RateLimitCounter, Ticket, TicketEvent, User
from core.storage.base import new_storage_key
from core.storage.factory import get_storage
from core.tickets import service as tickets


def _message(days_old: int, status: str) -> InboundMessage:
    raw = f"Subject: test {days_old} {status}\r\n\r\nbody".encode()
    return InboundMessage(
        received_at=datetime.now(UTC) - timedelta(days=days_old),
        mail_from="someone@univ.ac.kr",
        raw=raw,
        raw_size=len(raw),
        raw_sha256=hashlib.sha256(raw).hexdigest(),
        subject=f"test {days_old}",
        status=status,
    )


async def test_raw_mail_is_purged_after_the_retention(committed_db: AsyncEngine) -> None:
    async with AsyncSession(committed_db, expire_on_commit=False) as session:
        old, waiting, recent = (
            _message(120, "processed"),
            _message(120, "received"),
            _message(5, "processed"),
        )
        session.add_all([old, waiting, recent])
        await session.commit()
    run = await runner.execute(catalog.get_spec(get_settings(), "purge_raw_mail"))
    assert run is not None and run.status == "succeeded" and run.summary == {"purged": 1}
    async with AsyncSession(committed_db) as session:
        purged = await session.get(InboundMessage, old.id)
        assert purged is not None and purged.raw is None and purged.raw_purged_at is not None
        assert purged.subject == "test 120" and purged.raw_size > 0  # metadata stays
        assert (await session.get(InboundMessage, waiting.id)).raw is not None  # type: ignore[union-attr]
        assert (await session.get(InboundMessage, recent.id)).raw is not None  # type: ignore[union-attr]


async def test_abandoned_uploads_are_deleted_with_their_bytes(
    committed_db: AsyncEngine, tmp_path: Path
) -> None:
    settings = get_settings().model_copy(
        update={"storage_backend": "local", "local_upload_root": str(tmp_path)}
    )
    storage = get_storage(settings)
    keys = [new_storage_key() for _ in range(3)]
    for key in keys:
        await storage.put(key, b"half an upload", content_type="application/pdf")
    now = datetime.now(UTC)
    async with AsyncSession(committed_db, expire_on_commit=False) as session:
        rows = [
            Attachment(
                filename="old.pdf",
                size=14,
                storage_key=keys[0],
                status="pending",
                created_at=now - timedelta(days=2),
            ),
            Attachment(
                filename="fresh.pdf",
                size=14,
                storage_key=keys[1],
                status="pending",
                created_at=now - timedelta(minutes=5),
            ),
            Attachment(
                filename="done.pdf",
                size=14,
                storage_key=keys[2],
                status="stored",
                created_at=now - timedelta(days=2),
            ),
        ]
        session.add_all(rows)
        await session.commit()
    run = await runner.execute(catalog.get_spec(settings, "purge_stale_uploads"), settings=settings)
    assert run is not None and run.status == "succeeded", run.error if run else None
    assert run.summary == {"deleted": 1, "failed": 0}
    async with AsyncSession(committed_db) as session:
        left = set(await session.scalars(select(Attachment.storage_key)))
    assert left == {keys[1], keys[2]}
    assert await storage.head(keys[0]) is None
    assert await storage.head(keys[1]) is not None


async def test_resolved_tickets_close_after_n_days(committed_db: AsyncEngine) -> None:
    async with AsyncSession(committed_db, expire_on_commit=False) as session:
        requester = User(email="student@hk.ac.kr", name="학생")
        session.add(requester)
        await session.flush()
        ids = []
        for age in (10, 1):
            ticket, _ = await tickets.open_ticket(
                session, requester=requester, subject=f"{age}일 전 해결", body_text="..."
            )
            await tickets.change_status(session, ticket=ticket, status="resolved", actor=None)
            ticket.resolved_at = datetime.now(UTC) - timedelta(days=age)
            ids.append(ticket.id)
        await session.commit()
    run = await runner.execute(catalog.get_spec(get_settings(), "auto_close_resolved"))
    assert run is not None and run.summary == {"closed": 1}
    async with AsyncSession(committed_db) as session:
        old, recent = [await session.get(Ticket, i) for i in ids]
        assert old is not None and old.status == "closed"
        assert recent is not None and recent.status == "resolved"
        events = list(
            await session.scalars(
                select(TicketEvent.data).where(
                    TicketEvent.ticket_id == ids[0], TicketEvent.kind == "status_changed"
                )
            )
        )
        assert events[-1] == {"from": "resolved", "to": "closed"}


async def test_rate_limit_counters_of_old_windows_are_pruned(committed_db: AsyncEngine) -> None:
    now = datetime.now(UTC)
    async with AsyncSession(committed_db) as session:
        session.add_all(
            [
                RateLimitCounter(key="login-fail-addr:a", window_start=now - timedelta(days=3)),
                RateLimitCounter(key="magic-ip:1.2.3.4", window_start=now - timedelta(hours=2)),
                RateLimitCounter(key="login-fail-addr:a", window_start=now),
            ]
        )
        await session.commit()
    run = await runner.execute(catalog.get_spec(get_settings(), "prune_rate_limits"))
    assert run is not None and run.status == "succeeded" and run.summary == {"deleted": 1}
    async with AsyncSession(committed_db) as session:
        left = sorted(await session.scalars(select(RateLimitCounter.window_start)))
    assert len(left) == 2 and left[0] == now - timedelta(hours=2)

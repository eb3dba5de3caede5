"""The pipeline's rules, step by step, on a real database."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from email.message import EmailMessage

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core import db
from core.config import Settings
from core.inbound import service
from core.inbound.service import ReceivedMail
from core.mail.tokens import make_message_id, make_reply_token, reply_address
from core.models import (
    Attachment,
    Comment,
    InboundMessage,
    Role,
    Ticket,
    TicketStatus,
    User,
)
from core.tickets import service as tickets
from core.users import service as users
from mailgateway.worker import LimitCounter, drain, process_one
from tests.inbound.conftest import Ingest
from tests.inbound.mails import HELP, make_mail


async def _ticket_of(session: AsyncSession, row: InboundMessage) -> Ticket:
    ticket = await session.get(Ticket, row.ticket_id)
    assert ticket is not None, (row.status, row.reason)
    return ticket


async def _comments(session: AsyncSession, ticket_id: int) -> list[Comment]:
    result = await session.scalars(
        select(Comment).where(Comment.ticket_id == ticket_id).order_by(Comment.id)
    )
    return list(result)


async def test_reply_to_recently_closed_ticket_reopens_it_later_one_opens_a_follow_up(
    session: AsyncSession, ingest: Ingest
) -> None:
    first = await ingest(make_mail(message_id="<c0@univ.ac.kr>"))
    ticket = await _ticket_of(session, first)
    await tickets.change_status(session, ticket=ticket, status=TicketStatus.closed, actor=None)
    reply = await ingest(
        make_mail(body="다시 안 됩니다\n", headers={"In-Reply-To": "<c0@univ.ac.kr>"})
    )
    assert reply.status == "processed" and reply.ticket_id == ticket.id
    await session.refresh(ticket)
    assert ticket.status == TicketStatus.open and "reopened" in reply.reason

    await tickets.change_status(session, ticket=ticket, status=TicketStatus.closed, actor=None)
    ticket.closed_at = tickets.now() - timedelta(days=30)
    await session.flush()
    late = await ingest(
        make_mail(body="한 달 뒤 같은 문제\n", headers={"In-Reply-To": "<c0@univ.ac.kr>"})
    )
    follow_up = await _ticket_of(session, late)
    assert follow_up.id != ticket.id and follow_up.follow_up_of_id == ticket.id
    await session.refresh(ticket)
    assert ticket.status == TicketStatus.closed

    # An out-of-office answer to the long-closed ticket neither reopens nor opens anything.
    ooo = await ingest(
        make_mail(
            subject="자동 회신: 노트북 무선랜 문의",
            headers={"In-Reply-To": "<c0@univ.ac.kr>", "Auto-Submitted": "auto-replied"},
        )
    )
    assert ooo.status == "ignored" and ooo.reason.startswith("auto-reply")


async def test_reply_to_a_merged_ticket_lands_on_the_surviving_one(
    session: AsyncSession, ingest: Ingest
) -> None:
    old = await _ticket_of(session, await ingest(make_mail(message_id="<m0@univ.ac.kr>")))
    survivor = await _ticket_of(session, await ingest(make_mail(message_id="<m1@univ.ac.kr>")))
    old.merged_into_id = survivor.id
    await session.flush()
    row = await ingest(make_mail(headers={"References": "<m0@univ.ac.kr>"}))
    assert row.ticket_id == survivor.id
    assert len(await _comments(session, survivor.id)) == 2


async def test_note_tokens_make_internal_notes_for_agents_only(
    session: AsyncSession, ingest: Ingest
) -> None:
    agent = await users.create_user(
        session, email="agent@test.ac.kr", name="Agent", role=Role.agent
    )
    ticket = await _ticket_of(session, await ingest(make_mail(message_id="<n0@univ.ac.kr>")))
    note_address = reply_address(
        HELP, make_reply_token(ticket_id=ticket.id, user_id=agent.id, note=True)
    )
    row = await ingest(
        make_mail(sender="agent@test.ac.kr", to=note_address, body="내부 메모\n"),
        rcpt_to=[note_address],
    )
    comments = await _comments(session, ticket.id)
    assert row.status == "processed" and comments[-1].visibility == "internal"
    # The requester holding an agent's note address (forwarded to them) cannot write notes.
    forwarded = await ingest(
        make_mail(sender="hong@univ.ac.kr", to=note_address, body="제가 써 봅니다\n"),
        rcpt_to=[note_address],
    )
    assert forwarded.status == "quarantined" and "who is not that agent" in forwarded.reason
    assert len(await _comments(session, ticket.id)) == 2


async def test_token_reply_from_another_address_is_the_token_holder(
    session: AsyncSession, ingest: Ingest
) -> None:
    ticket = await _ticket_of(session, await ingest(make_mail(message_id="<a0@univ.ac.kr>")))
    address = reply_address(
        HELP, make_reply_token(ticket_id=ticket.id, user_id=ticket.requester_id)
    )
    row = await ingest(
        make_mail(sender="hong.private@gmail.com", to=address, body="집에서 답장합니다\n"),
        rcpt_to=[address],
    )
    comment = (await _comments(session, ticket.id))[-1]
    assert row.status == "processed" and comment.author_id == ticket.requester_id
    # The other address did not become a user of its own.
    assert await session.scalar(select(User).where(User.email == "hong.private@gmail.com")) is None


async def test_our_own_mail_coming_back_is_ignored(session: AsyncSession, ingest: Ingest) -> None:
    looped = await ingest(make_mail(headers={"X-Servicedesk-Loop": HELP}))
    assert looped.status == "ignored" and "X-Servicedesk-Loop" in looped.reason
    ours = await ingest(make_mail(message_id=make_message_id(ticket_id=5, domain="test.ac.kr")))
    assert ours.status == "ignored" and "Message-ID" in ours.reason
    from_us = await ingest(make_mail(sender=f"Help Desk <{HELP}>"))
    assert from_us.status == "ignored" and "our own address" in from_us.reason
    assert await session.scalar(select(func.count()).select_from(Ticket)) == 0


async def test_a_flood_from_one_sender_is_quarantined(
    session: AsyncSession, ingest: Ingest, inbound_settings: Settings
) -> None:
    settings = inbound_settings.model_copy(update={"mail_sender_rate_limit": 3})
    rows = [
        await ingest(make_mail(subject=f"spam {i}", sender="loop@bot.example"), settings=settings)
        for i in range(5)
    ]
    assert [r.status for r in rows] == ["processed"] * 3 + ["quarantined"] * 2
    assert rows[3].reason.startswith("rate limit: more than 3 mails from loop@bot.example")


async def test_priority_comes_from_importance_and_x_priority(
    session: AsyncSession, ingest: Ingest
) -> None:
    high = await _ticket_of(session, await ingest(make_mail(headers={"X-Priority": "1 (Highest)"})))
    low = await _ticket_of(session, await ingest(make_mail(headers={"Importance": "low"})))
    normal = await _ticket_of(session, await ingest(make_mail()))
    assert (high.priority, low.priority, normal.priority) == ("high", "low", "normal")


async def test_quoted_history_is_marked_not_cut(session: AsyncSession, ingest: Ingest) -> None:
    body = (
        "네, 재부팅 후 해결되었습니다. 감사합니다.\n\n"
        "2024년 1월 2일 (화) 오전 10:00, IT 서비스데스크 <help@test.ac.kr>님이 작성:\n"
        "> 재부팅해 보시겠어요?\n"
    )
    row = await ingest(make_mail(body=body))
    [comment] = await _comments(session, row.ticket_id)
    assert comment.body_text == body
    assert comment.body_text[comment.quote_start :].startswith("2024년 1월 2일")


async def test_attached_message_is_kept_as_eml_and_korean_filenames_decode(
    session: AsyncSession, ingest: Ingest
) -> None:
    inner = make_mail(subject="원래 메일", body="전달된 본문\n", message_id="<inner@x.kr>")
    outer = make_mail(subject="FW: 원래 메일", body="아래 메일 확인 부탁드립니다\n")
    outer.add_attachment(inner)
    # RFC 2231 filename in CP949 labelled the Outlook way.
    outer.add_attachment(b"hwp-bytes", maintype="application", subtype="x-hwp", filename="x.hwp")
    raw = outer.as_bytes()
    encoded = "".join(f"%{b:02X}" for b in "보고서.hwp".encode("cp949"))
    raw = raw.replace(b'filename="x.hwp"', f"filename*=ks_c_5601-1987''{encoded}".encode())
    row = await ingest(raw)
    attachments = list(
        await session.scalars(
            select(Attachment).where(Attachment.ticket_id == row.ticket_id).order_by(Attachment.id)
        )
    )
    assert [(a.filename, a.content_type) for a in attachments] == [
        ("원래 메일.eml", "message/rfc822"),
        ("보고서.hwp", "application/x-hwp"),
    ]
    [comment] = await _comments(session, row.ticket_id)
    assert comment.body_text.startswith("아래 메일")  # the forwarded body is not mixed in


# --- workers: retries, leases, concurrency (these commit for real) --------------------------------


async def _receive(mails: list[EmailMessage]) -> list[int]:
    async with db.session_scope() as session:
        return await service.receive(
            session,
            [
                ReceivedMail(mail_from="s@univ.ac.kr", rcpt_to=[HELP], raw=m.as_bytes())
                for m in mails
            ],
        )


async def _rows(engine: AsyncEngine) -> list[InboundMessage]:
    async with AsyncSession(engine) as session:
        return list(await session.scalars(select(InboundMessage).order_by(InboundMessage.id)))


def _broken_storage(settings: Settings, tmp_path) -> Settings:
    """Settings whose upload root is a file: every attachment fails to store; 3 attempts."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("storage is broken")
    return settings.model_copy(update={"local_upload_root": str(blocker), "mail_max_attempts": 3})


async def test_errors_are_retried_then_quarantined_with_the_error(
    committed_db: AsyncEngine, inbound_settings: Settings, tmp_path
) -> None:
    broken = _broken_storage(inbound_settings, tmp_path)
    mail = make_mail(message_id="<retry@univ.ac.kr>")
    mail.add_attachment(b"data", maintype="application", subtype="pdf", filename="a.pdf")
    [inbound_id] = await _receive([mail])
    await drain(broken)
    [row] = await _rows(committed_db)
    assert row.status == "quarantined" and row.attempts == 3
    assert row.reason.startswith("failed 3 times; last error:")
    async with AsyncSession(committed_db) as session:  # nothing half-done was kept
        assert await session.scalar(select(func.count()).select_from(Ticket)) == 0
    # Storage repaired: the admin reprocesses it from the mail log.
    from core.inbound import maillog

    async with db.session_scope() as session:
        admin = await users.create_user(
            session, email="admin@test.ac.kr", name="Admin", role=Role.admin
        )
        await maillog.reprocess(
            session, message_id=inbound_id, actor=admin, settings=inbound_settings
        )
    [row] = await _rows(committed_db)
    assert row.status == "processed" and row.parse_result["admin_actions"][0]["action"] == (
        "reprocess"
    )


async def _verdict_transactions(engine: AsyncEngine) -> dict[int, int]:
    """Inbound id -> the id of the transaction that last wrote the row (its verdict)."""
    async with AsyncSession(engine) as session:
        rows = await session.execute(text("SELECT id, xmin::text::bigint FROM inbound_messages"))
        return {row[0]: row[1] for row in rows}


async def test_first_attempts_share_one_transaction_and_a_duplicate_in_it_is_still_one_comment(
    committed_db: AsyncEngine, inbound_settings: Settings
) -> None:
    first, _, duplicate = await _receive(
        [
            make_mail(subject="하나", message_id="<batch-a@univ.ac.kr>"),
            make_mail(subject="둘", message_id="<batch-b@univ.ac.kr>"),
            make_mail(subject="하나", message_id="<batch-a@univ.ac.kr>"),
        ]
    )
    assert await drain(inbound_settings) == 3
    assert len(set((await _verdict_transactions(committed_db)).values())) == 1
    rows = {r.id: r for r in await _rows(committed_db)}
    assert rows[duplicate].status == "ignored" and "duplicate" in rows[duplicate].reason
    assert rows[duplicate].ticket_id == rows[first].ticket_id
    async with AsyncSession(committed_db) as session:
        assert await session.scalar(select(func.count()).select_from(Ticket)) == 2
        assert await session.scalar(select(func.count()).select_from(Comment)) == 2


async def test_a_failing_mail_does_not_take_the_mails_claimed_beside_it_down(
    committed_db: AsyncEngine, inbound_settings: Settings, tmp_path
) -> None:
    broken = _broken_storage(inbound_settings, tmp_path)
    failing = make_mail(message_id="<batch-fails@univ.ac.kr>")
    failing.add_attachment(b"data", maintype="application", subtype="pdf", filename="a.pdf")
    before, bad, after = await _receive(
        [
            make_mail(message_id="<batch-1@univ.ac.kr>"),
            failing,
            make_mail(message_id="<batch-2@univ.ac.kr>"),
        ]
    )
    await drain(broken)
    rows = {r.id: r for r in await _rows(committed_db)}
    # The batch rolled back and each mail ran alone: the good ones on their first attempt.
    assert (rows[before].status, rows[before].attempts) == ("processed", 1)
    assert (rows[after].status, rows[after].attempts) == ("processed", 1)
    assert (rows[bad].status, rows[bad].attempts) == ("quarantined", 3)
    assert len(set((await _verdict_transactions(committed_db)).values())) == 3
    async with AsyncSession(committed_db) as session:
        assert await session.scalar(select(func.count()).select_from(Ticket)) == 2
        assert await session.scalar(select(func.count()).select_from(Comment)) == 2


async def test_a_message_whose_worker_died_is_reclaimed_and_finally_quarantined(
    committed_db: AsyncEngine, inbound_settings: Settings
) -> None:
    first, second = await _receive(
        [make_mail(message_id="<d1@univ.ac.kr>"), make_mail(message_id="<d2@univ.ac.kr>")]
    )
    # A worker claims both and dies before finishing: the rows stay "processing".
    async with db.session_scope() as session:
        claimed = await service.claim_batch(session, settings=inbound_settings, limit=10)
    assert sorted((c.id, c.attempt) for c in claimed) == [(first, 1), (second, 1)]
    assert await drain(inbound_settings) == 0  # leases still valid: nobody else takes them
    async with db.session_scope() as session:
        await session.execute(
            update(InboundMessage).values(locked_until=text("now() - interval '1 second'"))
        )
        await session.execute(
            update(InboundMessage)
            .where(InboundMessage.id == second)
            .values(attempts=inbound_settings.mail_max_attempts)
        )
    await drain(inbound_settings)
    rows = await _rows(committed_db)
    assert (rows[0].status, rows[0].attempts) == ("processed", 2)
    assert rows[1].status == "quarantined" and "without finishing" in rows[1].reason
    assert all(r.status in ("processed", "ignored", "quarantined") for r in rows)


async def test_concurrent_workers_process_each_message_exactly_once(
    committed_db: AsyncEngine, inbound_settings: Settings
) -> None:
    mails = [make_mail(subject=f"동시 {i}", message_id=f"<cc{i}@univ.ac.kr>") for i in range(30)]
    # Two copies of one mail, which two workers may pick up at the same moment.
    mails += [make_mail(subject="dup", message_id="<dup@univ.ac.kr>")] * 2
    await _receive(mails)
    await asyncio.gather(*(drain(inbound_settings) for _ in range(4)))
    rows = await _rows(committed_db)
    assert all(r.attempts == 1 for r in rows), [(r.id, r.attempts, r.reason) for r in rows]
    assert [r.status for r in rows].count("processed") == 31
    async with AsyncSession(committed_db) as session:
        assert await session.scalar(select(func.count()).select_from(Ticket)) == 31
        assert await session.scalar(select(func.count()).select_from(Comment)) == 31


async def test_the_owner_of_a_claim_waits_for_a_row_lock_instead_of_dropping_the_message(
    committed_db: AsyncEngine, inbound_settings: Settings
) -> None:
    [inbound_id] = await _receive([make_mail(message_id="<held@univ.ac.kr>")])
    async with db.session_scope() as session:
        [claim] = await service.claim_batch(session, settings=inbound_settings, limit=1)
    # Another worker's claim looked at the row and still holds its lock: PostgreSQL keeps the
    # lock of a row that failed the FOR UPDATE recheck until that claim commits. The owner used
    # to skip the locked row and give the message up, which then sat "processing" for the whole
    # lease (bench/ingest saw one mail in 5,000 wait five minutes).
    async with AsyncSession(committed_db) as other:
        await other.execute(
            select(InboundMessage.id).where(InboundMessage.id == inbound_id).with_for_update()
        )
        counter = LimitCounter()
        processing = asyncio.create_task(process_one(inbound_settings, claim, counter))
        await asyncio.sleep(0.5)
        assert not processing.done(), "the owner gave its claimed message up"
        await other.commit()
    assert await processing == "processed"
    await counter.close()
    [row] = await _rows(committed_db)
    assert (row.status, row.attempts) == ("processed", 1)


async def test_an_attachment_over_the_per_file_limit_is_noted_not_fatal(
    session: AsyncSession, ingest: Ingest, inbound_settings: Settings
) -> None:
    settings = inbound_settings.model_copy(update={"attachment_max_bytes": 1000})
    mail = make_mail(message_id="<big@univ.ac.kr>")
    mail.add_attachment(b"x" * 5000, maintype="application", subtype="zip", filename="big.zip")
    mail.add_attachment(b"y" * 500, maintype="text", subtype="plain", filename="small.txt")
    row = await ingest(mail, settings=settings)
    assert row.status == "processed"
    names = list(
        await session.scalars(
            select(Attachment.filename).where(Attachment.ticket_id == row.ticket_id)
        )
    )
    assert names == ["small.txt"]
    [_, note] = await _comments(session, row.ticket_id)
    assert note.source == "system" and note.visibility == "internal"
    assert "big.zip" in note.body_text and f"#{row.id}" in note.body_text

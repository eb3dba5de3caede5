"""Attachments, the quick-start .eml sink, sign-in links and SLA notices, end to end."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email import policy
from pathlib import Path

from sqlalchemy import select

from core import db
from core.models import Attachment, CommentSource, Notification, OutboundEmail, Role
from core.notifications.service import notify_sla, send_magic_link
from core.outbox.delivery import ATTACH_MAX_BYTES
from core.storage import get_storage, new_storage_key
from core.tickets import repository as tickets_repo
from core.tickets import service as tickets
from tests.outbound.support import capture_server, drain, make_user, smtp_settings


async def test_small_public_attachments_are_attached_large_ones_linked(
    committed_db, tmp_path: Path
) -> None:
    requester = await make_user("att@univ.ac.kr", locale="ko")
    agent = await make_user("att-agent@univ.ac.kr", role=Role.agent)
    settings = smtp_settings(0, local_upload_root=str(tmp_path), api_public_url="https://api.x")
    storage = get_storage(settings)
    small = "VPN 설정 방법입니다.".encode()
    large = b"x" * (ATTACH_MAX_BYTES + 1)
    async with db.session_scope() as session:
        ticket, _ = await tickets.open_ticket(
            session, requester=requester, subject="VPN", body_text="도와주세요"
        )
        comment = await tickets.add_comment(
            session,
            ticket=ticket,
            author=agent,
            body_text="파일 두 개 보냅니다.",
            source=CommentSource.web,
        )
        # As the API does: files are linked to the comment after its event.
        for name, data, kind in (
            ("설정 방법.txt", small, "text/plain"),
            ("big.iso", large, "application/octet-stream"),
        ):
            key = new_storage_key()
            await storage.put(key, data, content_type=kind)
            session.add(
                Attachment(
                    ticket_id=ticket.id,
                    comment_id=comment.id,
                    uploader_id=agent.id,
                    filename=name,
                    content_type=kind,
                    size=len(data),
                    storage_key=key,
                )
            )
    async with capture_server() as relay:
        await drain(committed_db, settings.model_copy(update={"smtp_port": relay.port}))
    [reply] = [m for m in relay.messages if "Re:" in m.message["Subject"]]
    message = reply.message
    files = [part for part in message.iter_attachments()]
    assert [(p.get_filename(), p.get_content()) for p in files] == [
        ("설정 방법.txt", "VPN 설정 방법입니다.")
    ]
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "첨부 파일:" in text
    assert "설정 방법.txt" in text
    big = await _attachment_id(ticket.id, "big.iso")
    assert f"big.iso (2.0 MB): https://api.x/api/v1/attachments/{big}" in text
    html = message.get_body(preferencelist=("html",)).get_content()
    assert f'href="https://api.x/api/v1/attachments/{big}"' in html


async def _attachment_id(ticket_id: int, filename: str) -> int:
    async with db.session_scope() as session:
        return await session.scalar(
            select(Attachment.id).where(
                Attachment.ticket_id == ticket_id, Attachment.filename == filename
            )
        )


async def test_without_smtp_host_mail_lands_as_eml_files(committed_db, tmp_path: Path) -> None:
    requester = await make_user("sink@univ.ac.kr", name="싱크", locale="ko")
    async with db.session_scope() as session:
        ticket, _ = await tickets.open_ticket(
            session, requester=requester, subject="퀵스타트", body_text="보이나요?"
        )
    settings = smtp_settings(0, smtp_host="", outbox_sink_dir=str(tmp_path / "outbox"))
    await drain(committed_db, settings)
    [path] = sorted((tmp_path / "outbox").glob("*.eml"))
    assert path.name.endswith("-sink@univ.ac.kr.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message["Subject"] == f"[#{ticket.number}] 요청이 접수되었습니다: 퀵스타트"
    assert message["X-Envelope-To"] == "<sink@univ.ac.kr>"
    assert "싱크님" in message.get_body(preferencelist=("plain",)).get_content()
    async with db.session_scope() as session:
        [row] = list(await session.scalars(select(OutboundEmail)))
        assert row.status == "sent" and row.sent_at is not None
    assert not list((tmp_path / "outbox").glob("*.tmp"))


async def test_sign_in_link_mail(committed_db) -> None:
    person = await make_user("magic@univ.ac.kr", name="Mina", locale="en")
    async with db.session_scope() as session:
        await send_magic_link(session, user=person, url="http://portal/auth/verify?token=abc")
    async with capture_server() as relay:
        await drain(committed_db, smtp_settings(relay.port))
    [captured] = relay.messages
    message = captured.message
    assert message["Subject"] == "[IT Service Desk] Your sign-in link"
    assert message["Reply-To"] is None and message["Auto-Submitted"] == "auto-generated"
    assert (
        "http://portal/auth/verify?token=abc"
        in message.get_body(preferencelist=("plain",)).get_content()
    )


async def test_sla_notice_by_mail_and_in_app_once(committed_db) -> None:
    requester = await make_user("slareq@univ.ac.kr")
    lead = await make_user("lead@univ.ac.kr", name="팀장", role=Role.agent, locale="ko")
    async with db.session_scope() as session:
        ticket, _ = await tickets.open_ticket(
            session, requester=requester, subject="서버 다운", body_text="급합니다"
        )
    due = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)
    for _ in range(2):  # a retried scheduler tick notifies once
        async with db.session_scope() as session:
            ticket = await tickets_repo.get_ticket(session, ticket.id)
            await notify_sla(
                session, ticket=ticket, kind="first_response_breach", recipients=[lead], due_at=due
            )
    async with capture_server() as relay:
        await drain(committed_db, smtp_settings(relay.port))
    [captured] = relay.handler.to("lead@univ.ac.kr")
    message = captured.message
    assert message["Subject"] == f"[#{ticket.number}] 첫 응답 기한 초과: 서버 다운"
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "2026-12-01 09:30 (KST)" in text and "미배정" in text
    async with db.session_scope() as session:
        [notification] = list(await session.scalars(select(Notification)))
    assert notification.user_id == lead.id and notification.kind == "sla"
    assert notification.title == message["Subject"] and notification.read_at is None

"""Real-world mail reads as its sender wrote it (issue #16): each fixture under
fixtures/fidelity/ is raw bytes written for one fault seen in the wild, sent through the real
pipeline and database; the subject, sender, visible text and attachment names are checked."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Attachment, Comment, InboundMessage, Ticket, User
from tests.inbound.conftest import Ingest

FIXTURES = Path(__file__).parent / "fixtures" / "fidelity"


async def _ingest(ingest: Ingest, name: str, *, mail_from: str = "") -> InboundMessage:
    return await ingest((FIXTURES / name).read_bytes(), mail_from=mail_from)


async def _ticket(session: AsyncSession, row: InboundMessage) -> tuple[Ticket, User, Comment]:
    assert row.status == "processed", (row.status, row.reason)
    ticket = await session.get(Ticket, row.ticket_id)
    assert ticket is not None
    requester = await session.get(User, ticket.requester_id)
    comment = await session.get(Comment, row.comment_id)
    assert requester is not None and comment is not None
    return ticket, requester, comment


async def _attachments(session: AsyncSession, ticket_id: int) -> list[str]:
    rows = await session.scalars(
        select(Attachment.filename).where(Attachment.ticket_id == ticket_id).order_by(Attachment.id)
    )
    return list(rows)


def _steps(row: InboundMessage, step: str) -> list[dict]:  # type: ignore[type-arg]
    return [s for s in row.parse_result["steps"] if s["step"] == step]


@pytest.mark.parametrize(
    ("fixture", "subject", "name", "email", "text"),
    [
        (
            "gb2312-8bit-headers.eml",
            "打印机无法使用",
            "Wang Wei",
            "wang.wei@visiting.cn",
            "三楼的打印机不能打印。",
        ),
        (
            "shift-jis-8bit-headers.eml",
            "ツールのインストールについて",
            "田中 太郎",
            "tanaka@example.co.jp",
            "ツールをインストールできません。\nよろしくお願いします。\n",
        ),
        (
            "koi8r-undeclared.eml",
            "Проблема с принтером в лаборатории",
            "Ivan Petrov",
            "ivan.petrov@example.ru",
            "Здравствуйте! Принтер в лаборатории не печатает уже два дня. Спасибо.\n",
        ),
        (
            "iso-2022-jp-nec.eml",
            "会議室の予約",
            "山田 花子",
            "yamada@example.co.jp",
            "会議室の予約について\n①プロジェクター\n②マイク\nよろしくお願いします。\n",
        ),
    ],
)
async def test_non_korean_charsets_decode_exactly(
    session: AsyncSession,
    ingest: Ingest,
    fixture: str,
    subject: str,
    name: str,
    email: str,
    text: str,
) -> None:
    row = await _ingest(ingest, fixture)
    ticket, requester, comment = await _ticket(session, row)
    assert (ticket.subject, requester.name, requester.email) == (subject, name, email)
    assert comment.body_text == text
    # What was guessed is on record in the mail log (the parse step's defects).
    if fixture == "koi8r-undeclared.eml":
        assert any("koi8" in d for d in _steps(row, "parse")[0]["defects"])


async def test_raw_gb2312_attachment_name_uses_the_declared_charset(
    session: AsyncSession, ingest: Ingest
) -> None:
    row = await _ingest(ingest, "gb2312-8bit-headers.eml")
    assert await _attachments(session, row.ticket_id) == ["报告.pdf"]


async def test_header_repairs_keep_every_header(session: AsyncSession, ingest: Ingest) -> None:
    vendor = await _ingest(ingest, "unindented-continuation.eml", mail_from="bounce@vendor.example")
    ticket, requester, comment = await _ticket(session, vendor)
    assert ticket.subject == "License renewal for your campus"
    assert (requester.name, requester.email) == ("Vendor Support", "support@vendor.example")
    assert comment.body_text == "Your campus license expires on 31 December.\n"
    assert any("continuation" in d for d in _steps(vendor, "parse")[0]["defects"])
    # The same mail with bare LF line ends (a Unix mailer, a pasted .eml).
    bare = (FIXTURES / "unindented-continuation.eml").read_bytes().replace(b"\r\n", b"\n")
    lf = await ingest(bare.replace(b"<v1@vendor.example>", b"<v1-lf@vendor.example>"))
    ticket, requester, comment = await _ticket(session, lf)
    assert ticket.subject == "License renewal for your campus"
    assert comment.body_text == "Your campus license expires on 31 December.\n"

    junk = await _ingest(ingest, "leading-junk-line.eml")
    ticket, requester, comment = await _ticket(session, junk)
    assert ticket.subject == "학생증 비밀번호 변경"
    assert (requester.name, requester.email) == ("Park Jiyoung", "jiyoung.park@univ.ac.kr")
    assert comment.body_text == "학생증 비밀번호를 잊어버렸습니다.\n"
    assert any("before the first header" in d for d in _steps(junk, "parse")[0]["defects"])


@pytest.mark.parametrize(
    ("fixture", "envelope", "name", "email"),
    [
        ("no-from-sender-header.eml", "bounce@lists.example", "Lee Sujin", "sujin.lee@univ.ac.kr"),
        ("no-from-reply-to.eml", "bounce@lists.example", "Choi Minho", "minho.choi@univ.ac.kr"),
        ("from-empty-address.eml", "", "Han Yuna", "yuna.han@univ.ac.kr"),
        ("from-comment-form.eml", "", "Jung Hoon", "jung.hoon@univ.ac.kr"),
        ("from-two-addresses.eml", "", "Kang Dahye", "dahye.kang@univ.ac.kr"),
        ("adjacent-encoded-words.eml", "", "BÄKOSchönland", "info@baeko.example"),
        ("from-trailing-dot.eml", "", "Yoon Seo", "yoon.seo@yahoo.com"),
        ("from-stray-quotes.eml", "", "lim.taeyang", "lim.taeyang@univ.ac.kr"),
    ],
)
async def test_the_sender_is_the_person_in_the_mail(
    session: AsyncSession, ingest: Ingest, fixture: str, envelope: str, name: str, email: str
) -> None:
    row = await _ingest(ingest, fixture, mail_from=envelope)
    _, requester, _ = await _ticket(session, row)
    assert (requester.name, requester.email) == (name, email)


async def test_adjacent_encoded_words_in_a_subject_join(
    session: AsyncSession, ingest: Ingest
) -> None:
    row = await _ingest(ingest, "adjacent-encoded-words.eml")
    ticket, _, _ = await _ticket(session, row)
    assert ticket.subject == "Lieferung für Labor 3"


async def test_a_from_with_two_addresses_records_the_others(
    session: AsyncSession, ingest: Ingest
) -> None:
    row = await _ingest(ingest, "from-two-addresses.eml")
    assert any("office@univ.ac.kr" in d for d in _steps(row, "parse")[0]["defects"])


async def test_unnamed_parts_are_named_from_their_type_and_colons_are_kept(
    session: AsyncSession, ingest: Ingest
) -> None:
    row = await _ingest(ingest, "unnamed-and-colon-attachments.eml")
    ticket, _, _ = await _ticket(session, row)
    assert await _attachments(session, ticket.id) == ["image.gif", "document.pdf", "log 10:42.txt"]


async def test_an_unusable_sender_is_quarantined_and_released_with_a_requester_the_admin_chose(
    session: AsyncSession, ingest: Ingest, inbound_settings
) -> None:  # type: ignore[no-untyped-def]
    from core.inbound import maillog
    from core.models import Role
    from core.users import service as users

    row = await _ingest(ingest, "from-localhost.eml")
    assert row.status == "quarantined" and "not a valid address" in row.reason
    admin = await users.create_user(session, email="admin@test.ac.kr", name="A", role=Role.admin)
    released = await maillog.release(
        session,
        message_id=row.id,
        requester_email="sysadmin@univ.ac.kr",
        actor=admin,
        settings=inbound_settings,
    )
    _, requester, comment = await _ticket(session, released)
    assert requester.email == "sysadmin@univ.ac.kr" and comment.body_text == "backup failed\n"

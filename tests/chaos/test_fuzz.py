"""Fuzz, light: a few hundred mutated and generated messages (fixed hypothesis seed, so CI sees
the same ones every run) through the whole ingestion pipeline. No exception may escape, every
message must end processed, ignored or quarantined with a reason, and no stored HTML may keep a
script. The full run is `python -m bench.chaos.fuzz` (10,000 messages)."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bench.chaos import mime
from bench.chaos.fuzz import fuzz_pipeline, fuzz_settings
from core.models import InboundMessage, OutboundEmail, User

FUZZ_SEED = 20261128


async def test_fuzzed_mail_never_escapes_the_pipeline(
    committed_db: AsyncEngine, tmp_path: Path
) -> None:
    messages = mime.examples(150, seed_value=FUZZ_SEED)
    assert len(messages) == 150
    result = await fuzz_pipeline(messages, fuzz_settings(tmp_path / "uploads"))
    assert not result.unhandled, result.unhandled[0]
    assert not result.unfinished, result.unfinished[:5]
    assert not result.unsafe_html, result.unsafe_html[:5]
    assert sum(result.statuses.values()) == 150
    # The fuzzer reaches the deep steps, not only the parser: most mutants still become tickets.
    assert result.statuses["processed"] > 50, result.statuses


async def test_nul_in_a_display_name_still_makes_a_ticket(
    committed_db: AsyncEngine, tmp_path: Path
) -> None:
    """Found by the fuzzer: `From: "D\\x00b" <...>` made the requester insert fail (PostgreSQL
    text cannot hold NUL), so a legitimate mail was retried and quarantined."""
    message = EmailMessage()
    message["From"] = "someone <nul-name@univ.ac.kr>"
    message["To"] = mime.HELP
    message["Subject"] = "NUL in the name"
    message.set_content("body\n")
    raw = message.as_bytes().replace(b"From: someone", b"From: D\x00b", 1)
    result = await fuzz_pipeline([raw], fuzz_settings(tmp_path / "uploads"))
    assert not result.unhandled, result.unhandled
    assert result.statuses["processed"] == 1
    async with AsyncSession(committed_db) as session:
        user = await session.scalar(select(User).where(User.email == "nul-name@univ.ac.kr"))
        assert user is not None and user.name == "Db"
        row = await session.scalar(select(InboundMessage))
        assert row is not None and row.status == "processed"


def _utf8_mail(sender: str, subject: str) -> bytes:
    return (
        f"From: 홍길동 <{sender}>\r\nTo: {mime.HELP}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject}@eai.ac.kr>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "프린터가 고장났습니다.\r\n"
    ).encode()


async def test_requesters_with_internationalised_addresses_get_their_ticket(
    committed_db: AsyncEngine, tmp_path: Path
) -> None:
    """Found by the fuzzer: a sender whose address was not 7-bit (an internationalised domain,
    or an SMTPUTF8 local part, which the gateway advertises) made the acknowledgement raise
    while the ticket was being opened, so the mail was retried and quarantined, never a ticket.
    Now the domain goes out in IDNA, and a mail to a non-ASCII local part is recorded as not
    sent, with why."""
    raws = [
        _utf8_mail("hong@한국대학교.kr", "idn-domain"),
        _utf8_mail("홍길동@univ.ac.kr", "utf8-local-part"),
    ]
    result = await fuzz_pipeline(raws, fuzz_settings(tmp_path / "uploads"))
    assert not result.unhandled, result.unhandled
    assert result.statuses["processed"] == 2
    async with AsyncSession(committed_db) as session:
        rows = (
            await session.execute(
                select(OutboundEmail.recipient, OutboundEmail.status, OutboundEmail.last_error)
                .where(OutboundEmail.kind == "acknowledgement")
                .order_by(OutboundEmail.id)
            )
        ).all()
    assert [(r.recipient, r.status) for r in rows] == [
        ("hong@xn--9d0b4b70v6u5bma.kr", "queued"),
        ("홍길동@univ.ac.kr", "suppressed"),
    ]
    assert "SMTPUTF8" in rows[1].last_error


async def test_nul_in_a_from_address_falls_back_to_the_envelope(
    committed_db: AsyncEngine, tmp_path: Path
) -> None:
    """Found by the fuzzer: `From: <from@th\\x00re.com>` passed the address parser, and the
    verdict's update failed on the NUL (retried, then quarantined)."""
    raw = _utf8_mail("from@there.com", "nul-address").replace(b"from@there", b"from@th\x00ere")
    result = await fuzz_pipeline([raw], fuzz_settings(tmp_path / "uploads"))
    assert not result.unhandled, result.unhandled
    assert result.statuses["processed"] == 1

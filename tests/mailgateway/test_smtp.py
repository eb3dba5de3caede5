"""The gateway over real SMTP sockets: a real client talks to the running listener, then the
database (and the attachment store) is checked."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
from email.message import EmailMessage

import aiosmtplib
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core.mail.tokens import make_message_id, make_reply_token, reply_address
from core.models import (
    Attachment,
    Comment,
    InboundMessage,
    Role,
    Ticket,
    TicketStatus,
    User,
    Visibility,
)
from core.storage import get_storage
from tests.mailgateway.conftest import HELP, Gateway, GatewayFactory, add_user, make_mail
from tests.mailgateway.conftest import rows as _one

QUEUED = re.compile(r"2\.0\.0 Ok: queued as (\d+)")


def _queued_id(response: str) -> int:
    match = QUEUED.search(response)
    assert match, response
    return int(match.group(1))


async def test_new_mail_becomes_a_ticket(gateway: Gateway, committed_db: AsyncEngine) -> None:
    errors, response = await gateway.send(make_mail(message_id="<first@univ.ac.kr>"))
    assert errors == {}
    inbound_id = _queued_id(response)
    # 250 came after the commit: the raw bytes are there before any processing.
    [row] = await _one(committed_db, select(InboundMessage).where(InboundMessage.id == inbound_id))
    assert row.status == "received" and b"Subject:" in row.raw and row.rcpt_to == [HELP]
    assert row.mail_from == "someone@univ.ac.kr" and row.peer.startswith("127.0.0.1:")

    assert await gateway.process() == 1
    [ticket] = await _one(committed_db, select(Ticket))
    assert ticket.subject == "프린터가 안 됩니다" and ticket.channel == "email"
    assert ticket.status == TicketStatus.new and ticket.thread_message_id == "<first@univ.ac.kr>"
    [requester] = await _one(committed_db, select(User).where(User.id == ticket.requester_id))
    assert requester.email == "kim@univ.ac.kr" and requester.name == "Kim Minsu"
    [comment] = await _one(committed_db, select(Comment))
    assert comment.body_text.startswith("3층 프린터가") and comment.source == "email"
    [row] = await _one(committed_db, select(InboundMessage))
    assert (row.status, row.ticket_id, row.comment_id) == ("processed", ticket.id, comment.id)
    assert row.subject == "프린터가 안 됩니다" and row.from_address == "kim@univ.ac.kr"
    assert [s["step"] for s in row.parse_result["steps"]][:2] == ["parse", "loop"]


async def test_reply_with_in_reply_to_becomes_a_comment(
    gateway: Gateway, committed_db: AsyncEngine
) -> None:
    await gateway.send(make_mail(message_id="<start@univ.ac.kr>"))
    await gateway.process()
    # A reply to an agent's notification (our signed id) and one to the requester's own mail.
    [ticket] = await _one(committed_db, select(Ticket))
    ours = make_message_id(ticket_id=ticket.id, domain="test.ac.kr")
    await gateway.send(
        make_mail(
            subject="RE: 프린터가 안 됩니다",
            body="아직도 안 됩니다.\n",
            message_id="<reply1@univ.ac.kr>",
            headers={"In-Reply-To": ours, "References": ours},
        )
    )
    await gateway.send(
        make_mail(
            subject="Re: other subject entirely",
            body="추가 정보입니다.\n",
            sender="Lee <lee@univ.ac.kr>",
            message_id="<reply2@univ.ac.kr>",
            headers={"References": "<unrelated@x.com> <start@univ.ac.kr>"},
        )
    )
    assert await gateway.process() == 2
    assert len(await _one(committed_db, select(Ticket))) == 1
    comments = await _one(committed_db, select(Comment).order_by(Comment.id))
    assert [c.ticket_id for c in comments] == [ticket.id] * 3
    assert comments[1].body_text.startswith("아직도") and comments[2].body_text.startswith("추가")


async def test_reply_to_a_token_address_becomes_a_comment(
    gateway: Gateway, committed_db: AsyncEngine
) -> None:
    await gateway.send(make_mail(message_id="<t0@univ.ac.kr>"))
    await gateway.process()
    [ticket] = await _one(committed_db, select(Ticket))
    token = make_reply_token(ticket_id=ticket.id, user_id=ticket.requester_id)
    address = reply_address(HELP, token)
    # No In-Reply-To, a different subject: only the recipient address ties it to the ticket.
    errors, _ = await gateway.send(
        make_mail(subject="a fresh subject", body="토큰으로 답장\n", to=address),
        recipients=[address],
    )
    assert errors == {}
    await gateway.process()
    comments = await _one(committed_db, select(Comment).order_by(Comment.id))
    assert len(comments) == 2 and comments[1].ticket_id == ticket.id
    assert comments[1].author_id == ticket.requester_id


async def test_cp949_subject_and_body_decode_exactly(
    gateway: Gateway, committed_db: AsyncEngine
) -> None:
    # What Outlook sends: CP949 bytes labelled ks_c_5601-1987. 똠 and 뷁 exist only in CP949.
    subject = "똠방각하 뷁 문의"
    body = "똠 뷁 햏 - 완성형에 없는 글자도 그대로 보여야 합니다.\r\n"
    encoded_subject = (
        "=?ks_c_5601-1987?B?" + base64.b64encode(subject.encode("cp949")).decode() + "?="
    )
    raw = (
        b"From: =?ks_c_5601-1987?B?"
        + base64.b64encode("김똠".encode("cp949"))
        + b"?= <kim@univ.ac.kr>\r\n"
        + f"To: {HELP}\r\nSubject: {encoded_subject}\r\nMessage-ID: <cp949@univ.ac.kr>\r\n".encode()
        + b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=ks_c_5601-1987\r\n"
        + b"Content-Transfer-Encoding: 8bit\r\n\r\n"
        + body.encode("cp949")
    )
    errors, _ = await gateway.send(raw)
    assert errors == {}
    await gateway.process()
    [ticket] = await _one(committed_db, select(Ticket))
    assert ticket.subject == subject
    [comment] = await _one(committed_db, select(Comment))
    assert comment.body_text == body.replace("\r\n", "\n")
    [user] = await _one(committed_db, select(User))
    assert user.name == "김똠"


def _with_attachment(data: bytes, filename: str) -> EmailMessage:
    message = make_mail(message_id="<att@univ.ac.kr>")
    message.add_attachment(data, maintype="application", subtype="octet-stream", filename=filename)
    return message


async def test_attachment_sha256_survives(gateway: Gateway, committed_db: AsyncEngine) -> None:
    data = os.urandom(300_000)
    await gateway.send(_with_attachment(data, "보고서 최종(2).hwp"))
    await gateway.process()
    [attachment] = await _one(committed_db, select(Attachment))
    assert attachment.sha256 == hashlib.sha256(data).hexdigest()
    assert attachment.filename == "보고서 최종(2).hwp" and attachment.size == len(data)
    [comment] = await _one(committed_db, select(Comment))
    assert attachment.comment_id == comment.id and attachment.ticket_id == comment.ticket_id
    stored = await get_storage(gateway.settings).get(attachment.storage_key)
    assert hashlib.sha256(stored).hexdigest() == hashlib.sha256(data).hexdigest()


async def test_inline_image_is_stored_and_linked(
    gateway: Gateway, committed_db: AsyncEngine
) -> None:
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(2000)
    message = make_mail(message_id="<inline@univ.ac.kr>", body="see the screenshot")
    message.add_alternative(
        '<p>화면입니다</p><img src="cid:shot1@univ.ac.kr" onerror="alert(1)">'
        "<script>alert(2)</script>",
        subtype="html",
    )
    html_part = message.get_payload()[1]
    html_part.add_related(png, maintype="image", subtype="png", cid="<shot1@univ.ac.kr>")
    await gateway.send(message)
    await gateway.process()
    [attachment] = await _one(committed_db, select(Attachment))
    assert attachment.is_inline and attachment.content_id == "shot1@univ.ac.kr"
    assert attachment.sha256 == hashlib.sha256(png).hexdigest()
    [comment] = await _one(committed_db, select(Comment))
    assert f'src="/api/v1/attachments/{attachment.id}"' in comment.body_html
    assert "script" not in comment.body_html and "onerror" not in comment.body_html
    assert "cid:" not in comment.body_html


async def test_oversize_mail_gets_552(start_gateway: GatewayFactory, committed_db) -> None:
    gateway = await start_gateway(mail_max_bytes=100_000)
    message = _with_attachment(os.urandom(200_000), "big.bin")
    # Declared SIZE over the limit: refused at MAIL FROM.
    with pytest.raises(aiosmtplib.SMTPResponseException) as declared:
        await gateway.send(message)
    assert declared.value.code == 552 and "5.3.4" in declared.value.message
    # Undeclared: refused after the data, with the same code.
    client = aiosmtplib.SMTP(hostname=gateway.host, port=gateway.port)
    async with client:
        await client.ehlo()
        client.esmtp_extensions.pop("size", None)
        with pytest.raises(aiosmtplib.SMTPResponseException) as undeclared:
            await client.sendmail("a@univ.ac.kr", [HELP], message.as_bytes())
    assert undeclared.value.code == 552 and "5.3.4" in undeclared.value.message
    assert await _one(committed_db, select(InboundMessage)) == []


async def test_unknown_recipient_gets_550(gateway: Gateway, committed_db: AsyncEngine) -> None:
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await gateway.send(make_mail(), recipients=["nobody@test.ac.kr"])
    [error] = refused.value.recipients
    assert error.code == 550 and "5.1.1" in error.message
    # A plus address with a forged token is refused too; with the help address it is accepted.
    errors, _ = await gateway.send(
        make_mail(), recipients=["help+r-1-1-aaaaaaaaaaaaaaaa@test.ac.kr", HELP]
    )
    assert errors["help+r-1-1-aaaaaaaaaaaaaaaa@test.ac.kr"].code == 550
    [row] = await _one(committed_db, select(InboundMessage))
    assert row.rcpt_to == [HELP]


async def test_team_address_routes_to_the_team(gateway: Gateway, committed_db: AsyncEngine) -> None:
    from core.models import Team

    async with AsyncSession(committed_db, expire_on_commit=False) as session:
        team = Team(name="네트워크", email="network@test.ac.kr")
        session.add(team)
        await session.commit()
    errors, _ = await gateway.send(
        make_mail(to="network@test.ac.kr"), recipients=["network@test.ac.kr"]
    )
    assert errors == {}
    await gateway.process()
    [ticket] = await _one(committed_db, select(Ticket))
    assert ticket.team_id == team.id


async def test_same_message_twice_makes_one_comment(
    gateway: Gateway, committed_db: AsyncEngine
) -> None:
    message = make_mail(message_id="<twice@univ.ac.kr>")
    await gateway.send(message)
    await gateway.send(message)  # e.g. the MTA retried after a lost 250
    # and a copy without Message-ID, twice, byte for byte: deduplicated by digest
    bare = make_mail(subject="no id", body="no message id\n").as_bytes()
    await gateway.send(bare)
    await gateway.send(bare)
    assert await gateway.process() == 4
    assert len(await _one(committed_db, select(Comment))) == 2
    rows = await _one(committed_db, select(InboundMessage).order_by(InboundMessage.id))
    assert [r.status for r in rows] == ["processed", "ignored", "processed", "ignored"]
    assert rows[1].reason.startswith("duplicate") and rows[3].reason.startswith("duplicate")


async def test_null_sender_is_accepted(gateway: Gateway, committed_db: AsyncEngine) -> None:
    errors, response = await gateway.send(make_mail(), sender="")
    assert errors == {} and "queued as" in response
    [row] = await _one(committed_db, select(InboundMessage))
    assert row.mail_from in ("", "<>")


async def test_agent_note_line_makes_an_internal_note(
    gateway: Gateway, committed_db: AsyncEngine
) -> None:
    agent = await add_user(committed_db, "agent@test.ac.kr", Role.agent)
    await gateway.send(make_mail(message_id="<n0@univ.ac.kr>"))
    await gateway.process()
    [ticket] = await _one(committed_db, select(Ticket))
    # The agent answers the notification: to the reply address we issued to them.
    token = reply_address(HELP, make_reply_token(ticket_id=ticket.id, user_id=agent.id))
    await gateway.send(
        make_mail(
            sender="agent@test.ac.kr",
            to=token,
            body="#note\n요청자에게 보이지 않아야 합니다.\n",
            headers={"In-Reply-To": "<n0@univ.ac.kr>"},
        ),
        recipients=[token],
    )
    await gateway.process()
    comments = await _one(committed_db, select(Comment).order_by(Comment.id))
    assert comments[1].visibility == Visibility.internal
    assert comments[1].body_text.startswith("요청자에게")
    assert len(await _one(committed_db, select(func.count()).select_from(Ticket))) == 1


@pytest.fixture
def certificate(tmp_path) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A throwaway self-signed certificate for STARTTLS."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return str(cert), str(key)


async def test_ehlo_offers_size_8bitmime_smtputf8_and_starttls_with_a_certificate(
    start_gateway: GatewayFactory, committed_db: AsyncEngine, certificate: tuple[str, str]
) -> None:
    cert, key = certificate
    plain = await start_gateway()
    async with aiosmtplib.SMTP(hostname=plain.host, port=plain.port, start_tls=False) as client:
        await client.ehlo()
        assert client.esmtp_extensions["size"] == str(30 * 1024 * 1024)
        assert {"8bitmime", "smtputf8"} <= set(client.esmtp_extensions)
        assert "starttls" not in client.esmtp_extensions
    tls = await start_gateway(mailgateway_tls_cert=cert, mailgateway_tls_key=key)
    client = aiosmtplib.SMTP(hostname=tls.host, port=tls.port, start_tls=True, validate_certs=False)
    async with client:
        assert client.get_transport_info("sslcontext") is not None
        errors, _ = await client.send_message(make_mail(subject="암호화된 연결"))
    assert errors == {}
    # An SMTPUTF8 address (RFC 6531) in the envelope is accepted too.
    errors, _ = await plain.send(make_mail(), sender="김민수@univ.ac.kr")
    assert errors == {}
    rows = await _one(committed_db, select(InboundMessage).order_by(InboundMessage.id))
    assert [r.mail_from for r in rows][-1] == "김민수@univ.ac.kr"


async def test_undecodable_bytes_in_the_envelope_are_stored_not_refused(
    gateway: Gateway, committed_db: AsyncEngine
) -> None:
    import asyncio

    reader, writer = await asyncio.open_connection(gateway.host, gateway.port)

    async def command(line: bytes) -> bytes:
        writer.write(line + b"\r\n")
        reply = b""
        while True:
            chunk = await reader.readline()
            reply += chunk
            if chunk[3:4] != b"-":
                return reply

    await reader.readline()
    assert (await command(b"EHLO bad\xffhost")).startswith(b"250")
    assert (await command(b"MAIL FROM:<kim\xff@univ.ac.kr> SMTPUTF8")).startswith(b"250")
    assert (await command(f"RCPT TO:<{HELP}>".encode())).startswith(b"250")
    assert (await command(b"DATA")).startswith(b"354")
    reply = await command(make_mail(message_id="<env@univ.ac.kr>").as_bytes() + b"\r\n.")
    writer.close()
    assert reply.startswith(b"250 2.0.0"), reply
    [row] = await _one(committed_db, select(InboundMessage))
    assert row.mail_from == "kim\ufffd@univ.ac.kr" and row.helo == "bad\ufffdhost"

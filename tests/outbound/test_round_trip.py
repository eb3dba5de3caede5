"""Round trip through real SMTP both ways: a notification captured from the sender is answered the
way mail clients answer (new text on top, the notification quoted below), sent to the mail gateway,
and lands as a comment on the same ticket with the quote separated. For the requester (Korean
Outlook style) and for an agent answering from their own mail client (Gmail style), whose answer
then reaches the requester by mail."""

from __future__ import annotations

import email.utils
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
from sqlalchemy import select

from core import db
from core.config import get_settings
from core.models import Comment, Role, Ticket
from core.outbox.render import REPLY_MARKER_EN, REPLY_MARKER_KO
from core.tickets import repository as tickets_repo
from core.tickets import service as tickets
from mailgateway.server import start_listener
from mailgateway.worker import drain as process_inbound
from tests.outbound.support import Captured, capture_server, drain, make_user, smtp_settings

HELP = "help@test.ac.kr"


def _text(captured: Captured) -> str:
    return captured.message.get_body(preferencelist=("plain",)).get_content()


def outlook_ko_reply(notification: Captured, *, sender: str, new_text: str) -> EmailMessage:
    """What Outlook (Korean UI) sends when one presses Reply on a notification."""
    original = notification.message
    reply = EmailMessage()
    reply["From"] = sender
    reply["To"] = original["Reply-To"]
    reply["Subject"] = f"RE: {original['Subject']}"
    reply["Message-ID"] = email.utils.make_msgid(domain="univ.ac.kr")
    reply["In-Reply-To"] = original["Message-ID"]
    reply["References"] = f"{original['References'] or ''} {original['Message-ID']}".strip()
    quoted = _text(notification)
    reply.set_content(
        f"{new_text}\n\n"
        "-----원본 메시지-----\n"
        f"보낸 사람: {original['From']}\n"
        f"보낸 날짜: {original['Date']}\n"
        f"받는 사람: {original['To']}\n"
        f"제목: {original['Subject']}\n\n"
        f"{quoted}"
    )
    return reply


def gmail_reply(notification: Captured, *, sender: str, new_text: str) -> EmailMessage:
    """What Gmail sends: an attribution line, then the original with "> " quoting."""
    original = notification.message
    reply = EmailMessage()
    reply["From"] = sender
    reply["To"] = original["Reply-To"]
    reply["Subject"] = f"Re: {original['Subject']}"
    reply["Message-ID"] = email.utils.make_msgid(domain="gmail.test")
    reply["In-Reply-To"] = original["Message-ID"]
    reply["References"] = f"{original['References'] or ''} {original['Message-ID']}".strip()
    quoted = "\n".join(f"> {line}" if line else ">" for line in _text(notification).splitlines())
    reply.set_content(
        f"{new_text}\n\nOn Sat, Nov 28, 2026 at 3:00 PM {original['From']} wrote:\n\n{quoted}\n"
    )
    return reply


async def _send_to_gateway(port: int, message: EmailMessage, sender: str) -> None:
    recipients = [a.addr_spec for a in message["To"].addresses]
    errors, _ = await aiosmtplib.send(
        message, hostname="127.0.0.1", port=port, sender=sender, recipients=recipients
    )
    assert errors == {}


async def _comments(ticket_id: int) -> list[Comment]:
    async with db.session_scope() as session:
        return list(
            await session.scalars(
                select(Comment).where(Comment.ticket_id == ticket_id).order_by(Comment.id)
            )
        )


async def test_replies_from_mail_clients_thread_back_with_the_quote_separated(
    committed_db, tmp_path: Path
) -> None:
    gateway_settings = get_settings().model_copy(
        update={
            "helpdesk_addresses": HELP,
            "local_upload_root": str(tmp_path / "uploads"),
            "storage_backend": "local",
            "mail_retry_base_seconds": 0,
        }
    )
    server, committer = await start_listener(gateway_settings, host="127.0.0.1", port=0)
    gateway_port = server.sockets[0].getsockname()[1]
    requester_address = "kim@univ.ac.kr"
    agent = await make_user("lee.agent@univ.ac.kr", name="이상담", role=Role.agent, locale="en")
    boss = await make_user("boss@univ.ac.kr", name="Boss", role=Role.admin)
    try:
        async with capture_server() as relay:
            settings = smtp_settings(relay.port)
            # 1. The requester writes to the help address; the gateway opens a ticket.
            first = EmailMessage()
            first["From"] = f"김민수 <{requester_address}>"
            first["To"] = HELP
            first["Subject"] = "3층 프린터가 인쇄되지 않습니다"
            first["Message-ID"] = "<first-mail@univ.ac.kr>"
            first.set_content("3층 복도 프린터가 인쇄 대기만 합니다.\n")
            await _send_to_gateway(gateway_port, first, requester_address)
            assert await process_inbound(gateway_settings) == 1
            async with db.session_scope() as session:
                ticket = await session.scalar(select(Ticket))
                assert ticket is not None and ticket.thread_message_id == "<first-mail@univ.ac.kr>"
                await tickets.assign(session, ticket=ticket, assignee=agent, actor=boss)
            await drain(committed_db, settings)
            [ack] = relay.handler.to(requester_address)
            assert ack.message["In-Reply-To"] == "<first-mail@univ.ac.kr>"

            # 2. The requester answers the acknowledgement from Outlook.
            reply = outlook_ko_reply(
                ack,
                sender=f"김민수 <{requester_address}>",
                new_text="2층 프린터도 같은 증상입니다.",
            )
            await _send_to_gateway(gateway_port, reply, requester_address)
            assert await process_inbound(gateway_settings) == 1
            comments = await _comments(ticket.id)
            assert len(comments) == 2
            answer = comments[-1]
            async with db.session_scope() as session:
                requester_id = (await tickets_repo.get_ticket(session, ticket.id)).requester_id
            assert answer.author_id == requester_id and answer.visibility == "public"
            assert answer.message_id == reply["Message-ID"]
            assert answer.quote_start is not None
            assert answer.body_text[: answer.quote_start].strip() == "2층 프린터도 같은 증상입니다."
            assert REPLY_MARKER_KO in answer.body_text[answer.quote_start :]

            # 3. The assignee is told, and answers from their own mail client.
            await drain(committed_db, settings)
            [told] = [
                m
                for m in relay.handler.to("lee.agent@univ.ac.kr")
                if "Requester replied" in m.message["Subject"]
            ]
            assert "2층 프린터도 같은 증상입니다." in _text(told)
            assert "-----원본 메시지-----" not in _text(told)  # only the new text is relayed
            agent_reply = gmail_reply(
                told,
                sender="Lee <lee.agent@univ.ac.kr>",
                new_text="Both printers are fixed now; please try again.",
            )
            await _send_to_gateway(gateway_port, agent_reply, "lee.agent@univ.ac.kr")
            assert await process_inbound(gateway_settings) == 1
            comments = await _comments(ticket.id)
            answer = [c for c in comments if c.author_id == agent.id][-1]
            assert answer.visibility == "public" and answer.source == "email"
            assert answer.quote_start is not None
            assert (
                answer.body_text[: answer.quote_start].strip()
                == "Both printers are fixed now; please try again."
            )
            assert REPLY_MARKER_EN in answer.body_text[answer.quote_start :]

            # 4. ... which reaches the requester by mail, threaded, without the quoted history.
            await drain(committed_db, settings)
            [relayed] = [
                m for m in relay.handler.to(requester_address) if "Re:" in m.message["Subject"]
            ]
            text = _text(relayed)
            assert "Both printers are fixed now; please try again." in text
            assert "wrote:" not in text and "> " not in text
            assert "이상담" in str(relayed.message["From"])
            references = relayed.message["References"].split()
            assert references[0] == "<first-mail@univ.ac.kr>"
            assert relayed.message["In-Reply-To"] == agent_reply["Message-ID"]
            assert reply["Message-ID"] in references and ack.message["Message-ID"] in references
    finally:
        server.close()
        await server.wait_closed()
        await committer.stop()

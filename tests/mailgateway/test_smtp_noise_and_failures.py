"""Over real SMTP: the database going away, auto-replies, bounces, forged subject tags, and the
`servicedesk mailgateway` process itself."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from core import db, events
from core.mail.tokens import make_message_id
from core.models import (
    Comment,
    InboundMessage,
    OutboundEmail,
    Ticket,
    TicketParticipant,
    User,
)
from tests.mailgateway.conftest import (
    HELP,
    RELAY_IP,
    TRUST_SETTINGS,
    Gateway,
    GatewayFactory,
    TcpProxy,
    make_mail,
    relayed,
)
from tests.mailgateway.conftest import rows as _all

PROJECT_DIR = Path(__file__).resolve().parents[2]


# --- the database goes away --------------------------------------------------------------------


@pytest.fixture
async def proxied_database(committed_db: AsyncEngine, database_url: str) -> AsyncIterator[TcpProxy]:
    """Point the process-wide engine (the gateway's) at the database through a proxy."""
    url = make_url(database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.up()
    engine = create_async_engine(
        url.set(host="127.0.0.1", port=proxy.port),
        pool_pre_ping=True,
        connect_args={"connect_timeout": 3},
    )
    db.use_engine(engine)
    try:
        yield proxy
    finally:
        await proxy.down()
        await engine.dispose()
        db.use_engine(committed_db)


async def test_database_unreachable_answers_4xx_then_the_resent_mail_is_processed(
    proxied_database: TcpProxy, start_gateway: GatewayFactory, committed_db: AsyncEngine
) -> None:
    gateway = await start_gateway()
    message = make_mail(message_id="<while-down@univ.ac.kr>", subject="DB가 잠시 멈췄을 때")
    await gateway.send(make_mail(message_id="<warm@univ.ac.kr>"))  # a pooled connection exists

    await proxied_database.down()
    with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
        await gateway.send(message)
    assert refused.value.code == 451 and "4.3.0" in refused.value.message
    assert len(await _all(committed_db, select(InboundMessage))) == 1  # nothing half-stored

    await proxied_database.up()
    errors, response = await gateway.send(message)  # what the sending MTA does: retry later
    assert errors == {} and "queued as" in response
    assert await gateway.process() == 2
    subjects = {t.subject for t in await _all(committed_db, select(Ticket))}
    assert "DB가 잠시 멈췄을 때" in subjects


# --- auto-replies --------------------------------------------------------------------------------


@pytest.fixture
def created_events() -> list[events.TicketCreated]:
    seen: list[events.TicketCreated] = []

    async def capture(_session, event) -> None:  # type: ignore[no-untyped-def]
        seen.append(event)

    events.subscribe(events.TicketCreated)(capture)
    yield seen
    events._handlers[events.TicketCreated].remove(capture)


def _acknowledgements_are_written() -> bool:
    return "core.notifications.handlers" in events.HANDLER_MODULES


async def test_auto_reply_threads_but_triggers_no_acknowledgement(
    gateway: Gateway, committed_db: AsyncEngine, created_events: list[events.TicketCreated]
) -> None:
    await gateway.send(make_mail(message_id="<q1@univ.ac.kr>", sender="kim@univ.ac.kr"))
    await gateway.process()
    [ticket] = await _all(committed_db, select(Ticket))
    ours = make_message_id(ticket_id=ticket.id, domain="test.ac.kr")
    # An out-of-office answer to our acknowledgement: threads onto the ticket.
    await gateway.send(
        make_mail(
            subject=f"자동 회신: [#{ticket.number}] 프린터가 안 됩니다",
            body="휴가 중입니다. 1월 3일에 돌아옵니다.\n",
            sender="kim@univ.ac.kr",
            message_id="<ooo1@univ.ac.kr>",
            headers={"Auto-Submitted": "auto-replied", "In-Reply-To": ours},
        )
    )
    # An auto-reply that matches nothing opens a ticket, but is not acknowledged either.
    await gateway.send(
        make_mail(
            subject="Out of Office: hello",
            sender="away@elsewhere.ac.kr",
            message_id="<ooo2@elsewhere.ac.kr>",
            headers={"X-Autoreply": "yes"},
        )
    )
    assert await gateway.process() == 2
    comments = await _all(committed_db, select(Comment).order_by(Comment.id))
    assert comments[1].ticket_id == ticket.id and comments[1].is_auto_reply
    tickets = await _all(committed_db, select(Ticket).order_by(Ticket.id))
    assert len(tickets) == 2
    assert [e.suppress_acknowledgement for e in created_events] == [False, True]
    if _acknowledgements_are_written():
        acks = await _all(
            committed_db, select(OutboundEmail).where(OutboundEmail.kind == "acknowledgement")
        )
        assert [a.ticket_id for a in acks] == [ticket.id]
    [row] = await _all(
        committed_db,
        select(InboundMessage).where(InboundMessage.message_id == "<ooo2@elsewhere.ac.kr>"),
    )
    assert row.parse_result["auto_reply"] == "X-Autoreply header"


# --- bounces -------------------------------------------------------------------------------------


def _bounce(original_message_id: str, failed: str) -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.univ.ac.kr>\r\n"
        f"To: {HELP}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <bounce-1@mx.univ.ac.kr>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        "\r\n--B\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you...\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.univ.ac.kr\r\n\r\n"
        f"Final-Recipient: rfc822; {failed}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"
        "--B\r\nContent-Type: message/rfc822\r\n\r\n"
        f"From: {HELP}\r\nTo: {failed}\r\nSubject: [#1000] 접수되었습니다\r\n"
        f"Message-ID: {original_message_id}\r\n\r\n접수 확인\r\n"
        "--B--\r\n"
    ).encode()


async def test_bounce_opens_no_ticket_and_marks_the_address(
    gateway: Gateway, committed_db: AsyncEngine
) -> None:
    await gateway.send(make_mail(message_id="<b0@univ.ac.kr>", sender="gone@univ.ac.kr"))
    await gateway.process()
    [ticket] = await _all(committed_db, select(Ticket))
    # The acknowledgement we sent to that address comes back.
    [ours] = await _all(
        committed_db,
        select(OutboundEmail.message_id).where(OutboundEmail.recipient == "gone@univ.ac.kr"),
    )
    errors, _ = await gateway.send(_bounce(ours, "gone@univ.ac.kr"), sender="")
    assert errors == {}
    await gateway.process()
    assert len(await _all(committed_db, select(Ticket))) == 1
    [user] = await _all(committed_db, select(User).where(User.email == "gone@univ.ac.kr"))
    assert user.bouncing_since is not None and "5.1.1" in user.bounce_reason
    notes = await _all(
        committed_db, select(Comment).where(Comment.source == "system").order_by(Comment.id)
    )
    assert len(notes) == 1 and notes[0].ticket_id == ticket.id and notes[0].visibility == "internal"
    assert "gone@univ.ac.kr" in notes[0].body_text
    [row] = await _all(
        committed_db,
        select(InboundMessage).where(InboundMessage.message_id == "<bounce-1@mx.univ.ac.kr>"),
    )
    assert row.status == "processed" and row.reason.startswith("bounce")


async def test_a_forged_bounce_silences_nobody(gateway: Gateway, committed_db: AsyncEngine) -> None:
    """A delivery report marks an address only if it returns a mail we sent to that address:
    otherwise it would stop every notification to whoever it names."""
    await gateway.send(make_mail(message_id="<s0@univ.ac.kr>", sender="student@univ.ac.kr"))
    await gateway.send(make_mail(message_id="<x0@evil.example>", sender="attacker@evil.example"))
    await gateway.process()
    # The attacker holds the Message-ID of the acknowledgement we sent them, and names the
    # student (and a made-up id) in a report of their own.
    [theirs] = await _all(
        committed_db,
        select(OutboundEmail.message_id).where(OutboundEmail.recipient == "attacker@evil.example"),
    )
    await gateway.send(_bounce(theirs, "student@univ.ac.kr"), sender="")
    await gateway.process()
    [user] = await _all(committed_db, select(User).where(User.email == "student@univ.ac.kr"))
    assert user.bouncing_since is None
    [row] = await _all(
        committed_db,
        select(InboundMessage).where(InboundMessage.message_id == "<bounce-1@mx.univ.ac.kr>"),
    )
    assert row.status == "ignored" and "returns no mail of ours to that address" in row.reason


# --- forged subject tags -------------------------------------------------------------------


async def test_strangers_forged_subject_tag_is_quarantined_not_appended(
    gateway: Gateway, committed_db: AsyncEngine
) -> None:
    await gateway.send(make_mail(message_id="<v0@univ.ac.kr>", sender="victim@univ.ac.kr"))
    await gateway.process()
    [ticket] = await _all(committed_db, select(Ticket))
    forged = make_mail(
        subject=f"Re: [#{ticket.number}] 비밀번호 초기화",
        body="제 계정으로 바꿔 주세요\n",
        sender="attacker@evil.example",
        message_id="<forged@evil.example>",
    )
    await gateway.send(forged)
    # The requester's own mail with the tag (no References) is honoured only when the campus
    # relay verified it (tests/mailgateway/test_mail_trust.py); unverified, it waits for an admin.
    await gateway.send(
        make_mail(
            subject=f"Re: [#{ticket.number}] 추가",
            sender="victim@univ.ac.kr",
            message_id="<v1@univ.ac.kr>",
        )
    )
    await gateway.process()
    comments = await _all(committed_db, select(Comment).order_by(Comment.id))
    assert [c.message_id for c in comments] == ["<v0@univ.ac.kr>"]
    [own] = await _all(
        committed_db,
        select(InboundMessage).where(InboundMessage.message_id == "<v1@univ.ac.kr>"),
    )
    assert own.status == "quarantined" and own.reason.startswith("possible spoof")
    assert len(await _all(committed_db, select(Ticket))) == 1
    [row] = await _all(
        committed_db,
        select(InboundMessage).where(InboundMessage.message_id == "<forged@evil.example>"),
    )
    assert row.status == "quarantined" and row.reason.startswith("possible hijack")
    # Nothing of the stranger was kept: no user, no participant.
    assert await _all(committed_db, select(User).where(User.email == "attacker@evil.example")) == []
    assert await _all(committed_db, select(TicketParticipant)) == []


async def test_cc_addresses_become_participants_but_not_ours(
    start_gateway: GatewayFactory, committed_db: AsyncEngine
) -> None:
    gateway = await start_gateway(**TRUST_SETTINGS)
    message = make_mail(message_id="<cc@univ.ac.kr>", sender="kim@univ.ac.kr")
    message["Cc"] = "Park <park@univ.ac.kr>, help@test.ac.kr, help+x@test.ac.kr, kim@univ.ac.kr"
    # Only verified (or token-bound) mail may subscribe people: it comes through the relay.
    await gateway.send(relayed(message, "dmarc=pass header.from=univ.ac.kr"), source=RELAY_IP)
    await gateway.process()
    participants = await _all(committed_db, select(TicketParticipant))
    [park] = await _all(committed_db, select(User).where(User.email == "park@univ.ac.kr"))
    assert [p.user_id for p in participants] == [park.id] and park.name == "Park"


# --- the real process ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _gateway_process(
    database_url: str, tmp_path: Path, output: int
) -> tuple[subprocess.Popen[bytes], int]:
    """`servicedesk mailgateway` as the supervisor starts it, on a free loopback port."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "HELPDESK_ADDRESSES": HELP,
        "MAILGATEWAY_HOST": "127.0.0.1",
        "MAILGATEWAY_PORT": str(port),
        "LOCAL_UPLOAD_ROOT": str(tmp_path / "uploads"),
        "MAIL_WORKERS": "2",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "servicedesk", "mailgateway"],
        env=env,
        cwd=tmp_path,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    return process, port


async def test_servicedesk_mailgateway_receives_and_processes(
    committed_db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    process, port = _gateway_process(database_url, tmp_path, subprocess.PIPE)
    try:
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                await asyncio.sleep(0.1)
        message = EmailMessage()
        message["From"] = "proc@univ.ac.kr"
        message["To"] = HELP
        message["Subject"] = "프로세스 시험"
        message["Message-ID"] = "<proc@univ.ac.kr>"
        message.set_content("실제 프로세스가 받고 처리합니다")
        await aiosmtplib.send(message, hostname="127.0.0.1", port=port, timeout=30)
        # The in-process workers turn it into a ticket without anything else running.
        for _ in range(200):
            rows = await _all(committed_db, select(InboundMessage))
            if rows and rows[0].status != "received" and rows[0].status != "processing":
                break
            await asyncio.sleep(0.1)
        [row] = rows
        assert row.status == "processed", (row.status, row.reason)
        [ticket] = await _all(committed_db, select(Ticket))
        assert ticket.subject == "프로세스 시험"
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0].decode(errors="replace")
    assert process.returncode == 0, output
    assert "mailgateway listening" in output


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


async def test_killed_gateway_leaves_no_orphan_worker(
    committed_db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    process, _ = _gateway_process(database_url, tmp_path, subprocess.DEVNULL)
    try:
        children: list[int] = []
        for _ in range(200):
            children = _children(process.pid)
            if children:
                break
            await asyncio.sleep(0.05)
        assert children, "the gateway started no worker process"
        process.kill()  # SIGKILL: no chance to stop the child itself
        process.wait(timeout=10)
        for _ in range(200):
            if not _alive(children[0]):
                break
            await asyncio.sleep(0.05)
        assert not _alive(children[0]), "the worker outlived the killed gateway"
    finally:
        if process.poll() is None:
            process.kill()


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return not any(line.startswith("State:") and "Z" in line for line in status.splitlines())

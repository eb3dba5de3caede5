"""Mail loops are bounded. Two service desks (this one in the test process, another one as real
`servicedesk mailgateway` + `servicedesk mailsender` processes on a second database) mail each
other's acknowledgements through a relay that routes by domain; and this desk faces a naive
auto-responder that ignores every auto-reply header and answers each mail as a brand-new mail."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import psycopg
import pytest
from aiosmtpd.smtp import Envelope, Session
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from core import db
from core.config import Settings, get_settings
from core.models import InboundMessage, OutboundEmail, Ticket
from mailgateway.server import start_listener
from mailgateway.worker import run_workers
from scheduler.mailsender import run_sender
from tests.conftest import create_database, drop_database, run_migrations
from tests.outbound.support import FAST, Captured, CaptureServer, free_port, wait_for

HERE = "help@test.ac.kr"
THERE = "help@other.ac.kr"
ROBOT = "responder@robot-univ.ac.kr"


class WorldRelay:
    """The campus relay: records every mail and hands it to whoever serves its domain."""

    def __init__(self) -> None:
        self.messages: list[Captured] = []
        self.routes: dict[str, Callable[[Captured], Awaitable[None]]] = {}

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        captured = Captured(
            mail_from=envelope.mail_from or "",
            rcpt_tos=list(envelope.rcpt_tos),
            data=bytes(envelope.original_content or envelope.content or b""),
        )
        self.messages.append(captured)
        for rcpt in captured.rcpt_tos:
            route = self.routes.get(rcpt.rpartition("@")[2].lower())
            if route is not None:
                asyncio.get_running_loop().create_task(route(captured))
        return "250 2.0.0 relayed"


def forward_to(port: int) -> Callable[[Captured], Awaitable[None]]:
    async def forward(captured: Captured) -> None:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=30) as client:
            await client.sendmail(captured.mail_from, captured.rcpt_tos, captured.data)

    return forward


@pytest.fixture(autouse=True)
def _mail_from_here() -> Iterator[None]:
    """Notifications are written with the process settings: From must be this desk's address."""
    previous = os.environ.get("SMTP_FROM")
    os.environ["SMTP_FROM"] = f"IT Service Desk <{HERE}>"
    get_settings.cache_clear()
    yield
    if previous is None:
        os.environ.pop("SMTP_FROM", None)
    else:
        os.environ["SMTP_FROM"] = previous
    get_settings.cache_clear()


@contextlib.asynccontextmanager
async def this_desk(world_port: int, tmp_path: Path) -> AsyncIterator[tuple[Settings, int]]:
    """Gateway, pipeline workers and sender of the desk under test, in this process."""
    settings = get_settings().model_copy(
        update={
            "helpdesk_addresses": HERE,
            "local_upload_root": str(tmp_path / "uploads"),
            "mail_retry_base_seconds": 0,
            "smtp_host": "127.0.0.1",
            "smtp_port": world_port,
        }
    )
    server, committer = await start_listener(settings, host="127.0.0.1", port=0)
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(run_workers(settings, stop, count=2)),
        asyncio.create_task(run_sender(stop, settings=settings, options=FAST)),
    ]
    try:
        yield settings, server.sockets[0].getsockname()[1]
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
        server.close()
        await server.wait_closed()
        await committer.stop()


@contextlib.asynccontextmanager
async def other_desk(test_server_url: str, world_port: int) -> AsyncIterator[tuple[str, int]]:
    """A second, independent desk: its own database, signing secret and help address, run as
    the real `servicedesk mailgateway` and `servicedesk mailsender` processes."""
    url = create_database(test_server_url, prefix="sd_other")
    run_migrations(url)
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        # Its own ticket numbers, so its subject tags never name one of ours.
        await conn.execute("ALTER SEQUENCE ticket_number_seq RESTART WITH 5000")
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "HELPDESK_ADDRESSES": THERE,
        "SMTP_FROM": f"Other Desk <{THERE}>",
        "MAIL_REPLY_TOKEN_SECRET": "the-other-desk-signs-with-its-own-secret",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(world_port),
        "MAILGATEWAY_HOST": "127.0.0.1",
        "MAILGATEWAY_PORT": str(port),
        "LOG_LEVEL": "WARNING",
    }
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "servicedesk", command, env=env, start_new_session=True
        )
        for command in ("mailgateway", "mailsender")
    ]
    try:
        await wait_for(lambda: _listening(port), deadline_s=60)
        yield url, port
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
        drop_database(url)


async def _listening(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    return True


async def _their_counts(url: str) -> dict[str, int]:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        cursor = await conn.execute(
            "SELECT (SELECT count(*) FROM tickets),"
            " (SELECT count(*) FROM outbound_emails),"
            " (SELECT count(*) FROM outbound_emails WHERE status IN ('queued', 'sending')),"
            " (SELECT count(*) FROM inbound_messages WHERE status IN ('received', 'processing'))"
        )
        tickets, outbound, unsent, unprocessed = await cursor.fetchone()
    return {"tickets": tickets, "outbound": outbound, "busy": unsent + unprocessed}


async def _our_counts() -> dict[str, int]:
    async with db.session_scope() as session:
        busy_out = await session.scalar(
            select(func.count()).where(OutboundEmail.status.in_(["queued", "sending"]))
        )
        busy_in = await session.scalar(
            select(func.count()).where(InboundMessage.status.in_(["received", "processing"]))
        )
        return {
            "tickets": await session.scalar(select(func.count()).select_from(Ticket)),
            "outbound": await session.scalar(select(func.count()).select_from(OutboundEmail)),
            "busy": busy_out + busy_in,
        }


async def _quiet(world: WorldRelay, probes: list[Callable[[], Awaitable[dict[str, int]]]]) -> None:
    """Wait until nothing moves: no desk has work left and the relay saw nothing new for 2 s."""
    seen = -1
    quiet_since = asyncio.get_running_loop().time()

    async def settled() -> bool:
        nonlocal seen, quiet_since
        now = asyncio.get_running_loop().time()
        if len(world.messages) != seen:
            seen, quiet_since = len(world.messages), now
            return False
        counts = [await probe() for probe in probes]
        return all(c["busy"] == 0 for c in counts) and now - quiet_since >= 2.0

    await wait_for(settled, deadline_s=120, interval=0.2)


def _plain_mail(sender: str, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    return message


async def test_two_desks_mailing_each_others_acknowledgements_stop_at_once(
    committed_db, test_server_url, tmp_path: Path
) -> None:
    world = WorldRelay()
    relay = await CaptureServer(world).start()  # type: ignore[arg-type]
    try:
        async with (
            this_desk(relay.port, tmp_path) as (_, here_port),
            other_desk(test_server_url, relay.port) as (their_url, there_port),
        ):
            world.routes = {
                "test.ac.kr": forward_to(here_port),
                "other.ac.kr": forward_to(there_port),
            }
            # Each desk receives one ordinary mail from the other desk's address.
            await forward_to(here_port)(
                Captured(
                    THERE,
                    [HERE],
                    _plain_mail(THERE, HERE, "공유 프린터", "확인 부탁드립니다.").as_bytes(),
                )
            )
            await forward_to(there_port)(
                Captured(HERE, [THERE], _plain_mail(HERE, THERE, "VPN", "Please check.").as_bytes())
            )
            await _quiet(world, [_our_counts, lambda: _their_counts(their_url)])
            ours, theirs = await _our_counts(), await _their_counts(their_url)
    finally:
        await relay.stop()
    # Each desk acknowledged the one ordinary mail; each acknowledgement, arriving at the other
    # desk as an auto-reply, opened a ticket there and was not acknowledged: two mails in all.
    subjects = sorted(m.message["Subject"] for m in world.messages)
    assert len(world.messages) == 2, subjects
    assert all(m.message["Auto-Submitted"] == "auto-replied" for m in world.messages)
    assert ours == {"tickets": 2, "outbound": 1, "busy": 0}
    assert theirs == {"tickets": 2, "outbound": 1, "busy": 0}


async def test_a_naive_auto_responder_is_acknowledged_a_bounded_number_of_times(
    committed_db, tmp_path: Path
) -> None:
    """The worst case: a responder that ignores Auto-Submitted and answers every mail with a new
    mail (new subject, no threading headers). Each answer opens a new ticket; the per-requester
    acknowledgement ladder (5 in 10 minutes) ends the exchange."""
    world = WorldRelay()
    relay = await CaptureServer(world).start()  # type: ignore[arg-type]
    answered = 0
    try:
        async with this_desk(relay.port, tmp_path) as (_, here_port):

            async def naive_responder(captured: Captured) -> None:
                nonlocal answered
                answered += 1
                answer = _plain_mail(ROBOT, HERE, f"Thanks for message {answered}", "Got it.")
                await forward_to(here_port)(Captured(ROBOT, [HERE], answer.as_bytes()))

            world.routes = {
                "test.ac.kr": forward_to(here_port),
                "robot-univ.ac.kr": naive_responder,
            }
            first = _plain_mail(ROBOT, HERE, "Hello", "A first, ordinary mail.")
            await forward_to(here_port)(Captured(ROBOT, [HERE], first.as_bytes()))
            await _quiet(world, [_our_counts])
            ours = await _our_counts()
            async with db.session_scope() as session:
                rows = list(await session.scalars(select(OutboundEmail).order_by(OutboundEmail.id)))
    finally:
        await relay.stop()
    acknowledgements = [m for m in world.messages if ROBOT in m.rcpt_tos]
    assert len(acknowledgements) == 5 and answered == 5
    assert ours["tickets"] == 6  # the first mail and five answers
    assert [r.status for r in rows] == ["sent"] * 5 + ["suppressed"]
    assert "loop guard: 5 acknowledgement mails" in rows[-1].last_error

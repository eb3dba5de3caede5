"""Test support for outbound mail: a real SMTP capture server on a free loopback port, people and
tickets committed for real, and a helper that runs the sender until the outbox settles."""

from __future__ import annotations

import asyncio
import contextlib
import email
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP as SMTPProtocol
from aiosmtpd.smtp import Envelope, Session
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core import db
from core.config import Settings, get_settings
from core.models import OutboundEmail, OutboundStatus, Role, User
from core.outbox.delivery import SenderOptions
from core.users import service as users
from scheduler.mailsender import run_sender


@dataclass
class Captured:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=policy.default)  # type: ignore[return-value]


@dataclass
class CaptureHandler:
    """Records every accepted message. `refuse` maps a recipient to an SMTP answer given at RCPT
    (e.g. "550 5.1.1 no such user"); `tempfail_data` answers DATA with 451 that many times."""

    messages: list[Captured] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    tempfail_data: int = 0
    # Called with each accepted message after it is stored, before the 250 goes out.
    after_store: Callable[[Captured], Awaitable[None]] | None = None
    # Offer PIPELINING in the EHLO answer (aiosmtpd reads pipelined commands in order anyway).
    pipelining: bool = False

    async def handle_EHLO(
        self, server: Any, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if self.pipelining:
            responses.insert(1, "250-PIPELINING")
        return responses

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        answer = self.refuse.get(address.lower())
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if self.tempfail_data > 0:
            self.tempfail_data -= 1
            return "451 4.3.0 try again later"
        captured = Captured(
            mail_from=envelope.mail_from or "",
            rcpt_tos=list(envelope.rcpt_tos),
            data=bytes(envelope.original_content or envelope.content or b""),
        )
        self.messages.append(captured)
        if self.after_store is not None:
            await self.after_store(captured)
        return "250 2.0.0 queued"

    def to(self, address: str) -> list[Captured]:
        return [m for m in self.messages if address.lower() in [r.lower() for r in m.rcpt_tos]]

    def by_message_id(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for captured in self.messages:
            mid = captured.message["Message-ID"]
            counts[mid] = counts.get(mid, 0) + 1
        return counts


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class CaptureServer:
    """A real SMTP listener (aiosmtpd protocol) in the test's event loop."""

    def __init__(self, handler: CaptureHandler | None = None, port: int | None = None) -> None:
        self.handler = handler or CaptureHandler()
        self.port = port or free_port()
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> CaptureServer:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTPProtocol(self.handler, hostname="capture.test", ident="capture"),
            host="127.0.0.1",
            port=self.port,
        )
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None

    @property
    def messages(self) -> list[Captured]:
        return self.handler.messages


@contextlib.asynccontextmanager
async def capture_server(handler: CaptureHandler | None = None) -> AsyncIterator[CaptureServer]:
    server = await CaptureServer(handler).start()
    try:
        yield server
    finally:
        await server.stop()


def smtp_settings(port: int, **overrides: Any) -> Settings:
    return get_settings().model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": port, **overrides}
    )


FAST = SenderOptions(
    lanes=2,
    batch_size=10,
    lease_seconds=30,
    retry_base_seconds=0.2,
    retry_max_seconds=1.0,
    max_attempts=50,
    poll_interval=0.05,
    smtp_timeout=5,
)


async def outbox_counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(OutboundEmail.status, func.count()).group_by(OutboundEmail.status)
        )
        return {status: int(n) for status, n in rows}


async def wait_for(
    condition: Callable[[], Any], *, deadline_s: float = 60.0, interval: float = 0.05
) -> None:
    """Poll an (async) condition until it holds; fail the test if it never does."""
    deadline = asyncio.get_running_loop().time() + deadline_s
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met before the timeout")
        await asyncio.sleep(interval)


async def settled(engine: AsyncEngine) -> bool:
    counts = await outbox_counts(engine)
    return not counts.get(OutboundStatus.queued.value) and not counts.get(
        OutboundStatus.sending.value
    )


async def drain(
    engine: AsyncEngine,
    settings: Settings,
    *,
    options: SenderOptions = FAST,
    deadline_s: float = 60.0,
    until: Callable[[], Any] | None = None,
) -> None:
    """Run one sender until the outbox has nothing queued or sending (or `until` holds)."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_sender(stop, engine=engine, settings=settings, options=options))
    try:
        await wait_for(until or (lambda: settled(engine)), deadline_s=deadline_s)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def make_user(
    email_address: str,
    *,
    name: str = "",
    role: Role = Role.requester,
    locale: str = "ko",
) -> User:
    async with db.session_scope() as session:
        return await users.create_user(
            session, email=email_address, name=name or email_address, role=role, locale=locale
        )


async def enqueue_sign_in_links(count: int, *, prefix: str = "user") -> list[int]:
    """`count` queued mails, one per new person (sign-in links: no ticket, no loop-guard hit)."""
    from core.notifications.service import send_magic_link

    ids = []
    async with db.session_scope() as session:
        for n in range(count):
            user = await users.create_user(
                session, email=f"{prefix}{n}@bulk.ac.kr", name=f"User {n}", locale="en"
            )
            await send_magic_link(session, user=user, url=f"http://localhost:3000/login/{n}")
            ids.append(user.id)
    return ids


def create_engine_like(database_url: str) -> AsyncEngine:
    """A second engine on the test database: what a second sender process would have."""
    from sqlalchemy.ext.asyncio import create_async_engine

    return create_async_engine(database_url, pool_size=5, max_overflow=5)


async def mark_holds() -> bool:
    """A hand-over mark that held (for SmtpTransport.send's before_data)."""
    return True


async def mark_lost() -> bool:
    """A hand-over mark that did not hold: another sender took the row over."""
    return False


async def send_one(
    transport: Any,
    data: bytes,
    *,
    recipient: str = "a@t.ac.kr",
    before_data: Callable[[], Awaitable[bool]] = mark_holds,
    email_id: int = 1,
) -> Any:
    """One SmtpTransport.send from help@t.ac.kr, the way the sender calls it."""
    return await transport.send(
        email_id=email_id,
        sender="help@t.ac.kr",
        recipient=recipient,
        data=data,
        before_data=before_data,
    )

"""A real SMTP listener on a free loopback port, over the test database (committed for real)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core.config import Settings, get_settings
from core.models import Role, User
from mailgateway.server import start_listener
from mailgateway.worker import drain
from tests.inbound.mails import make_mail as inbound_make_mail

HELP = "help@test.ac.kr"


@dataclass
class Gateway:
    settings: Settings
    host: str
    port: int

    async def send(
        self,
        message: EmailMessage | bytes,
        *,
        sender: str = "someone@univ.ac.kr",
        recipients: list[str] | None = None,
        source: str | None = None,
    ) -> tuple[dict[str, Any], str]:
        """Send over SMTP; returns aiosmtplib's (per-recipient errors, final response).
        `sender=""` sends `MAIL FROM:<>` (a null return path, as bounces have); `source` is the
        loopback address to connect from (127.0.0.0/8: each is another peer to the listener)."""
        source_address = (source, 0) if source else None
        if sender == "":
            data = message if isinstance(message, bytes) else message.as_bytes()
            async with aiosmtplib.SMTP(
                hostname=self.host, port=self.port, timeout=60, source_address=source_address
            ) as client:
                return await client.sendmail("", recipients or [HELP], data)
        return await aiosmtplib.send(
            message,
            hostname=self.host,
            port=self.port,
            sender=sender,
            recipients=recipients or [HELP],
            timeout=60,
            source_address=source_address,
        )

    async def process(self) -> int:
        """Run the pipeline over everything received (what the in-process workers do)."""
        return await drain(self.settings)


def gateway_settings(tmp_path: Path, **overrides: Any) -> Settings:
    return get_settings().model_copy(
        update={
            "helpdesk_addresses": HELP,
            "local_upload_root": str(tmp_path / "uploads"),
            "storage_backend": "local",
            "mail_retry_base_seconds": 0,
            **overrides,
        }
    )


GatewayFactory = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def start_gateway(committed_db: AsyncEngine, tmp_path: Path) -> AsyncIterator[GatewayFactory]:
    stops: list[Callable[[], Awaitable[None]]] = []

    async def start(**overrides: Any) -> Gateway:
        settings = gateway_settings(tmp_path, **overrides)
        server, committer = await start_listener(settings, host="127.0.0.1", port=0)
        port = server.sockets[0].getsockname()[1]

        async def stop() -> None:
            server.close()
            await server.wait_closed()
            await committer.stop()

        stops.append(stop)
        return Gateway(settings=settings, host="127.0.0.1", port=port)

    yield start
    for stop in stops:
        await stop()
    await asyncio.sleep(0)


@pytest.fixture
async def gateway(start_gateway: GatewayFactory) -> Gateway:
    return await start_gateway()


async def rows(engine: AsyncEngine, statement):  # type: ignore[no-untyped-def]
    """All rows of `statement`, read in a fresh session (what the gateway committed)."""
    async with AsyncSession(engine) as session:
        return (await session.scalars(statement)).all()


async def add_user(engine: AsyncEngine, email: str, role: Role = Role.requester) -> User:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        user = User(email=email, name=email.split("@")[0], role=role.value)
        session.add(user)
        await session.commit()
        return user


# The campus relay of the trust tests: it connects from RELAY_IP and writes Authentication-Results
# as AUTHSERV_ID; the sender-controlled client connects from STRANGER_IP.
RELAY_IP = "127.0.0.2"
STRANGER_IP = "127.0.0.3"
AUTHSERV_ID = "mx.test.ac.kr"
TRUST_SETTINGS = {
    "mailgateway_trusted_relays": f"{RELAY_IP}/32",
    "mail_authserv_id": AUTHSERV_ID,
}


def relayed(message: EmailMessage, results: str, *, authserv_id: str = AUTHSERV_ID) -> EmailMessage:
    """`message` as the campus relay hands it on: its Received line and its verdicts on top."""
    original = list(message.items())
    for name in list(message.keys()):
        del message[name]
    message["Authentication-Results"] = f"{authserv_id}; {results}"
    message["Received"] = (
        "from mail.sender.example (mail.sender.example [198.51.100.7]) by mx.test.ac.kr "
        "(Postfix) with ESMTPS id 4F1; Wed, 2 Dec 2026 10:00:00 +0900"
    )
    for name, value in original:
        message[name] = value
    return message


def make_mail(**kwargs: Any) -> EmailMessage:
    """A plain Korean mail to the help address (see tests/inbound/mails.py)."""
    defaults = {
        "subject": "프린터가 안 됩니다",
        "body": "3층 프린터가 인쇄를 하지 않습니다.\n",
        "sender": "Kim Minsu <kim@univ.ac.kr>",
    }
    return inbound_make_mail(**{**defaults, **kwargs})


class TcpProxy:
    """A TCP forwarder we can take down and bring back: the database 'goes away' for the
    gateway (connections refused, open ones cut) while the test's own engine keeps working."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in self._writers:
            writer.close()
        self._writers.clear()
        await asyncio.sleep(0.05)

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
from sqlalchemy.ext.asyncio import AsyncEngine

from core.config import Settings, get_settings
from mailgateway.server import start_listener
from mailgateway.worker import drain

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
    ) -> tuple[dict[str, Any], str]:
        """Send over SMTP; returns aiosmtplib's (per-recipient errors, final response).
        `sender=""` sends `MAIL FROM:<>` (a null return path, as bounces have)."""
        if sender == "":
            data = message if isinstance(message, bytes) else message.as_bytes()
            async with aiosmtplib.SMTP(hostname=self.host, port=self.port, timeout=60) as client:
                return await client.sendmail("", recipients or [HELP], data)
        return await aiosmtplib.send(
            message,
            hostname=self.host,
            port=self.port,
            sender=sender,
            recipients=recipients or [HELP],
            timeout=60,
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


def make_mail(
    *,
    subject: str = "프린터가 안 됩니다",
    body: str = "3층 프린터가 인쇄를 하지 않습니다.\n",
    sender: str = "Kim Minsu <kim@univ.ac.kr>",
    to: str = HELP,
    message_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    if message_id:
        message["Message-ID"] = message_id
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    return message


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

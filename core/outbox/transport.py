"""Where outbound mail goes: the institution's SMTP relay (aiosmtplib), or, in the quick start with
SMTP_HOST unset, `.eml` files under OUTBOX_SINK_DIR that a newcomer can open in any mail client.

One transport is one SMTP connection, used for one message at a time. `send` speaks MAIL, RCPT and
DATA itself (instead of aiosmtplib's `sendmail`) so the sender can record, before the message's
content goes out, that it is being handed over: see scheduler/mailsender.py for why that moment
matters.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiosmtplib
from aiosmtplib.protocol import PERIOD_REGEX, normalize_message_line_endings

from core.config import Settings

BeforeData = Callable[[], Awaitable[bool]]


class RelayUnavailable(Exception):
    """The relay cannot be reached or dropped the connection: try again later."""


@dataclass(frozen=True)
class Accepted:
    detail: str


@dataclass(frozen=True)
class Refused:
    """The relay answered with an error code: 4xx is temporary, 5xx permanent."""

    code: int
    detail: str

    @property
    def permanent(self) -> bool:
        return self.code >= 500


@dataclass(frozen=True)
class LeaseLost:
    """Another sender took the row over; this one must not send it."""


SendResult = Accepted | Refused | LeaseLost


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class Transport(ABC):
    @abstractmethod
    async def send(
        self, *, email_id: int, sender: str, recipient: str, data: bytes, before_data: BeforeData
    ) -> SendResult:
        """Deliver `data`; raise RelayUnavailable when the relay cannot be reached."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release the connection (optional)."""


class SmtpTransport(Transport):
    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str = "",
        password: str = "",
        starttls: bool = False,
        timeout: float = 30.0,
        local_hostname: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.starttls = starttls
        self.timeout = timeout
        self.local_hostname = local_hostname or socket.gethostname() or "localhost"
        self._smtp: aiosmtplib.SMTP | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, timeout: float = 30.0) -> SmtpTransport:
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            timeout=timeout,
        )

    async def _connect(self) -> aiosmtplib.SMTP:
        if self._smtp is not None and self._smtp.is_connected:
            return self._smtp
        smtp = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            timeout=self.timeout,
            start_tls=self.starttls,
            username=self.username or None,
            password=self.password or None,
            local_hostname=self.local_hostname,
        )
        try:
            await smtp.connect()
            # MAIL goes out through execute_command (see _envelope), which does not greet first.
            if smtp.is_ehlo_or_helo_needed:
                try:
                    await smtp.ehlo()
                except aiosmtplib.SMTPHeloError:
                    await smtp.helo()
        except (aiosmtplib.SMTPException, OSError) as exc:
            smtp.close()
            raise RelayUnavailable(
                f"relay {self.host}:{self.port} unreachable: {_one_line(exc) or type(exc).__name__}"
            ) from exc
        self._smtp = smtp
        return smtp

    async def _reset(self, smtp: aiosmtplib.SMTP) -> None:
        try:
            await smtp.rset()
        except (aiosmtplib.SMTPException, OSError):
            smtp.close()
            self._smtp = None

    async def send(
        self, *, email_id: int, sender: str, recipient: str, data: bytes, before_data: BeforeData
    ) -> SendResult:
        smtp = await self._connect()
        # The hand-over mark is written while MAIL, RCPT and DATA are exchanged (its database
        # round trip hides behind theirs) and must have succeeded before the message is sent:
        # the relay takes nothing until the content's final dot, so a transaction abandoned in
        # between delivers nothing.
        hand_over = asyncio.ensure_future(before_data())
        try:
            smtp, refused = await self._envelope(smtp, sender, recipient)
            if refused is None:
                refused = await self._start_data(smtp)
        except BaseException:
            with contextlib.suppress(BaseException):
                await hand_over
            raise
        if refused is not None:
            await hand_over  # the refusal, recorded next, clears the mark
            return refused
        try:
            held = await hand_over
        except BaseException:
            self._abandon(smtp)
            raise
        if not held:
            self._abandon(smtp)
            return LeaseLost()
        return await self._content(smtp, data)

    async def _start_data(self, smtp: aiosmtplib.SMTP) -> Refused | None:
        """The DATA command; None once the relay waits for the content (354)."""
        try:
            response = await smtp.execute_command(b"DATA")
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as exc:
            self._abandon(smtp)
            raise RelayUnavailable(f"relay dropped the connection: {_one_line(exc)}") from exc
        if response.code == 354:
            return None
        await self._reset(smtp)
        return Refused(response.code, f"{response.code} {_one_line(response.message)} (DATA)")

    async def _content(self, smtp: aiosmtplib.SMTP, data: bytes) -> SendResult:
        """The message after the relay's 354: dot-stuffed, CRLF line ends, the final dot; the
        relay's answer to it is the outcome (aiosmtplib's `data()` sends DATA itself, which
        went out earlier here)."""
        message = PERIOD_REGEX.sub(b"..", normalize_message_line_endings(data))
        if not message.endswith(b"\r\n"):
            message += b"\r\n"
        try:
            if smtp.protocol is None:
                raise aiosmtplib.SMTPServerDisconnected("connection lost")
            smtp.protocol.write(message + b".\r\n")
            response = await smtp.protocol.read_response(timeout=self.timeout)
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as exc:
            self._abandon(smtp)
            raise RelayUnavailable(
                f"relay dropped the connection during DATA: {_one_line(exc)}"
            ) from exc
        if response.code != 250:
            await self._reset(smtp)
            return Refused(response.code, f"{response.code} {_one_line(response.message)} (DATA)")
        return Accepted(f"{response.code} {_one_line(response.message)}")

    def _abandon(self, smtp: aiosmtplib.SMTP) -> None:
        """Drop the connection: the only way out of a DATA phase that must deliver nothing."""
        smtp.close()
        self._smtp = None

    async def _envelope(
        self, smtp: aiosmtplib.SMTP, sender: str, recipient: str
    ) -> tuple[aiosmtplib.SMTP, Refused | None]:
        """MAIL FROM and RCPT TO; a refusal, or None when the relay takes the recipient.

        The commands go through `execute_command` with the addresses already in angle brackets:
        `mail()`/`rcpt()` run every address through email.utils.parseaddr, which cost more CPU
        than the rest of the send. Ours were validated when the mail was queued; a stray
        character is still refused here rather than put on the wire."""
        mail_from, rcpt_to = _path_argument(sender), _path_argument(recipient)
        if mail_from is None:
            return smtp, Refused(553, f"553 sender address {sender!r} cannot go on the wire")
        if rcpt_to is None:
            return smtp, Refused(553, f"553 recipient address {recipient!r} cannot go on the wire")
        # A reused connection may have been closed by the relay while idle; MAIL is still before
        # the point of no return, so one reconnect is safe.
        for attempt in (1, 2):
            try:
                response = await smtp.execute_command(b"MAIL", b"FROM:" + mail_from)
                break
            except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as exc:
                smtp.close()
                self._smtp = None
                if attempt == 2:
                    raise RelayUnavailable(
                        f"relay dropped the connection: {_one_line(exc)}"
                    ) from exc
                smtp = await self._connect()
        if response.code != 250:
            await self._reset(smtp)
            detail = f"{response.code} {_one_line(response.message)} (MAIL FROM)"
            return smtp, Refused(response.code, detail)
        try:
            response = await smtp.execute_command(b"RCPT", b"TO:" + rcpt_to)
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as exc:
            smtp.close()
            self._smtp = None
            raise RelayUnavailable(f"relay dropped the connection: {_one_line(exc)}") from exc
        if response.code not in (250, 251):
            await self._reset(smtp)
            detail = f"{response.code} {_one_line(response.message)} (RCPT TO {recipient})"
            return smtp, Refused(response.code, detail)
        return smtp, None

    async def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            if smtp.is_connected:
                await smtp.quit()
        except (aiosmtplib.SMTPException, OSError):
            smtp.close()


_UNSAFE = re.compile(r"[^A-Za-z0-9@._+-]")
_PATH_UNSAFE = re.compile(r"[\x00-\x20<>\x7f-\U0010ffff]")


def _path_argument(address: str) -> bytes | None:
    """`<address>` for MAIL FROM/RCPT TO, or None if it holds what cannot go on a command line
    (spaces, controls, angle brackets, non-ASCII)."""
    address = address.strip()
    if not address or _PATH_UNSAFE.search(address):
        return None
    return b"<" + address.encode("ascii") + b">"


class FileSinkTransport(Transport):
    """Quick-start sink: each mail becomes `<dir>/<id>-<recipient>.eml` (written to a temp name,
    fsynced, renamed), so a crash never leaves half a file and a re-send overwrites, never
    duplicates."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def path_for(self, *, email_id: int, recipient: str) -> Path:
        return self.directory / f"{email_id:08d}-{_UNSAFE.sub('_', recipient)[:100]}.eml"

    async def send(
        self, *, email_id: int, sender: str, recipient: str, data: bytes, before_data: BeforeData
    ) -> SendResult:
        if not await before_data():
            return LeaseLost()
        path = self.path_for(email_id=email_id, recipient=recipient)
        envelope = f"X-Envelope-From: <{sender}>\r\nX-Envelope-To: <{recipient}>\r\n".encode()
        await asyncio.to_thread(self._write, path, envelope + data)
        return Accepted(f"written to {path}")

    def _write(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)

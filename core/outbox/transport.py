"""Where outbound mail goes: the institution's SMTP relay (aiosmtplib), or, in the quick start with
SMTP_HOST unset, `.eml` files under OUTBOX_SINK_DIR that a newcomer can open in any mail client.

One transport is one SMTP connection, used for one message at a time. `send` speaks MAIL, RCPT and
DATA itself (instead of aiosmtplib's `sendmail`) so the sender can record, before the message's
content goes out, that it is being handed over: see scheduler/mailsender.py for why that moment
matters.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import re
import socket
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiosmtplib
from aiosmtplib.protocol import (
    MAX_RESPONSE_LENGTH,
    PERIOD_REGEX,
    SMTPProtocol,
    normalize_message_line_endings,
)
from aiosmtplib.response import SMTPResponse

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


class _PipeliningProtocol(SMTPProtocol):
    """aiosmtplib's protocol with room for more than one response in flight (RFC 2920).

    aiosmtplib hands over one response per read and drops what arrives while no read waits (its
    guard against unsolicited data), so the responses to pipelined commands, which a relay
    usually sends in one segment, would be lost. Here every complete response is kept, in order:
    the response waiter holds the oldest, `_queued` the rest. A transport switches a connection
    to this class after EHLO, only when the relay offers PIPELINING (see `_allow_pipelining`);
    it relies on aiosmtplib's response parser (`_read_response_from_buffer`), which is why
    pyproject.toml pins aiosmtplib's minor version, and tests/outbound/test_pipelining.py drives
    it against a real pipelining server."""

    _queued: collections.deque[SMTPResponse]

    def data_received(self, data: bytes) -> None:
        waiter = self._response_waiter
        if waiter is None:
            return
        self._buffer.extend(data)
        try:
            while (response := self._read_response_from_buffer()) is not None:
                self._queued.append(response)
        except Exception as exc:
            if not waiter.done():
                self._set_response_exception(waiter, exc)
            return
        if len(self._buffer) > MAX_RESPONSE_LENGTH:
            del self._buffer[:]
            if not waiter.done():
                self._set_response_exception(
                    waiter, aiosmtplib.SMTPResponseException(500, "Response too long")
                )
            return
        self._hand_over_next()

    def _hand_over_next(self) -> None:
        waiter = self._response_waiter
        if self._queued and waiter is not None and not waiter.done():
            waiter.set_result(self._queued.popleft())

    async def read_response(self, timeout: float | None = None) -> SMTPResponse:  # noqa: ASYNC109
        response = await super().read_response(timeout)
        self._hand_over_next()  # the next queued response, into the new waiter
        return response


def _allow_pipelining(smtp: aiosmtplib.SMTP) -> bool:
    """Switch the connection's protocol to _PipeliningProtocol if the relay offers PIPELINING."""
    protocol = smtp.protocol
    if protocol is None or not smtp.supports_extension("pipelining"):
        return False
    if not isinstance(protocol, _PipeliningProtocol):
        protocol._queued = collections.deque()  # type: ignore[attr-defined]
        protocol.__class__ = _PipeliningProtocol
    return True


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


# What a dropped or silent relay raises; the connection is unusable after any of them.
_CONNECTION_LOST = (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError)


def _refused(response: SMTPResponse, command: str) -> Refused:
    return Refused(response.code, f"{response.code} {_one_line(response.message)} ({command})")


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
        pipelining: bool = True,
    ) -> None:
        self.host = host
        self.pipelining = pipelining
        self.port = port
        self.username = username
        self.password = password
        self.starttls = starttls
        self.timeout = timeout
        self.local_hostname = local_hostname or socket.gethostname() or "localhost"
        self._smtp: aiosmtplib.SMTP | None = None
        self._pipelined = False  # this connection sends MAIL, RCPT and DATA in one write

    @property
    def pipelining_in_use(self) -> bool:
        """Whether the current connection sends MAIL, RCPT and DATA in one write."""
        return self._smtp is not None and self._pipelined

    @classmethod
    def from_settings(cls, settings: Settings, *, timeout: float = 30.0) -> SmtpTransport:
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            timeout=timeout,
            pipelining=settings.smtp_pipelining,
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
        self._pipelined = self.pipelining and _allow_pipelining(smtp)
        return smtp

    async def _reset(self, smtp: aiosmtplib.SMTP) -> None:
        try:
            await smtp.rset()
        except (aiosmtplib.SMTPException, OSError):
            self._abandon(smtp)

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
            if self._pipelined:
                smtp, refused = await self._pipelined_envelope(smtp, sender, recipient)
            else:
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

    async def _pipelined_envelope(
        self, smtp: aiosmtplib.SMTP, sender: str, recipient: str
    ) -> tuple[aiosmtplib.SMTP, Refused | None]:
        """MAIL FROM, RCPT TO and DATA in one write, then their three answers (RFC 2920: DATA may
        end a group; the content waits for its 354). A refusal, or None once the relay waits
        for the content."""
        paths = _paths(sender, recipient)
        if isinstance(paths, Refused):
            return smtp, paths
        mail_from, rcpt_to = paths
        group = b"MAIL FROM:" + mail_from + b"\r\nRCPT TO:" + rcpt_to + b"\r\nDATA\r\n"
        # A reused connection may have been closed by the relay while idle; nothing can have
        # been delivered before the content, so one reconnect is safe.
        for attempt in (1, 2):
            try:
                protocol = smtp.protocol
                if protocol is None:
                    raise aiosmtplib.SMTPServerDisconnected("connection lost")
                protocol.write(group)
                mail = await protocol.read_response(timeout=self.timeout)
                rcpt = await protocol.read_response(timeout=self.timeout)
                data = await protocol.read_response(timeout=self.timeout)
                break
            except _CONNECTION_LOST as exc:
                self._abandon(smtp)
                if attempt == 2:
                    raise RelayUnavailable(
                        f"relay dropped the connection: {_one_line(exc)}"
                    ) from exc
                smtp = await self._connect()
                if not self._pipelined:  # the relay stopped offering PIPELINING
                    smtp, refused = await self._envelope(smtp, sender, recipient)
                    return smtp, refused or await self._start_data(smtp)
        refused = None
        if mail.code != 250:
            refused = _refused(mail, "MAIL FROM")
        elif rcpt.code not in (250, 251):
            refused = _refused(rcpt, f"RCPT TO {recipient}")
        elif data.code != 354:
            refused = _refused(data, "DATA")
        if refused is None:
            return smtp, None
        if data.code == 354:
            # DATA was taken although MAIL or RCPT was not (RFC 2920 forbids that): leave
            # without sending a content that could be delivered to someone.
            self._abandon(smtp)
        else:
            await self._reset(smtp)
        return smtp, refused

    async def _start_data(self, smtp: aiosmtplib.SMTP) -> Refused | None:
        """The DATA command; None once the relay waits for the content (354)."""
        try:
            response = await smtp.execute_command(b"DATA")
        except _CONNECTION_LOST as exc:
            self._abandon(smtp)
            raise RelayUnavailable(f"relay dropped the connection: {_one_line(exc)}") from exc
        if response.code == 354:
            return None
        await self._reset(smtp)
        return _refused(response, "DATA")

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
        except _CONNECTION_LOST as exc:
            self._abandon(smtp)
            raise RelayUnavailable(
                f"relay dropped the connection during DATA: {_one_line(exc)}"
            ) from exc
        if response.code != 250:
            await self._reset(smtp)
            return _refused(response, "DATA")
        return Accepted(f"{response.code} {_one_line(response.message)}")

    def _abandon(self, smtp: aiosmtplib.SMTP) -> None:
        """Drop the connection (the next send connects afresh). It is also the only way out of a
        DATA phase that must deliver nothing."""
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
        paths = _paths(sender, recipient)
        if isinstance(paths, Refused):
            return smtp, paths
        mail_from, rcpt_to = paths
        # A reused connection may have been closed by the relay while idle; MAIL is still before
        # the point of no return, so one reconnect is safe.
        for attempt in (1, 2):
            try:
                response = await smtp.execute_command(b"MAIL", b"FROM:" + mail_from)
                break
            except _CONNECTION_LOST as exc:
                self._abandon(smtp)
                if attempt == 2:
                    raise RelayUnavailable(
                        f"relay dropped the connection: {_one_line(exc)}"
                    ) from exc
                smtp = await self._connect()
        if response.code != 250:
            await self._reset(smtp)
            return smtp, _refused(response, "MAIL FROM")
        try:
            response = await smtp.execute_command(b"RCPT", b"TO:" + rcpt_to)
        except _CONNECTION_LOST as exc:
            self._abandon(smtp)
            raise RelayUnavailable(f"relay dropped the connection: {_one_line(exc)}") from exc
        if response.code not in (250, 251):
            await self._reset(smtp)
            return smtp, _refused(response, f"RCPT TO {recipient}")
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


def _paths(sender: str, recipient: str) -> tuple[bytes, bytes] | Refused:
    """MAIL FROM's and RCPT TO's arguments, or the refusal of an address that cannot be sent."""
    mail_from, rcpt_to = _path_argument(sender), _path_argument(recipient)
    if mail_from is None:
        return Refused(553, f"553 sender address {sender!r} cannot go on the wire")
    if rcpt_to is None:
        return Refused(553, f"553 recipient address {recipient!r} cannot go on the wire")
    return mail_from, rcpt_to


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

"""The SMTP listener (RFC 5321): validate at RCPT, store at DATA, answer 250 only after commit.

* EHLO offers SIZE (MAIL_MAX_BYTES), 8BITMIME, SMTPUTF8 (RFC 6531) and STARTTLS (RFC 3207) when
  MAILGATEWAY_TLS_CERT/KEY are set.
* RCPT accepts the help addresses (HELPDESK_ADDRESSES), team addresses (teams.email) and their
  plus-addressed reply tokens with a valid signature; anything else is `550 5.1.1`.
* DATA stores the raw bytes and the envelope in PostgreSQL (mailgateway/committer.py, group
  commit) and answers `250 2.0.0 Ok: queued as <id>` after the commit; any failure is
  `451 4.3.0` so the sending MTA keeps the mail and retries; too big is `552 5.3.4`.
* aiosmtpd's default exception handler answers a permanent 500: every hook here catches its own
  errors, and `handle_exception` answers 451 for anything that still escapes.
* Who may connect (docs/operations.md, "Mail trust"): a peer outside MAILGATEWAY_ACCEPT_FROM is
  told `554 5.7.1` at connect and disconnected. An untrusted peer (not one of
  MAILGATEWAY_TRUSTED_RELAYS) sending more than MAILGATEWAY_PEER_RATE_LIMIT messages a minute gets
  `451 4.7.1` at MAIL FROM, so a real server retries later; the count is shared by every replica
  (core/inbound/limits.py).
* Memory: aiosmtpd holds each message in memory while it reads it (aiosmtpd #293). A byte budget
  (MAIL_INFLIGHT_BYTES) is reserved from the SIZE the client declared before the data is read;
  clients that declare more than is free wait their turn, so ten 25 MB mails arriving at once do
  not all sit in memory together.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from core import db
from core.auth import repository as counters_repo
from core.config import Settings
from core.inbound import limits, repository
from core.inbound.service import ReceivedMail
from core.mail import trust
from core.mail.tokens import parse_reply_token, split_plus_address
from mailgateway.committer import GroupCommitter

logger = logging.getLogger(__name__)

TEAM_ADDRESS_TTL = 30.0
UNDECLARED_SIZE_RESERVATION = 1024 * 1024

OVERSIZE = "552 5.3.4 Message size exceeds fixed maximum message size"
TEMPFAIL = "451 4.3.0 Temporary failure storing the message, try again later"
NOT_ACCEPTED = "554 5.7.1 This server does not accept mail from your address"
PEER_RATE = "451 4.7.1 Too many messages from your address, try again later"


def listener_refusal(settings: Settings) -> str | None:
    """Why the listener must not start with these settings, or None."""
    if settings.env == "production" and not settings.mailgateway_accept_from:
        return (
            "MAILGATEWAY_ACCEPT_FROM is empty: in production say which MTAs may deliver to the "
            "desk (CIDR list, e.g. the campus relays 10.1.2.0/28), or `any` on purpose"
        )
    return None


class PeerCounts:
    """Messages per peer and minute, shared with every replica through `rate_limit_counters`.

    Counting each MAIL FROM in its own transaction cost three quarters of the listener's accept
    rate, so the listener counts in memory and adds its counts to PostgreSQL every FLUSH_SECONDS
    in one statement. It reads a peer's shared count once per window, when the peer first shows
    up, and again after each flush: exact for the mail of this listener, and replicas see each
    other's counts within FLUSH_SECONDS."""

    FLUSH_SECONDS = 0.5

    def __init__(self) -> None:
        self._shared: dict[tuple[str, datetime], int] = {}  # as of the last read or flush
        self._pending: dict[tuple[str, datetime], int] = {}  # counted here, not yet added
        self._flushed_at = time.monotonic()

    async def add(self, key: str) -> int:
        """Count one message for `key` in this minute; the count including it."""
        slot = (key, limits.window_start(limits.PEER_WINDOW))
        if slot not in self._shared:
            async with db.session_scope() as session:
                self._shared[slot] = await counters_repo.read_counter(
                    session, key=slot[0], window_start=slot[1]
                )
        self._pending[slot] = self._pending.get(slot, 0) + 1
        count = self._shared[slot] + self._pending[slot]
        if time.monotonic() - self._flushed_at >= self.FLUSH_SECONDS:
            self._flushed_at = time.monotonic()  # one flush at a time
            try:
                await self.flush()
            except Exception as exc:  # the counts stay pending; a later message tries again
                logger.warning("could not add peer counts to the database: %s", exc)
        return count

    async def flush(self) -> None:
        taken = {slot: n for slot, n in self._pending.items() if n}
        if not taken:
            return
        async with db.session_scope() as session:
            counts = await repository.bump_counters(
                await db.driver_connection(session),
                [(key, start, n) for (key, start), n in taken.items()],
            )
        current = limits.window_start(limits.PEER_WINDOW)
        for slot, n in taken.items():
            self._pending[slot] -= n
            self._shared[slot] = counts[slot]
        for slot in [s for s in self._shared if s[1] < current and not self._pending.get(s)]:
            self._shared.pop(slot, None)
            self._pending.pop(slot, None)


class PeerPolicy:
    """Who may connect, whose Authentication-Results we believe, and how fast others may send."""

    def __init__(self, settings: Settings, counts: PeerCounts | None = None) -> None:
        self.accept_from = settings.accept_from_networks
        self.trusted = settings.trusted_relay_networks
        self.rate_limit = settings.mailgateway_peer_rate_limit
        self.counts = counts or PeerCounts()

    def accepts(self, peer: Any) -> bool:
        if self.accept_from is None:
            return True
        return trust.in_networks(_peer_address(peer), self.accept_from)

    async def over_rate(self, peer: Any) -> bool:
        address = _peer_address(peer)
        if self.rate_limit <= 0 or address is None or trust.in_networks(address, self.trusted):
            return False
        return await self.counts.add(limits.peer_key(address)) > self.rate_limit


def _peer_address(peer: Any) -> trust.IPAddress | None:
    return trust.ip_of(str(peer[0])) if isinstance(peer, tuple) and peer else None


class ByteBudget:
    """A semaphore counted in bytes; a request larger than the whole budget takes all of it."""

    def __init__(self, total: int) -> None:
        self.total = max(1, total)
        self.free = self.total
        self._changed = asyncio.Condition()

    async def acquire(self, amount: int) -> int:
        amount = min(max(1, amount), self.total)
        async with self._changed:
            await self._changed.wait_for(lambda: self.free >= amount)
            self.free -= amount
        return amount

    async def release(self, amount: int) -> None:
        async with self._changed:
            self.free += amount
            self._changed.notify_all()


class RecipientPolicy:
    """Which RCPT TO addresses we take: help addresses, team addresses, signed plus-tokens."""

    def __init__(self, settings: Settings) -> None:
        self.help_addresses = set(settings.helpdesk_address_list)
        self._teams: set[str] | None = None
        self._teams_loaded_at = 0.0

    async def _team_addresses(self) -> set[str] | None:
        if self._teams is None or time.monotonic() - self._teams_loaded_at > TEAM_ADDRESS_TTL:
            try:
                async with db.session_scope() as session:
                    self._teams = set(await repository.team_addresses(session))
                self._teams_loaded_at = time.monotonic()
            except Exception as exc:  # keep the last known list while the database is away
                logger.warning("could not load team addresses: %s", exc)
        return self._teams

    async def check(self, address: str) -> str | None:
        """None to accept; otherwise the SMTP reply."""
        base, tag = split_plus_address(address)
        known = base in self.help_addresses
        if not known:
            teams = await self._team_addresses()
            if teams is None:
                return "451 4.3.0 Cannot verify the recipient right now, try again later"
            known = base in teams
        if not known:
            return "550 5.1.1 No such recipient here"
        if tag is not None and parse_reply_token(tag) is None:
            return "550 5.1.1 Unknown or invalid reply address"
        return None


class GatewayHandler:
    def __init__(
        self,
        settings: Settings,
        store: Callable[[ReceivedMail], Awaitable[int]],
        recipients: RecipientPolicy | None = None,
        peers: PeerPolicy | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.recipients = recipients or RecipientPolicy(settings)
        self.peers = peers or PeerPolicy(settings)

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        try:
            if await self.peers.over_rate(session.peer):
                return PEER_RATE
        except Exception:
            logger.exception("peer rate check failed")
            return TEMPFAIL
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        try:
            if len(envelope.rcpt_tos) >= self.settings.mail_max_recipients:
                return "452 4.5.3 Too many recipients"
            refusal = await self.recipients.check(address)
            if refusal is not None:
                return refusal
        except Exception:
            logger.exception("RCPT check failed")
            return TEMPFAIL
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        try:
            raw = envelope.original_content or b""
            if isinstance(raw, str):  # only with decode_data=True, which we do not use
                raw = raw.encode("utf-8", errors="surrogateescape")
            if len(raw) > self.settings.mail_max_bytes:
                return OVERSIZE
            peer = session.peer
            inbound_id = await self.store(
                ReceivedMail(
                    # NUL cannot go into PostgreSQL text: one in MAIL FROM or EHLO failed the
                    # whole group commit (451 for every mail in the batch, for ever for this one).
                    mail_from=(envelope.mail_from or "").replace("\x00", ""),
                    rcpt_to=list(envelope.rcpt_tos),
                    raw=bytes(raw),
                    peer=f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer or ""),
                    helo=session.host_name and session.host_name.replace("\x00", ""),
                )
            )
        except Exception as exc:
            logger.warning("DATA not stored, answering 451: %s", exc)
            return TEMPFAIL
        return f"250 2.0.0 Ok: queued as {inbound_id}"

    async def handle_exception(self, error: Exception) -> str:
        logger.error("SMTP session error: %r", error)
        return "451 4.3.0 Temporary local error, try again later"


class GatewaySMTP(SMTP):
    """aiosmtpd's SMTP with enhanced status codes on size refusals and the memory budget."""

    def __init__(self, handler: Any, *, budget: ByteBudget, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.budget = budget

    async def _handle_client(self) -> None:
        assert self.session is not None
        if not self.event_handler.peers.accepts(self.session.peer):
            logger.info("refused a connection from %r (MAILGATEWAY_ACCEPT_FROM)", self.session.peer)
            await self.push(NOT_ACCEPTED)
            assert self.transport is not None
            self.transport.close()
            return
        await super()._handle_client()

    async def push(self, status: Any) -> None:
        text = status.decode("ascii", "replace") if isinstance(status, bytes) else status
        if text.startswith("552 Error:"):
            status = OVERSIZE
        await super().push(status)

    async def smtp_DATA(self, arg: str) -> None:
        declared = UNDECLARED_SIZE_RESERVATION
        for option in (self.envelope.mail_options if self.envelope else []) or []:
            name, _, value = option.partition("=")
            if name.upper() == "SIZE" and value.isdigit():
                declared = int(value)
        reserved = await self.budget.acquire(declared)
        try:
            await self._data(arg)
        finally:
            if self.envelope is not None:
                self.envelope.original_content = None
                self.envelope.content = None
            await self.budget.release(reserved)

    async def _data(self, arg: str) -> None:
        """DATA as aiosmtpd does it, but the message is read in large pieces (up to the
        terminator) instead of line by line: that loop was most of a bare aiosmtpd listener's CPU
        and the gateway's accept rate. Differences: lines over 1,000 bytes are accepted (Postfix
        takes them too; refusing them loses real HTML mail), and oversize is `552 5.3.4`."""
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 5.5.1 Error: need RCPT command")
            return
        if arg:
            await self.push("501 5.5.4 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        try:
            content = await read_message(self._reader, self.data_size_limit)
        except asyncio.CancelledError:
            self._writer.close()  # the connection went away during DATA
            raise
        except asyncio.IncompleteReadError:
            self._writer.close()
            return
        if content is None:
            self._set_post_data_state()
            await self.push(OVERSIZE)
            return
        self.envelope.content = self.envelope.original_content = content
        status = await self.event_handler.handle_DATA(self, self.session, self.envelope)
        self._set_post_data_state()
        await self.push(status)


DATA_END = b"\r\n.\r\n"
_DOT_STUFFED = re.compile(rb"(?:\A|(?<=\r\n))\.")


async def read_message(reader: asyncio.StreamReader, size_limit: int | None) -> bytes | None:
    """The message of a DATA command, dot-unstuffed (RFC 5321 4.5.2), or None when it is larger
    than `size_limit` (it is still read to the end, as the protocol requires).

    It reads up to the terminator with `readuntil`, never past it: a pipelining client may have
    sent its next command behind the message. The terminator is CRLF.CRLF, so the three bytes
    at the very start decide the cases where its CRLF would have been consumed already: an empty
    message, or a first line so short that the terminator overlaps them; those few go line by
    line."""
    head = await reader.readexactly(3)
    if head == b".\r\n":
        return b""
    if b"\r" in head or b"\n" in head:
        data = await _read_lines(reader, head, size_limit)
    else:
        pieces, size = [head], 3
        while True:
            try:
                piece = await reader.readuntil(DATA_END)
            except asyncio.LimitOverrunError as overrun:
                # No terminator within the reader's limit yet: take what is surely before it.
                piece = await reader.readexactly(overrun.consumed)
                done = False
            else:
                piece, done = piece[:-3], True  # keep the CRLF that ends the last line
            size += len(piece)
            if size_limit and size > size_limit:
                pieces = []  # keep reading to the end, keep nothing
            else:
                pieces.append(piece)
            if done:
                break
        data = None if size_limit and size > size_limit else b"".join(pieces)
    if data is None:
        return None
    if data.startswith(b".") or b"\r\n." in data:
        data = _DOT_STUFFED.sub(b"", data)
    return data


async def _read_lines(
    reader: asyncio.StreamReader, pending: bytes, size_limit: int | None
) -> bytes | None:
    lines: list[bytes] = []
    size = 0
    while True:
        while b"\r\n" not in pending:
            if pending.endswith(b"\r"):
                pending += await reader.readexactly(1)
            else:
                try:
                    pending += await reader.readuntil(b"\r\n")
                except asyncio.LimitOverrunError as overrun:
                    pending += await reader.readexactly(overrun.consumed)
        end = pending.index(b"\r\n") + 2
        line, pending = pending[:end], pending[end:]
        if line == b".\r\n":
            return None if size_limit and size > size_limit else b"".join(lines)
        size += len(line)
        if not (size_limit and size > size_limit):
            lines.append(line)


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    if not (settings.mailgateway_tls_cert and settings.mailgateway_tls_key):
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.mailgateway_tls_cert, settings.mailgateway_tls_key)
    return context


async def start_listener(
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    committer: GroupCommitter | None = None,
    hostname: str | None = None,
) -> tuple[asyncio.Server, GroupCommitter]:
    """Bind the listener on the running loop; returns the server and its committer (started)."""
    committer = committer or GroupCommitter()
    committer.start()
    handler = GatewayHandler(settings, committer.store)
    budget = ByteBudget(settings.mail_inflight_bytes)
    context = tls_context(settings)
    loop = asyncio.get_running_loop()

    def factory() -> GatewaySMTP:
        return GatewaySMTP(
            handler,
            budget=budget,
            data_size_limit=settings.mail_max_bytes,
            enable_SMTPUTF8=True,
            hostname=hostname or (settings.helpdesk_address_list[0].split("@")[-1]),
            ident="servicedesk mailgateway",
            tls_context=context,
            timeout=300,
            loop=loop,
        )

    server = await loop.create_server(
        factory,
        host=host if host is not None else settings.mailgateway_host,
        port=port if port is not None else settings.mailgateway_port,
    )
    return server, committer

"""The outbox: every mail we send is a row written in the transaction of the change that causes it.

`enqueue` renders the message in the recipient's language, threads it into the ticket's mail
thread, signs its Reply-To and Message-ID, and applies the guards before anything can leave:

* never mail one of our own addresses (help addresses, team addresses, their plus forms);
* never mail an address the gateway marked as bouncing, or a deactivated account;
* a per (recipient, ticket) loop guard with Zammad's ladder (10 mails in 10 min, 15/30, 25/60,
  50/180, 100/600) and per-recipient ladders for acknowledgements and sign-in links, so an
  auto-responder that opens a new ticket with every answer is not acknowledged forever;
* one mail per event per recipient: (event_key, recipient) is unique, a second enqueue is a no-op.

A guarded mail is still written, as `suppressed` with the reason in `last_error`, so the outbound
log shows what was held back and why. Nothing here commits.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.utils import parseaddr
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings, get_settings
from core.errors import Conflict, NotFound
from core.mail.tokens import make_message_id, make_reply_token, reply_address, split_plus_address
from core.models import Comment, OutboundEmail, OutboundStatus, Ticket, User
from core.outbox import compose, repository
from core.outbox import render as rendering
from core.outbox.repository import QueuedEmail
from core.users import service as users

# Zammad's per ticket-and-recipient ladder: (window in minutes, most mails allowed in it).
TICKET_LADDER: tuple[tuple[int, int], ...] = ((10, 10), (30, 15), (60, 25), (180, 50), (600, 100))
# Per recipient over all tickets, for kinds an auto-responder could trigger on its own
# (acknowledgements: over the tickets the recipient opened; sign-in links: mails about no ticket).
KIND_LADDERS: dict[str, tuple[tuple[int, int], ...]] = {
    "acknowledgement": ((10, 5), (60, 10), (1440, 30)),
    "magic_link": ((10, 5), (60, 10)),
}
MAX_REFERENCES = 10  # the root and the nine latest: enough for every client to thread
MAX_COMMENT_CHARS = 20_000
MAX_SUBJECT_CHARS = 250
AUTO_GENERATED = "auto-generated"
AUTO_REPLIED = "auto-replied"


def product_name(settings: Settings) -> str:
    return _parsed_address(settings.smtp_from)[0] or "IT Service Desk"


@functools.lru_cache(maxsize=64)
def _parsed_address(value: str) -> tuple[str, str]:
    return parseaddr(value)


# Pure and called for every mail queued (the header parser behind Address is slow); a campus has a
# bounded set of names and addresses that come back again and again.
@functools.lru_cache(maxsize=8192)
def mailbox(display_name: str, address: str) -> str:
    """`Name <address>` in Unicode, quoted as RFC 5322 needs; encoded only when sent."""
    if not display_name:
        return address
    return str(Address(display_name=display_name, addr_spec=address))


def deliverable_address(address: str) -> str | None:
    """`address` as a 7-bit relay takes it: an internationalised domain in IDNA (punycode).
    None when the local part is not ASCII: that needs SMTPUTF8 all the way, which the relay
    path does not offer."""
    local, _, domain = address.rpartition("@")
    if not local or not local.isascii():
        return None
    if domain.isascii():
        return address
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError:
        return None


def from_address(settings: Settings, display_name: str | None = None) -> str:
    name, address = _parsed_address(settings.smtp_from)
    address = address or settings.reply_address
    return mailbox(display_name or name or "IT Service Desk", address)


def message_domain(settings: Settings) -> str:
    return settings.reply_address.rpartition("@")[2] or "localhost"


def ticket_url(settings: Settings, ticket: Ticket) -> str:
    return f"{settings.app_base_url.rstrip('/')}/tickets/{ticket.id}"


def ticket_context(settings: Settings, ticket: Ticket, locale: str) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "number": ticket.number,
        "tag": f"[#{ticket.number}]",
        "subject": ticket.subject,
        "url": ticket_url(settings, ticket),
        "status": ticket.status,
        "priority_label": rendering.labels(locale)["priority"].get(
            ticket.priority, ticket.priority
        ),
    }


@dataclass(frozen=True)
class CommentContent:
    """A comment as notifications show it: who wrote it and the new text (quoted history cut).
    Its public attachments are added by the sender (core/outbox/delivery.py): the API and the
    gateway link files to a comment after the comment's event, in the same transaction, so they
    are only certain to be there once it committed."""

    author_name: str
    text: str

    def context(self) -> dict[str, Any]:
        return {"author_name": self.author_name, "text": self.text}


def comment_content(comment: Comment, *, author_name: str) -> CommentContent:
    body = comment.body_text or ""
    if comment.quote_start is not None and 0 < comment.quote_start <= len(body):
        body = body[: comment.quote_start]
    body = body.strip()
    if len(body) > MAX_COMMENT_CHARS:
        body = body[:MAX_COMMENT_CHARS].rstrip() + " …"
    return CommentContent(author_name=author_name, text=body)


def thread_headers(thread_ids: Sequence[str]) -> dict[str, str]:
    """In-Reply-To the latest message of the thread; References the root and the latest ones
    (RFC 5322 3.6.4), capped so long tickets do not grow headers without bound."""
    if not thread_ids:
        return {}
    ids = list(thread_ids)
    if len(ids) > MAX_REFERENCES:
        ids = ids[:1] + ids[-(MAX_REFERENCES - 1) :]
    return {"In-Reply-To": ids[-1], "References": " ".join(ids)}


async def thread_of(session: AsyncSession, ticket: Ticket) -> list[str]:
    return await repository.thread_message_ids(session, ticket=ticket)


async def is_own_address(session: AsyncSession, address: str, settings: Settings) -> bool:
    base, _tag = split_plus_address(address)
    if base in settings.helpdesk_address_list or address.lower() in settings.helpdesk_address_list:
        return True
    return base in await users.team_addresses(session)


async def _suppression_reason(
    session: AsyncSession,
    *,
    kind: str,
    recipient: User,
    address: str,
    ticket: Ticket | None,
    settings: Settings,
) -> str | None:
    if await is_own_address(session, address, settings):
        return f"not sent: {address} is one of the help desk's own addresses (loop guard)"
    if recipient.bouncing_since is not None:
        reason = f": {recipient.bounce_reason}" if recipient.bounce_reason else ""
        return f"not sent: {address} is bouncing since {recipient.bouncing_since:%Y-%m-%d}{reason}"
    if not recipient.active:
        return f"not sent: the account of {address} is deactivated"
    # An acknowledgement goes out once, for a ticket that has just opened in this very
    # transaction: nothing can have been mailed about it yet, so its per-ticket count is 0.
    if ticket is not None and kind != "acknowledgement":
        counts = await repository.sent_counts_for_ticket(
            session,
            recipient=address,
            ticket_id=ticket.id,
            windows_min=[w for w, _ in TICKET_LADDER],
        )
        for (window, limit), count in zip(TICKET_LADDER, counts, strict=True):
            if count >= limit:
                return (
                    f"not sent: loop guard: {count} mails to {address} about [#{ticket.number}] "
                    f"in the last {window} minutes (limit {limit})"
                )
    ladder = KIND_LADDERS.get(kind)
    if ladder:
        windows = [w for w, _ in ladder]
        if kind == "acknowledgement" and ticket is not None:
            counts = await repository.acknowledgement_counts(
                session, recipient=address, requester_id=recipient.id, windows_min=windows
            )
        else:
            counts = await repository.ticketless_counts(
                session, recipient=address, kind=kind, windows_min=windows
            )
        for (window, limit), count in zip(ladder, counts, strict=True):
            if count >= limit:
                return (
                    f"not sent: loop guard: {count} {kind} mails to {address} in the last "
                    f"{window} minutes (limit {limit})"
                )
    return None


async def enqueue(
    session: AsyncSession,
    *,
    kind: str,
    event_key: str,
    recipient: User,
    ticket: Ticket | None,
    context: dict[str, Any] | None = None,
    comment: Comment | None = None,
    content: CommentContent | None = None,
    thread: Sequence[str] | None = None,
    auto_submitted: str = AUTO_GENERATED,
    from_name: str | None = None,
    settings: Settings | None = None,
) -> QueuedEmail | None:
    """Write one outbound mail (or its suppressed record); None if this event already mailed
    this recipient."""
    settings = settings or get_settings()
    address = recipient.email.strip().lower()
    # A requester whose address is not 7-bit (the gateway takes SMTPUTF8 mail) used to make
    # this raise, which failed the whole inbound mail: their ticket was never opened.
    sendable = deliverable_address(address)
    unsendable = (
        None
        if sendable is not None
        else f"not sent: {address} has a non-ASCII local part (it needs SMTPUTF8)"
    )
    address = sendable or address
    locale = rendering.normalise_locale(recipient.locale)
    values: dict[str, Any] = {
        "product": product_name(settings),
        "recipient_name": recipient.name or address.split("@", 1)[0],
        **(context or {}),
    }
    reply_to: str | None = None
    headers: dict[str, Any] = {
        "To": mailbox(" ".join((recipient.name or "").split()), address) if sendable else address,
        "Auto-Submitted": auto_submitted,
        "X-Auto-Response-Suppress": "All",
        "X-Servicedesk-Loop": settings.reply_address,
    }
    if ticket is not None:
        values["ticket"] = ticket_context(settings, ticket, locale)
        token = make_reply_token(ticket_id=ticket.id, user_id=recipient.id)
        reply_to = reply_address(settings.reply_address, token)
        headers["X-Servicedesk-Ticket"] = str(ticket.number)
        if thread is None:
            thread = await thread_of(session, ticket)
        headers.update(thread_headers(thread))
    if content is not None:
        values["comment"] = content.context()
    rendered = rendering.render(kind, locale, values)
    reason = unsendable or await _suppression_reason(
        session, kind=kind, recipient=recipient, address=address, ticket=ticket, settings=settings
    )
    sender = from_address(settings, from_name)
    subject = rendered.subject[:MAX_SUBJECT_CHARS]
    message_id = make_message_id(
        ticket_id=ticket.id if ticket else 0, domain=message_domain(settings)
    )
    # Written once, here: the sender sends these bytes as they are (a comment's files aside).
    raw = (
        None
        if unsendable
        else compose.message_bytes(
            from_address=sender,
            to=headers["To"],
            subject=subject,
            message_id=message_id,
            date=datetime.now(UTC),
            reply_to=reply_to,
            headers={k: v for k, v in headers.items() if k != "To"},
            text=rendered.text,
            html=rendered.html,
        )
    )
    row = await repository.insert_email(
        session,
        {
            "kind": kind,
            "event_key": event_key[:255],
            "ticket_id": ticket.id if ticket else None,
            "comment_id": comment.id if comment else None,
            "recipient": address,
            "locale": locale,
            "from_address": sender,
            "reply_to": reply_to,
            "subject": subject,
            "message_id": message_id,
            "headers": headers,
            "body_text": rendered.text,
            "body_html": rendered.html,
            "raw": raw,
            "status": OutboundStatus.suppressed.value if reason else OutboundStatus.queued.value,
            "last_error": reason,
        },
    )
    return row


# --- the admin's outbound log ----------------------------------------------------------------


async def list_emails(
    session: AsyncSession,
    *,
    status: OutboundStatus | str | None = None,
    q: str | None = None,
    ticket_id: int | None = None,
    cursor: int | None = None,
    limit: int = 50,
) -> tuple[list[OutboundEmail], int | None]:
    """Newest first; `cursor` is the last id of the previous page."""
    limit = max(1, min(limit, 200))
    rows = await repository.list_emails(
        session,
        status=OutboundStatus(status).value if status else None,
        q=q.strip() if q and q.strip() else None,
        ticket_id=ticket_id,
        before_id=cursor,
        limit=limit + 1,
    )
    next_cursor = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], next_cursor


async def get_email(session: AsyncSession, email_id: int) -> OutboundEmail:
    row = await repository.get_email(session, email_id)
    if row is None:
        raise NotFound("no such outbound mail")
    return row


async def retry(session: AsyncSession, email_id: int) -> OutboundEmail:
    """Queue a failed, suppressed or (deliberately) already sent mail again, attempts reset."""
    row = await repository.get_email(session, email_id, for_update=True)
    if row is None:
        raise NotFound("no such outbound mail")
    if row.status in (OutboundStatus.queued.value, OutboundStatus.sending.value):
        raise Conflict(f"this mail is already {row.status}")
    await repository.requeue(session, email_id)
    await session.refresh(row)
    return row

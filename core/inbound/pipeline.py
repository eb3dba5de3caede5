"""The ingestion pipeline: what happens to a mail after the listener answered 250.

Modelled on GNU Mailman 3's pipelines (`pipelines/builtin.py`): an ordered list of named steps,
each of which may stop the message with a verdict. The verdicts are the only way out, so every
message ends in exactly one of

* processed    a new ticket, a comment on one, or a handled bounce;
* ignored      with why (our own mail came back, a duplicate, a delivery-delay notice, ...);
* quarantined  with why (possible hijack, rate limit, no sender, ...), for an admin to release.

The steps before `deliver` only read (a new sender becomes a user only on delivery), so an
`ignored`/`quarantined` verdict leaves nothing behind; the one step that writes and then stops is
`bounce`, whose verdict keeps what it did (the address marked, the note added). Exceptions are
not verdicts:
they propagate to the caller (the worker), which retries with backoff and quarantines after
MAIL_MAX_ATTEMPTS (core/inbound/service.py). The steps, in order:

    parse → loop → bounce → dedupe → auto_reply → sender → authenticate → thread →
    closed → content → limits → deliver

Threading (`thread`), most trusted first: (a) an HMAC-signed reply token in a recipient address
(`help+r-<ticket>-<user>-<sig>@`; `n-` tokens make internal notes), (b) any Message-ID in
In-Reply-To/References that is one of our signed ids or that we stored (mail we sent, comments,
ticket starters), (c) a subject tag `[#1234]`, honoured only when the sender is the requester, a
participant or an agent: anyone else's mail carrying the tag is quarantined as a possible hijack
(osTicket's rule; Zammad #5064 shows what happens without it). Merged tickets are followed to the
ticket they were merged into. A reply to a closed ticket reopens it within
MAIL_REOPEN_WINDOW_DAYS, and otherwise opens a new ticket linked by `follow_up_of_id`.

Trust (`authenticate`, core/mail/trust.py): the From is worth what can be proven about it. Each
mail reaches one level, stored on the inbound row and shown with its comment:

* token       it came through a reply address we issued to exactly the person in From;
* verified    the trusted relay's Authentication-Results show DMARC, or aligned DKIM/SPF, pass;
* unverified  nothing proves or disproves the From (most mail in a quick start);
* failed      the relay says SPF or DMARC fail.

What each level may do: speaking *as an agent* (a reply, an internal note, `#note`) needs that
agent's own reply token, or a verified sender and a thread match by token or References; anything
else claiming an agent's From is quarantined as "unverified staff sender". A subject tag alone
threads only verified mail ("possible spoof, subject tag only"). To/Cc become participants only
from token-bound or verified mail. DMARC fail under p=quarantine/reject is quarantined. Floods are
capped through shared counters (core/inbound/limits.py): per sender per hour, new tickets per
minute ("flood"), and acknowledgements to unverified senders per hour (none to failed ones).
An admin's release skips these checks: as claimed, or as a plain comment with no powers.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.attachments import service as attachments
from core.config import Settings
from core.errors import Invalid
from core.inbound import limits, repository
from core.mail import trust, verify
from core.mail.classify import auto_reply_reason, detect_bounce
from core.mail.html import html_to_text, sanitise_html
from core.mail.parse import Address, ParsedMail, get_addresses, parse_message
from core.mail.quotes import find_quote_start
from core.mail.tokens import ReplyToken, parse_message_id, parse_reply_token, split_plus_address
from core.models import (
    Channel,
    Comment,
    CommentSource,
    InboundMessage,
    InboundStatus,
    Locale,
    Ticket,
    TicketPriority,
    TicketStatus,
    User,
    Visibility,
)
from core.storage import ObjectTooLarge
from core.tickets import repository as tickets_repo
from core.tickets import service as tickets
from core.users import repository as users_repo
from core.users import service as users

NO_SUBJECT = "(제목 없음)"
MAX_MERGE_HOPS = 10
PARSE_IN_THREAD_BYTES = 256 * 1024  # parse big mails off the event loop (the listener shares it)
_SUBJECT_TAG = re.compile(r"\[#(\d{1,12})\]")
_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_NOTE_LINE = re.compile(r"^\s*#note\b[^\n]*\n?", re.IGNORECASE)


class Stop(Exception):
    """A step's verdict: end the pipeline with this status and reason."""

    def __init__(
        self,
        status: InboundStatus,
        reason: str,
        *,
        ticket_id: int | None = None,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.ticket_id = ticket_id


def ignore(reason: str, *, ticket_id: int | None = None) -> Stop:
    return Stop(InboundStatus.ignored, reason, ticket_id=ticket_id)


def quarantine(reason: str, *, ticket_id: int | None = None) -> Stop:
    return Stop(InboundStatus.quarantined, reason, ticket_id=ticket_id)


@dataclass
class Outcome:
    status: InboundStatus
    reason: str | None
    ticket_id: int | None = None
    comment_id: int | None = None
    parse_result: dict[str, Any] = field(default_factory=dict)
    trust_level: str | None = None


@dataclass
class Context:
    session: AsyncSession
    settings: Settings
    inbound: InboundMessage
    # Set by an admin's release from quarantine: onto this ticket, or as a new ticket.
    release_to: int | None = None
    release_new: bool = False
    # Released as "plain": a comment with no powers (no agent reply, note or participants).
    release_plain: bool = False
    release_by: User | None = None  # the admin who released it
    release_requester: str | None = None  # the address the admin chose for a senderless mail
    count: limits.Counter | None = None
    mail: ParsedMail | None = None
    our_addresses: set[str] = field(default_factory=set)
    teams: dict[str, int] = field(default_factory=dict)  # team address -> team id
    auto_reason: str | None = None
    sender_address: str | None = None
    sender_name: str = ""
    sender: User | None = None  # an existing user; a new one is created only on delivery
    author: User | None = None
    token: ReplyToken | None = None
    token_owner: User | None = None
    token_bound: bool = False  # the reply token was issued to the person in From
    auth: trust.AuthVerdict | None = None
    standing: str | None = None  # the rule that let this mail speak as who it claims
    acknowledge: bool = True  # a new ticket's acknowledgement (abuse_limits may say no)
    ticket: Ticket | None = None
    thread_via: str | None = None
    follow_up_of: Ticket | None = None
    reopen: bool = False
    internal: bool = False
    body_text: str = ""
    quote_start: int | None = None
    comment: Comment | None = None
    notes: list[str] = field(default_factory=list)
    trace: list[dict[str, Any]] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def releasing(self) -> bool:
        return self.release_to is not None or self.release_new

    @property
    def verified(self) -> bool:
        return self.auth is not None and self.auth.verified

    @property
    def trust_level(self) -> str:
        if self.token_bound:
            return "token"
        if self.verified:
            return "verified"
        if self.auth is not None and self.auth.failed:
            return "failed"
        return "unverified"

    def record(self, step: str, result: str, **data: Any) -> None:
        self.trace.append({"step": step, "result": result, **data})

    @property
    def parsed(self) -> ParsedMail:
        assert self.mail is not None
        return self.mail


Step = Callable[[Context], Awaitable[None]]


# --- steps ---------------------------------------------------------------------------------------


async def parse(ctx: Context) -> None:
    raw = ctx.inbound.raw
    if raw is None:
        raise quarantine("the raw message was purged; nothing left to process")
    if len(raw) > PARSE_IN_THREAD_BYTES:
        ctx.mail = await asyncio.to_thread(parse_message, raw)
    else:
        ctx.mail = parse_message(raw)
    mail = ctx.mail
    ctx.facts.update(
        message_id=(mail.message_id or None) and mail.message_id[:900],
        subject=mail.subject[:998],
        from_address=(mail.sender.email.lower()[:320] if mail.sender else None),
    )
    ctx.teams = await users.team_addresses(ctx.session)
    ctx.our_addresses = set(ctx.settings.helpdesk_address_list) | set(ctx.teams)
    ctx.record(
        "parse",
        "ok",
        parts=len(mail.parts),
        html=mail.html is not None,
        defects=mail.defects[:20],
    )


def _is_ours(ctx: Context, address: str) -> bool:
    base, _ = split_plus_address(address)
    return base in ctx.our_addresses


async def loop(ctx: Context) -> None:
    if ctx.releasing:
        return
    mail = ctx.parsed
    loop_header = mail.header("X-Servicedesk-Loop").strip().lower()
    if loop_header and any(address in loop_header for address in ctx.our_addresses):
        raise ignore(f"our own mail came back (X-Servicedesk-Loop: {loop_header[:100]})")
    if mail.message_id and parse_message_id(mail.message_id) is not None:
        raise ignore("our own mail came back (our signed Message-ID)")
    if mail.sender and _is_ours(ctx, mail.sender.email):
        raise ignore(f"mail from our own address {mail.sender.email}")
    ctx.record("loop", "not ours")


async def bounce(ctx: Context) -> None:
    if ctx.releasing:
        return
    found = detect_bounce(ctx.parsed, envelope_sender=ctx.inbound.mail_from)
    if found is None:
        return
    session = ctx.session
    ticket = await _ticket_for_ids(session, found.original_message_ids)
    listed = [r.address for r in found.recipients]
    addresses = ", ".join(listed[:5]) or "unknown address"
    if len(listed) > 5:
        addresses += f" and {len(listed) - 5} more"
    if not found.permanent:
        raise ignore(f"delivery delay notice for {addresses} ({found.evidence})")
    # Anyone can write a delivery report. An address is marked only if the report returns a
    # mail we sent to that very address: otherwise a stranger silences anyone, quoting the
    # Message-ID of the acknowledgement we sent them.
    sent_to = await repository.outbound_recipients(session, found.original_message_ids)
    returned = [r for r in found.recipients if r.address.lower() in sent_to]
    if not returned:
        raise ignore(
            f"bounce ({found.evidence}) for {addresses} that returns no mail of ours to that "
            "address: nothing marked"
        )
    addresses = ", ".join(r.address for r in returned[:5])
    marked: list[str] = []
    for recipient in returned:
        user = await users_repo.get_by_email(session, recipient.address)
        if user is None:
            continue
        if user.bouncing_since is None:
            user.bouncing_since = tickets.now()
        user.bounce_reason = (
            " ".join(f"{recipient.status} {recipient.diagnostic}".split())[:500] or "bounced"
        )
        marked.append(user.email)
    await session.flush()
    if ticket is not None:
        status = ", ".join(sorted({r.status for r in found.recipients if r.status}))
        await tickets.add_system_note(
            session,
            ticket=ticket,
            text=(
                f"메일 반송 / Delivery failed: {addresses}"
                + (f" ({status})" if status else "")
                + f"\ninbound message #{ctx.inbound.id}"
            ),
        )
    if not marked and ticket is None:
        raise ignore(f"bounce ({found.evidence}) for {addresses}: no known address or ticket")
    what = [f"marked {', '.join(marked)} as bouncing"] if marked else []
    if ticket is not None:
        what.append(f"noted on ticket #{ticket.number}")
    raise Stop(
        InboundStatus.processed,
        f"bounce ({found.evidence}): " + "; ".join(what),
        ticket_id=ticket.id if ticket else None,
    )


async def dedupe(ctx: Context) -> None:
    mail = ctx.parsed
    key = mail.message_id or f"sha256:{ctx.inbound.raw_sha256}"
    # Two copies processed at once by two workers: the second waits here for the first's commit.
    await repository.xact_lock(ctx.session, "inbound:" + key)
    if mail.message_id:
        existing = await repository.comment_with_message_id(ctx.session, mail.message_id)
        if existing is not None:
            comment_id, ticket_id = existing
            raise ignore(
                f"duplicate: this Message-ID is already comment {comment_id}", ticket_id=ticket_id
            )
    else:
        earlier = await repository.earlier_copy_by_digest(
            ctx.session, exclude_id=ctx.inbound.id, raw_sha256=ctx.inbound.raw_sha256
        )
        if earlier is not None:
            raise ignore(f"duplicate of inbound message {earlier[0]}", ticket_id=earlier[1])
    ctx.record("dedupe", "first copy", key=key[:200])


async def auto_reply(ctx: Context) -> None:
    ctx.auto_reason = auto_reply_reason(ctx.parsed)
    if ctx.auto_reason:
        ctx.record("auto_reply", "automatic", why=ctx.auto_reason)


async def sender(ctx: Context) -> None:
    mail = ctx.parsed
    # The first usable address of From, Sender, Reply-To, the envelope: a list server or a form
    # mailer may leave From empty, or `"Kim" <>`, and name the person in Sender or Reply-To.
    candidates = [("From", mail.sender)] if mail.sender else []
    candidates += [("Sender", a) for a in mail.sender_field[:1]]
    candidates += [("Reply-To", a) for a in mail.reply_to[:1]]
    envelope = ctx.inbound.mail_from.strip().strip("<>")
    if envelope:
        candidates.append(("envelope", Address(name="", email=envelope)))
    if ctx.release_requester:
        candidates = [("chosen by the admin", Address(name="", email=ctx.release_requester))]
    chosen: tuple[str, str, str] | None = None  # (address, name, where it came from)
    for source, candidate in candidates:
        try:
            address = users.normalise_email(candidate.email)
        except Invalid:
            continue
        chosen = (address, candidate.name or mail.from_name, source)
        break
    if chosen is None:
        why = (
            f"sender address {candidates[0][1].email[:200]!r} is not a valid address"
            if candidates
            else "no sender address (From missing or unreadable, null return path)"
        )
        if ctx.release_by is None:
            raise quarantine(why)
        # Released anyway: nobody to post as, so the releasing admin brings it in, with no
        # powers (an internal note on a ticket; a new ticket in the admin's name).
        ctx.sender, ctx.sender_address, ctx.release_plain = ctx.release_by, None, True
        ctx.record("sender", "released on behalf of an unknown sender", why=why)
        return
    address, ctx.sender_name, source = chosen
    ctx.sender_address = address
    ctx.facts["from_address"] = address.lower()[:320]
    ctx.sender = await users_repo.get_by_email(ctx.session, address)
    if ctx.sender is not None and not ctx.sender.active:
        raise quarantine(f"sender {ctx.sender.email} is a deactivated user")
    ctx.record("sender", "known" if ctx.sender else "new", address=address, source=source)


async def authenticate(ctx: Context) -> None:
    settings = ctx.settings
    peer = trust.peer_ip(ctx.inbound.peer)
    ctx.auth = trust.evaluate(
        [(name, str(value)) for name, value in ctx.parsed.message.raw_items()],
        from_address=ctx.sender_address,
        peer_trusted=trust.in_networks(peer, settings.trusted_relay_networks),
        authserv_id=settings.mail_authserv_id,
    )
    if settings.mail_verify_self and not ctx.auth.results and ctx.inbound.raw is not None:
        envelope = verify.Envelope(
            peer_ip=str(peer) if peer else None,
            helo=ctx.inbound.helo,
            mail_from=ctx.inbound.mail_from,
            from_address=ctx.sender_address,
        )
        resolver = verify.Resolver(settings.mail_dns_resolver)
        relay = ctx.auth
        ctx.auth = await asyncio.to_thread(verify.check, ctx.inbound.raw, envelope, resolver)
        ctx.auth.ignored[:0] = relay.ignored
        ctx.auth.peer_trusted, ctx.auth.checked_here = relay.peer_trusted, True
    auth = ctx.auth
    ctx.record(
        "authenticate",
        auth.verified_by or (auth.failed_by and f"{auth.failed_by}=fail") or "unverified",
        peer=str(peer) if peer else None,
        peer_trusted=auth.peer_trusted,
        ignored=auth.ignored[:10],
    )
    if auth.dmarc_reject and not ctx.releasing:
        raise quarantine(
            f"DMARC fail for {trust.domain_of(ctx.sender_address)}, whose policy is "
            f"p={auth.dmarc_policy}: the From is not from that domain"
        )


async def thread(ctx: Context) -> None:
    session, mail = ctx.session, ctx.parsed
    ctx.author = ctx.sender
    if ctx.release_to is not None:
        ctx.ticket = await tickets_repo.get_ticket(session, ctx.release_to)
        ctx.thread_via = "released onto ticket"
    elif not ctx.release_new:
        await _thread_by_token(ctx)
        if ctx.ticket is None:
            await _thread_by_references(ctx, mail)
        if ctx.ticket is None:
            await _thread_by_subject_tag(ctx, mail)
    _judge_standing(ctx)
    if ctx.ticket is None:
        ctx.record("thread", "new ticket")
        return
    hops = 0
    while ctx.ticket.merged_into_id is not None and hops < MAX_MERGE_HOPS:
        target = await tickets_repo.get_ticket(session, ctx.ticket.merged_into_id)
        if target is None:
            break
        ctx.ticket, hops = target, hops + 1
    ctx.record("thread", ctx.thread_via or "matched", ticket=ctx.ticket.number, merged_hops=hops)


async def _thread_by_token(ctx: Context) -> None:
    for recipient in ctx.inbound.rcpt_to or []:
        base, tag = split_plus_address(recipient)
        if not tag or base not in ctx.our_addresses:
            continue
        token = parse_reply_token(tag)
        if token is None:
            continue
        ticket = await tickets_repo.get_ticket(ctx.session, token.ticket_id)
        if ticket is None:
            ctx.record("thread", "token for a deleted ticket", ticket_id=token.ticket_id)
            continue
        ctx.token, ctx.ticket, ctx.thread_via = token, ticket, "reply token"
        owner = ctx.token_owner = await users_repo.get_by_id(ctx.session, token.user_id)
        if owner is not None and ctx.sender is not None and ctx.sender.id == owner.id:
            ctx.token_bound = True
        elif owner is not None and tickets.is_staff(owner):
            # An agent's reply address under someone else's From binds nobody: it may have
            # been forwarded, or leaked. Another agent goes through the staff rule below.
            if not tickets.is_staff(ctx.sender) and not ctx.releasing:
                raise quarantine(
                    f"reply address issued to agent {owner.email} used by "
                    f"{ctx.sender_address}, who is not that agent",
                    ticket_id=ticket.id,
                )
        elif ctx.sender is None and owner is not None:
            # A requester's token under an unknown From is their other address (a campus
            # alias, a forward to a private mailbox): the token was mailed to them alone.
            ctx.author = owner
            ctx.record("thread", "sender is the token's addressee", address=ctx.sender_address)
        if token.note:
            if not tickets.is_staff(ctx.author):
                raise quarantine(
                    f"internal-note address used by {ctx.sender_address}, who is not an agent",
                    ticket_id=ticket.id,
                )
            ctx.internal = True
        return


async def _thread_by_references(ctx: Context, mail: ParsedMail) -> None:
    ids = mail.thread_ids()[:100]
    if not ids:
        return
    ticket_id = await _ticket_id_for_ids(ctx.session, ids)
    if ticket_id is None:
        return
    ctx.ticket = await tickets_repo.get_ticket(ctx.session, ticket_id)
    if ctx.ticket is not None:
        ctx.thread_via = "In-Reply-To/References"


async def _ticket_id_for_ids(session: AsyncSession, ids: list[str]) -> int | None:
    for mid in ids:
        ticket_id = parse_message_id(mid)
        if ticket_id is not None:
            return ticket_id
    found = await repository.ticket_ids_for_message_ids(session, ids)
    return found[0] if found else None


async def _ticket_for_ids(session: AsyncSession, ids: list[str]) -> Ticket | None:
    ticket_id = await _ticket_id_for_ids(session, ids)
    return await tickets_repo.get_ticket(session, ticket_id) if ticket_id else None


async def _may_use_tag(session: AsyncSession, user: User | None, ticket: Ticket) -> bool:
    if user is None:
        return False
    if tickets.is_staff(user) or ticket.requester_id == user.id:
        return True
    return await repository.is_participant(session, ticket_id=ticket.id, user_id=user.id)


async def _thread_by_subject_tag(ctx: Context, mail: ParsedMail) -> None:
    match = _SUBJECT_TAG.search(mail.subject)
    if not match:
        return
    ticket = await tickets_repo.get_ticket_by_number(ctx.session, int(match.group(1)))
    if ticket is None:
        ctx.record("thread", "subject tag of no ticket", tag=match.group(0))
        return
    allowed = await _may_use_tag(ctx.session, ctx.sender, ticket)
    if not allowed and ticket.merged_into_id is not None:
        target = await tickets_repo.get_ticket(ctx.session, ticket.merged_into_id)
        allowed = target is not None and await _may_use_tag(ctx.session, ctx.sender, target)
    if not allowed:
        raise quarantine(
            f"possible hijack: {ctx.sender_address} is not the requester, a participant or an "
            f"agent of ticket #{ticket.number} named in the subject",
            ticket_id=ticket.id,
        )
    ctx.ticket, ctx.thread_via = ticket, "subject tag"


def _judge_standing(ctx: Context) -> None:
    """May this mail speak as the person it claims (module docstring, "Trust")?"""
    if ctx.releasing:
        ctx.standing = "released by an admin" + (" as a plain comment" if ctx.release_plain else "")
        return
    ticket_id = ctx.ticket.id if ctx.ticket else None
    if tickets.is_staff(ctx.author):
        if ctx.token_bound:
            ctx.standing = "agent's own reply token"
        elif ctx.verified and ctx.thread_via in ("reply token", "In-Reply-To/References"):
            ctx.standing = f"verified agent ({ctx.auth.verified_by}) in a known thread"  # type: ignore[union-attr]
        elif ctx.verified and ctx.ticket is None:
            ctx.standing = f"verified agent ({ctx.auth.verified_by}) opening a ticket"  # type: ignore[union-attr]
        else:
            raise quarantine(
                f"unverified staff sender: {ctx.sender_address} is an agent's address, but the "
                "mail came neither through that agent's reply address nor from a verified sender "
                "in a known thread; nothing was posted",
                ticket_id=ticket_id,
            )
    elif ctx.thread_via == "subject tag" and not ctx.verified:
        raise quarantine(
            f"possible spoof, subject tag only: {ctx.sender_address} could not be verified and "
            "the mail names the ticket only in its subject (no reply address or References)",
            ticket_id=ticket_id,
        )
    else:
        ctx.standing = ctx.trust_level
    ctx.record("standing", ctx.standing or "", level=ctx.trust_level)


async def closed(ctx: Context) -> None:
    ticket = ctx.ticket
    if ticket is None or ticket.status != TicketStatus.closed or ctx.releasing:
        return
    if tickets.is_staff(ctx.author):
        ctx.record("closed", "agent mail appended without reopening")
        return
    window = timedelta(days=ctx.settings.mail_reopen_window_days)
    recent = ticket.closed_at is not None and tickets.now() - ticket.closed_at <= window
    if ctx.auto_reason:
        if recent:
            ctx.record("closed", "auto-reply appended without reopening")
            return
        raise ignore(
            f"auto-reply ({ctx.auto_reason}) to ticket #{ticket.number}, closed more than "
            f"{ctx.settings.mail_reopen_window_days} days ago",
            ticket_id=ticket.id,
        )
    if recent:
        ctx.reopen = True
        ctx.record("closed", "reopen", ticket=ticket.number)
    else:
        ctx.follow_up_of, ctx.ticket = ticket, None
        ctx.record("closed", "follow-up ticket", of=ticket.number)


async def content(ctx: Context) -> None:
    mail = ctx.parsed
    text = mail.text if mail.text.strip() else (html_to_text(mail.html) if mail.html else "")
    if (
        tickets.is_staff(ctx.author)
        and not ctx.release_plain
        and _NOTE_LINE.match(text.lstrip("\n"))
    ):
        text = _NOTE_LINE.sub("", text.lstrip("\n"), count=1)
        ctx.internal = ctx.ticket is not None
    ctx.body_text = text.replace("\x00", "")
    ctx.quote_start = find_quote_start(ctx.body_text)


async def abuse_limits(ctx: Context) -> None:
    """The shared counters (core/inbound/limits.py), all of one mail's in one statement."""
    settings, new_ticket = ctx.settings, ctx.ticket is None
    sender_limit = settings.mail_sender_rate_limit
    flood_limit = settings.mail_new_ticket_rate_limit
    keys: dict[str, tuple[str, int, int]] = {}
    if not ctx.releasing:
        if sender_limit > 0 and ctx.sender_address and not tickets.is_staff(ctx.author):
            keys["sender"] = (limits.sender_key(ctx.sender_address), limits.SENDER_WINDOW, 1)
        if new_ticket and flood_limit > 0:
            keys["flood"] = (limits.NEW_TICKETS_KEY, limits.NEW_TICKET_WINDOW, 1)
    # Backscatter: an acknowledgement to a forged From mails an innocent third party. A release
    # does not vouch for the address, so a released flood is not acknowledged all at once.
    level = ctx.trust_level
    acknowledged = new_ticket and ctx.auto_reason is None
    if acknowledged and level == "unverified":
        keys["ack"] = (limits.UNVERIFIED_ACKS_KEY, limits.UNVERIFIED_ACK_WINDOW, 1)
    counter = ctx.count or limits.counting_in(ctx.session)
    counts = dict(zip(keys, await counter(list(keys.values())), strict=True)) if keys else {}
    over_sender = counts.get("sender", 0) > sender_limit
    over_flood = counts.get("flood", 0) > flood_limit
    if (over_sender or over_flood) and "ack" in keys:
        # Counted in the same statement, but no ticket will be acknowledged: give it back.
        await counter([(limits.UNVERIFIED_ACKS_KEY, limits.UNVERIFIED_ACK_WINDOW, -1)])
    if over_sender:
        raise quarantine(
            f"rate limit: more than {sender_limit} mails from {ctx.sender_address} this hour "
            f"(this is number {counts['sender']}; MAIL_SENDER_RATE_LIMIT={sender_limit})"
        )
    if over_flood:
        raise quarantine(
            f"flood: more than {flood_limit} new tickets by mail this minute (this would be "
            f"number {counts['flood']}; MAIL_NEW_TICKET_RATE_LIMIT={flood_limit})"
        )
    if not acknowledged:
        return
    if level == "failed":
        ctx.acknowledge = False
        ctx.record("acknowledgement", "not sent: the sender failed SPF or DMARC")
    elif counts.get("ack", 0) > settings.mail_unverified_ack_limit:
        ctx.acknowledge = False
        ctx.record(
            "acknowledgement",
            f"not sent: over {settings.mail_unverified_ack_limit} this hour to unverified "
            "senders (MAIL_UNVERIFIED_ACK_LIMIT)",
        )


async def deliver(ctx: Context) -> None:
    session, mail = ctx.session, ctx.parsed
    author = await _ensure_author(ctx)
    auto = ctx.auto_reason is not None
    if ctx.release_plain and tickets.is_staff(author):
        # Nothing mailed to the requester in an agent's name that nobody could verify.
        ctx.internal = True
    if ctx.ticket is None:
        team_id = next(
            (
                ctx.teams[base]
                for base in (split_plus_address(a)[0] for a in ctx.inbound.rcpt_to or [])
                if base in ctx.teams
            ),
            None,
        )
        ticket, comment = await tickets.open_ticket(
            session,
            requester=author,
            subject=mail.subject or NO_SUBJECT,
            body_text=ctx.body_text,
            channel=Channel.email,
            priority=TicketPriority(mail.priority or TicketPriority.normal.value),
            team_id=team_id,
            message_id=mail.message_id,
            inbound_message_id=ctx.inbound.id,
            quote_start=ctx.quote_start,
            is_auto_reply=auto,
            suppress_acknowledgement=auto or not ctx.acknowledge,
            mail_trust=ctx.trust_level,
            follow_up_of_id=ctx.follow_up_of.id if ctx.follow_up_of else None,
        )
        ctx.ticket = ticket
        verb = f"opened ticket #{ticket.number}"
        if ctx.follow_up_of is not None:
            verb += f" (follow-up of closed #{ctx.follow_up_of.number})"
    else:
        ticket = ctx.ticket
        if ctx.reopen:
            await tickets.change_status(
                session, ticket=ticket, status=TicketStatus.open, actor=author
            )
        comment = await tickets.add_comment(
            session,
            ticket=ticket,
            author=author,
            body_text=ctx.body_text,
            visibility=Visibility.internal if ctx.internal else Visibility.public,
            source=CommentSource.email,
            message_id=mail.message_id,
            inbound_message_id=ctx.inbound.id,
            quote_start=ctx.quote_start,
            is_auto_reply=auto,
            mail_trust=ctx.trust_level,
        )
        kind = "internal note" if ctx.internal else "comment"
        verb = f"{kind} on ticket #{ticket.number} ({ctx.thread_via})"
        if ctx.reopen:
            verb += ", reopened"
    ctx.comment = comment
    await _store_parts(ctx, ticket, comment, author)
    await _add_participants(ctx, ticket, author)
    if ctx.notes:
        await tickets.add_system_note(session, ticket=ticket, text="\n".join(ctx.notes))
    ctx.facts["summary"] = verb


async def _ensure_author(ctx: Context) -> User:
    if ctx.author is not None:
        return ctx.author
    assert ctx.sender_address is not None
    mail = ctx.parsed
    hangul = _HANGUL.search(mail.subject) or _HANGUL.search(mail.text[:2000])
    # The sender step looked the address up already and found nobody.
    user, created = await users.add_requester(
        ctx.session,
        email=ctx.sender_address,
        name=ctx.sender_name[:200],
        locale=Locale.ko if hangul or not mail.text else Locale.en,
    )
    ctx.author = ctx.sender = user
    if created:
        ctx.record("sender", "created requester", user_id=user.id)
    return user


async def _store_parts(ctx: Context, ticket: Ticket, comment: Comment, author: User) -> None:
    mail = ctx.parsed
    inline_ids: dict[str, int] = {}
    stored: list[dict[str, Any]] = []
    for part in mail.parts:
        try:
            attachment = await _store_one(ctx, part, ticket, comment, author)
        except ObjectTooLarge:
            ctx.notes.append(
                f"첨부 파일이 너무 커서 저장하지 않았습니다 / attachment not stored (over the "
                f"per-file limit): {part.filename} ({len(part.data)} bytes); the original mail is "
                f"inbound message #{ctx.inbound.id}"
            )
            continue
        if part.content_id:
            inline_ids[part.content_id] = attachment.id
        stored.append(
            {"id": attachment.id, "filename": attachment.filename, "size": len(part.data)}
        )
    if mail.html:
        comment.body_html = sanitise_html(mail.html, inline_ids=inline_ids) or None
        await ctx.session.flush()
    ctx.record("attachments", f"{len(stored)} stored", attachments=stored[:50])


async def _store_one(ctx: Context, part: Any, ticket: Ticket, comment: Comment, author: User):  # type: ignore[no-untyped-def]
    kwargs = {
        "data": part.data,
        "filename": part.filename,
        "ticket_id": ticket.id,
        "comment_id": comment.id,
        "uploader_id": author.id,
        "content_id": (part.content_id or None) and part.content_id[:900],
        "is_inline": part.is_inline,
    }
    try:
        return await attachments.store_bytes(
            ctx.session, content_type=part.content_type, settings=ctx.settings, **kwargs
        )
    except ObjectTooLarge:
        raise
    except Invalid:
        # A content type storage will not take (odd parameters): keep the bytes as octet-stream.
        return await attachments.store_bytes(
            ctx.session, content_type="application/octet-stream", settings=ctx.settings, **kwargs
        )


async def _add_participants(ctx: Context, ticket: Ticket, author: User) -> None:
    mail = ctx.parsed
    added = 0
    # Only what can be proven subscribes anyone: a From, a Cc line and a Message-ID someone
    # once saw are all a stranger's to write.
    proven = ctx.token_bound or ctx.verified or (ctx.releasing and not ctx.release_plain)
    if (
        proven
        and author.id != ticket.requester_id
        and not tickets.is_staff(author)
        and ctx.thread_via != "reply token"
    ):
        added += int(await tickets.add_participant(ctx.session, ticket=ticket, user=author))
    elif not proven and author.id != ticket.requester_id and not tickets.is_staff(author):
        ctx.record("participants", "the sender was not added: not verified")
    seen = {author.email.lower()}
    candidates = []
    for address in [*mail.to, *mail.cc]:
        email = address.email.lower()
        if email in seen or _is_ours(ctx, email):
            continue
        seen.add(email)
        candidates.append(address)
    if candidates and not proven:
        ctx.record("participants", f"{len(candidates)} in To/Cc not added: sender not verified")
        candidates = []
    for address in candidates[: tickets.MAX_PARTICIPANTS]:
        try:
            user, _ = await users.get_or_create_requester(
                ctx.session, email=address.email, name=address.name[:200]
            )
        except Invalid:
            continue
        added += int(
            await tickets.add_participant(ctx.session, ticket=ticket, user=user, actor=author)
        )
    if added:
        ctx.record("participants", f"{added} added")


STEPS: list[tuple[str, Step]] = [
    ("parse", parse),
    ("loop", loop),
    ("bounce", bounce),
    ("dedupe", dedupe),
    ("auto_reply", auto_reply),
    ("sender", sender),
    ("authenticate", authenticate),
    ("thread", thread),
    ("closed", closed),
    ("content", content),
    ("limits", abuse_limits),
    ("deliver", deliver),
]


async def run(
    session: AsyncSession,
    inbound: InboundMessage,
    *,
    settings: Settings,
    release_to: int | None = None,
    release_new: bool = False,
    release_plain: bool = False,
    release_by: User | None = None,
    release_requester: str | None = None,
    count: limits.Counter | None = None,
) -> Outcome:
    """Run every step on one received message; returns the verdict (nothing is committed).
    `count` takes the abuse-limit counts (core/inbound/limits.py); by default in `session`."""
    ctx = Context(
        session=session,
        settings=settings,
        inbound=inbound,
        release_to=release_to,
        release_new=release_new,
        release_plain=release_plain,
        release_by=release_by,
        release_requester=release_requester,
        count=count,
    )
    # No savepoint: nothing is written before a verdict that discards (see the module docstring),
    # and an exception rolls back the caller's whole transaction.
    try:
        for _name, step in STEPS:
            await step(ctx)
    except Stop as stop:
        outcome = Outcome(stop.status, stop.reason, ticket_id=stop.ticket_id)
        ctx.record("verdict", stop.status.value, reason=stop.reason)
    else:
        outcome = Outcome(
            InboundStatus.processed,
            ctx.facts.get("summary"),
            ticket_id=ctx.ticket.id if ctx.ticket else None,
            comment_id=ctx.comment.id if ctx.comment else None,
        )
    outcome.parse_result = {
        "steps": ctx.trace,
        "defects": ctx.mail.defects[:50] if ctx.mail else [],
        "auto_reply": ctx.auto_reason,
        "message_id": ctx.facts.get("message_id"),
        "subject": ctx.facts.get("subject"),
        "from_address": ctx.facts.get("from_address"),
        "trust": _trust_record(ctx),
    }
    outcome.trust_level = ctx.trust_level if ctx.mail is not None else None
    return outcome


def _trust_record(ctx: Context) -> dict[str, Any]:
    """What the mail log shows: who connected, who the mail claims to be, what was proven."""
    mail = ctx.mail
    record: dict[str, Any] = {
        "level": ctx.trust_level if mail is not None else None,
        "standing": ctx.standing,
        "peer": ctx.inbound.peer,
        "envelope_from": ctx.inbound.mail_from[:320],
    }
    if mail is not None:
        defects: list[str] = []
        record.update(
            header_from=mail.sender.email[:320] if mail.sender else None,
            sender=[a.email[:320] for a in get_addresses(mail.message, "Sender", defects)][:3],
            reply_to=[a.email[:320] for a in mail.reply_to][:3],
        )
        envelope_domain = trust.domain_of(ctx.inbound.mail_from)
        from_domain = trust.domain_of(ctx.sender_address)
        record["envelope_mismatch"] = bool(
            envelope_domain and from_domain and not trust.aligned(envelope_domain, from_domain)
        )
    if ctx.auth is not None:
        record.update(ctx.auth.as_dict())
    if ctx.token is not None:
        owner = ctx.token_owner
        record["token_owner"] = owner.email if owner else f"user {ctx.token.user_id} (gone)"
        record["token_bound"] = ctx.token_bound
    return record

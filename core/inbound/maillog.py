"""The mail log: every inbound message with what became of it, and what an admin may do about it.

Reprocess runs the whole pipeline again now (after the admin fixed the cause: added the sender as
a participant, raised a limit); release skips the checks that quarantined the message and makes it
a new ticket or a comment on a chosen ticket; discard marks it ignored. Each records who did it in
the message's `parse_result`. Callers (the API) own the transaction.

A release comes in two modes, because a quarantined mail is often one that claims more than could
be proven (core/inbound/pipeline.py, "Trust"):

* `as_claimed`  the admin vouches for it: an agent's From becomes that agent's reply (or note),
                To/Cc become participants;
* `plain`       a comment with no powers: no `#note`, no participants, and a mail claiming an
                agent's From becomes an internal note, so nothing reaches the requester in the
                agent's name.

Every release leaves a system note on the ticket naming who released the mail and how.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.parser import BytesParser
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings, get_settings
from core.errors import Conflict, CoreError, Invalid, NotFound, Unavailable
from core.inbound import pipeline, repository, service
from core.mail import trust
from core.mail.parse import POLICY, headers_for_display
from core.models import InboundMessage, InboundStatus, User
from core.tickets import repository as tickets_repo
from core.tickets import service as tickets

MAX_LIMIT = 200
MAX_BULK = 500
RELEASE_MODES = ("as_claimed", "plain")
FINAL = (InboundStatus.processed, InboundStatus.ignored, InboundStatus.quarantined)


@dataclass
class MessagePage:
    items: list[InboundMessage]
    next_cursor: str | None


@dataclass
class MessageDetail:
    message: InboundMessage
    headers: list[tuple[str, str]]
    ticket_number: int | None


def _parse_cursor(cursor: str | None) -> int | None:
    if cursor in (None, ""):
        return None
    try:
        value = int(cursor)  # type: ignore[arg-type]
    except ValueError:
        raise Invalid("invalid cursor") from None
    if value <= 0:
        raise Invalid("invalid cursor")
    return value


async def list_messages(
    session: AsyncSession,
    *,
    status: str | None = None,
    q: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
    trust_level: str | None = None,
) -> MessagePage:
    """Newest first; `cursor` is the `next_cursor` of the previous page (keyset on id)."""
    if status is not None and status not in {s.value for s in InboundStatus}:
        raise Invalid(f"unknown status {status!r}")
    if trust_level is not None and trust_level not in trust.LEVELS:
        raise Invalid(f"unknown trust level {trust_level!r}")
    limit = max(1, min(limit, MAX_LIMIT))
    rows = await repository.list_messages(
        session,
        status=status,
        q=q or None,
        before_id=_parse_cursor(cursor),
        limit=limit + 1,
        trust_level=trust_level,
    )
    more = len(rows) > limit
    items = rows[:limit]
    return MessagePage(items=items, next_cursor=str(items[-1].id) if more and items else None)


async def _get(
    session: AsyncSession, message_id: int, *, for_update: bool = False
) -> InboundMessage:
    message = await repository.get(session, message_id, for_update=for_update)
    if message is None:
        raise NotFound(f"inbound message {message_id} not found")
    return message


def _headers(raw: bytes | None) -> list[tuple[str, str]]:
    if not raw:
        return []
    message = BytesParser(policy=POLICY).parsebytes(raw, headersonly=True)
    return headers_for_display(message, [])


async def get_message(session: AsyncSession, message_id: int) -> MessageDetail:
    message = await _get(session, message_id)
    ticket_number = None
    if message.ticket_id is not None:
        ticket = await tickets_repo.get_ticket(session, message.ticket_id)
        ticket_number = ticket.number if ticket else None
    return MessageDetail(
        message=message, headers=_headers(message.raw), ticket_number=ticket_number
    )


async def raw_bytes(session: AsyncSession, message_id: int) -> bytes:
    message = await _get(session, message_id)
    if message.raw is None:
        raise NotFound(f"the raw bytes of inbound message {message_id} were purged")
    return message.raw


def _audit(message: InboundMessage, action: str, actor: User, **data: Any) -> dict[str, Any]:
    history = list((message.parse_result or {}).get("admin_actions", []))
    history.append({"action": action, "by": actor.id, "at": datetime.now(UTC).isoformat(), **data})
    return {"admin_actions": history}


async def _run(
    session: AsyncSession,
    message: InboundMessage,
    *,
    actor: User,
    action: str,
    settings: Settings,
    release_to: int | None = None,
    release_new: bool = False,
    release_plain: bool = False,
    requester_email: str | None = None,
) -> pipeline.Outcome:
    extra = _audit(
        message,
        action,
        actor,
        ticket_id=release_to,
        **({"mode": "plain" if release_plain else "as_claimed"} if action == "release" else {}),
    )
    try:
        outcome = await pipeline.run(
            session,
            message,
            settings=settings,
            release_to=release_to,
            release_new=release_new,
            release_plain=release_plain,
            release_by=actor if action == "release" else None,
            release_requester=requester_email,
        )
    except CoreError:
        raise
    except Exception as exc:  # storage or database trouble: the admin can try again later
        raise Unavailable(f"processing failed: {type(exc).__name__}: {exc}") from exc
    await service.record_outcome(
        session, inbound_id=message.id, outcome=outcome, attempt=None, extra=extra
    )
    return outcome


async def reprocess(
    session: AsyncSession, *, message_id: int, actor: User, settings: Settings | None = None
) -> InboundMessage:
    """Run the pipeline again, now. Not for a message that already became a ticket/comment."""
    message = await _get(session, message_id, for_update=True)
    if message.status == InboundStatus.processed and message.comment_id is not None:
        raise Conflict("this message is already on a ticket; reprocessing would duplicate it")
    if message.status == InboundStatus.processing:
        raise Conflict("a worker is processing this message right now")
    await _run(
        session, message, actor=actor, action="reprocess", settings=settings or get_settings()
    )
    return await _get(session, message_id)


async def release(
    session: AsyncSession,
    *,
    message_id: int,
    ticket_id: int | None = None,
    mode: str = "as_claimed",
    requester_email: str | None = None,
    actor: User,
    settings: Settings | None = None,
) -> InboundMessage:
    """Deliver a quarantined (or ignored) message despite the verdict: as a new ticket, or as a
    comment on `ticket_id`; `mode` is `as_claimed` or `plain` (module docstring).
    `requester_email` speaks for a mail whose sender is unusable (no address, `root@localhost`);
    without it the releasing admin brings such a mail in."""
    if mode not in RELEASE_MODES:
        raise Invalid(f"unknown release mode {mode!r} (as_claimed or plain)")
    message = await _get(session, message_id, for_update=True)
    if message.status not in (InboundStatus.quarantined, InboundStatus.ignored):
        raise Conflict(
            f"only quarantined or ignored messages can be released (this is {message.status})"
        )
    if ticket_id is not None and await tickets_repo.get_ticket(session, ticket_id) is None:
        raise NotFound(f"ticket {ticket_id} not found")
    outcome = await _run(
        session,
        message,
        actor=actor,
        action="release",
        settings=settings or get_settings(),
        release_to=ticket_id,
        release_new=ticket_id is None,
        release_plain=mode == "plain",
        requester_email=requester_email,
    )
    if outcome.status != InboundStatus.processed:
        raise Conflict(f"the message could not be released: {outcome.reason}")
    if outcome.ticket_id is not None:
        ticket = await tickets_repo.get_ticket(session, outcome.ticket_id)
        if ticket is not None:
            how = "일반 댓글로 / as a plain comment" if mode == "plain" else "주장대로 / as claimed"
            await tickets.add_system_note(
                session,
                ticket=ticket,
                text=(
                    f"격리된 메일 해제 / released from quarantine: inbound message #{message_id} "
                    f"({message.reason or 'no reason'}) by {actor.email}, {how}"
                    + (f", requester {requester_email}" if requester_email else "")
                ),
            )
    return await _get(session, message_id)


@dataclass
class BulkResult:
    released: list[int]
    failed: list[tuple[int, str]]


async def release_many(
    session: AsyncSession,
    *,
    message_ids: list[int],
    mode: str = "as_claimed",
    actor: User,
    settings: Settings | None = None,
) -> BulkResult:
    """Release each message (e.g. after a flood): onto the ticket its verdict named, else as a
    new ticket. One that cannot be released is reported and left as it was."""
    if len(message_ids) > MAX_BULK:
        raise Invalid(f"at most {MAX_BULK} messages at once")
    result = BulkResult(released=[], failed=[])
    for message_id in dict.fromkeys(message_ids):
        try:
            async with session.begin_nested():
                message = await _get(session, message_id)
                await release(
                    session,
                    message_id=message_id,
                    # Onto the ticket it claimed to belong to, if the verdict named one.
                    ticket_id=message.ticket_id,
                    mode=mode,
                    actor=actor,
                    settings=settings,
                )
        except CoreError as error:
            result.failed.append((message_id, error.message))
        except Exception as error:  # one mail the database refuses must not sink the rest
            result.failed.append((message_id, f"could not be released: {type(error).__name__}"))
        else:
            result.released.append(message_id)
    return result


async def discard(session: AsyncSession, *, message_id: int, actor: User) -> InboundMessage:
    """Mark a quarantined (or still waiting) message ignored; the raw bytes stay for the record."""
    message = await _get(session, message_id, for_update=True)
    if message.status not in (
        InboundStatus.quarantined,
        InboundStatus.received,
        InboundStatus.failed,
    ):
        raise Conflict(
            f"only quarantined or waiting messages can be discarded (this is {message.status})"
        )
    message.parse_result = {**(message.parse_result or {}), **_audit(message, "discard", actor)}
    await session.flush()
    await repository.set_final(
        session,
        inbound_id=message.id,
        attempt=None,
        status=InboundStatus.ignored.value,
        reason=f"discarded by {actor.email}",
    )
    return await _get(session, message_id)

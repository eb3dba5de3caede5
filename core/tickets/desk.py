"""What a person does to tickets through the portal or the API, with the role rules applied.

Each function takes the acting user, checks with core/tickets/access.py what they may do, and
then calls the ticket rules in core/tickets/service.py (which record history and publish events).
Routers call these, never service.py directly, so no endpoint can forget a permission check.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.attachments import repository as attachments_repo
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.models import (
    Attachment,
    AttachmentStatus,
    Channel,
    Comment,
    CommentSource,
    Ticket,
    TicketPriority,
    TicketStatus,
    User,
    Visibility,
)
from core.tickets import access, service
from core.tickets import desk_repository as repo
from core.tickets import repository as tickets_repo
from core.users import repository as users_repo
from core.users import service as users_service

MAX_BODY_LENGTH = 100_000
MAX_ATTACHMENTS_PER_COMMENT = 20
MAX_BULK = 100
UPDATABLE_FIELDS = frozenset(
    {"status", "priority", "team_id", "assignee_id", "category_id", "subject"}
)


def text_to_html(text: str) -> str:
    """Web comments are plain text; their HTML is the escaped text in simple paragraphs."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip()) if p.strip()]
    return "".join(
        "<p>" + "<br>".join(html.escape(line) for line in p.split("\n")) + "</p>"
        for p in paragraphs
    )


def _clean_body(body: str) -> str:
    body = body.replace("\x00", "").strip()
    if not body:
        raise Invalid("the message is empty")
    if len(body) > MAX_BODY_LENGTH:
        raise Invalid("the message is too long", detail=f"at most {MAX_BODY_LENGTH} characters")
    return body


async def _claim_attachments(
    session: AsyncSession,
    *,
    actor: User,
    attachment_ids: Iterable[int],
    ticket: Ticket,
    comment: Comment,
) -> list[Attachment]:
    """Link the actor's completed, not yet used uploads to a comment."""
    ids = list(dict.fromkeys(attachment_ids))
    if len(ids) > MAX_ATTACHMENTS_PER_COMMENT:
        raise Invalid("too many attachments", detail=f"at most {MAX_ATTACHMENTS_PER_COMMENT}")
    claimed = []
    for attachment_id in ids:
        attachment = await attachments_repo.get_for_update(session, attachment_id)
        if attachment is None or attachment.uploader_id != actor.id:
            raise Invalid("unknown attachment", detail=f"attachment {attachment_id} is not yours")
        if attachment.status != AttachmentStatus.stored.value:
            raise Invalid(
                "upload not complete", detail=f"complete attachment {attachment_id} first"
            )
        if attachment.ticket_id is not None or attachment.comment_id is not None:
            raise Conflict(
                "attachment already used", detail=f"attachment {attachment_id} is already attached"
            )
        attachment.ticket_id = ticket.id
        attachment.comment_id = comment.id
        claimed.append(attachment)
    await session.flush()
    return claimed


async def _category_team(session: AsyncSession, category_id: int | None) -> int | None:
    if category_id is None:
        return None
    category = await repo.get_category(session, category_id)
    if category is None or not category.active:
        raise Invalid("unknown category", detail=f"category {category_id} does not exist")
    return category.default_team_id


async def create_ticket(
    session: AsyncSession,
    *,
    actor: User,
    subject: str,
    body: str,
    category_id: int | None = None,
    priority: TicketPriority | str = TicketPriority.normal,
    attachment_ids: Iterable[int] = (),
    requester_email: str | None = None,
) -> Ticket:
    """A web ticket for the actor (or, for agents, on behalf of `requester_email`)."""
    body = _clean_body(body)
    requester = actor
    if requester_email:
        access.require_staff(actor, "open tickets for someone else")
        requester, _ = await users_service.get_or_create_requester(session, email=requester_email)
        if not requester.active:
            raise Invalid("that requester is deactivated")
    team_id = await _category_team(session, category_id)
    ticket, comment = await service.open_ticket(
        session,
        requester=requester,
        subject=subject.replace("\x00", ""),
        body_text=body,
        body_html=text_to_html(body),
        channel=Channel.web,
        priority=TicketPriority(priority),
        team_id=team_id,
        category_id=category_id,
        actor=actor,
    )
    await _claim_attachments(
        session, actor=actor, attachment_ids=attachment_ids, ticket=ticket, comment=comment
    )
    await session.refresh(ticket)  # server defaults and what event handlers (SLA) wrote
    return ticket


async def add_comment(
    session: AsyncSession,
    *,
    actor: User,
    ticket_id: int,
    body: str,
    visibility: Visibility | str = Visibility.public,
    attachment_ids: Iterable[int] = (),
) -> tuple[Comment, list[Attachment]]:
    ticket = await access.visible_ticket(session, actor, ticket_id, for_update=True)
    access.can_write_comment(actor, visibility)
    if ticket.merged_into_id is not None:
        raise Conflict(
            "ticket was merged",
            detail=f"this ticket was merged into ticket {ticket.merged_into_id}; reply there",
        )
    body = _clean_body(body)
    comment = await service.add_comment(
        session,
        ticket=ticket,
        author=actor,
        body_text=body,
        body_html=text_to_html(body),
        visibility=Visibility(visibility),
        source=CommentSource.web,
    )
    files = await _claim_attachments(
        session, actor=actor, attachment_ids=attachment_ids, ticket=ticket, comment=comment
    )
    await session.refresh(comment)
    return comment, files


@dataclass
class TicketChanges:
    """The fields a PATCH set; `fields` names those present (null included, meaning clear)."""

    fields: frozenset[str]
    status: str | None = None
    priority: str | None = None
    team_id: int | None = None
    assignee_id: int | None = None
    category_id: int | None = None
    subject: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TicketChanges:
        unknown = set(data) - UPDATABLE_FIELDS
        if unknown:
            raise Invalid("unknown fields", detail=f"cannot change {', '.join(sorted(unknown))}")
        return cls(fields=frozenset(data), **data)


async def _apply(
    session: AsyncSession, *, actor: User, ticket: Ticket, changes: TicketChanges
) -> None:
    if not access.is_staff(actor):
        if changes.fields - {"status"}:
            raise Forbidden("requesters may only close, resolve or reopen their tickets")
        if changes.status is None:
            return
        access.requester_may_set_status(actor, ticket, changes.status)
        await service.change_status(session, ticket=ticket, status=changes.status, actor=actor)
        return
    if "status" in changes.fields:
        if changes.status is None:
            raise Invalid("status cannot be null")
        await service.change_status(session, ticket=ticket, status=changes.status, actor=actor)
    if "assignee_id" in changes.fields:
        assignee = None
        if changes.assignee_id is not None:
            assignee = await users_repo.get_by_id(session, changes.assignee_id)
            if assignee is None:
                raise Invalid("unknown assignee", detail=f"user {changes.assignee_id} not found")
        await service.assign(session, ticket=ticket, assignee=assignee, actor=actor)
    if (
        "team_id" in changes.fields
        and changes.team_id is not None
        and await repo.get_team(session, changes.team_id) is None
    ):
        raise Invalid("unknown team", detail=f"team {changes.team_id} does not exist")
    if "category_id" in changes.fields and changes.category_id is not None:
        await _category_team(session, changes.category_id)
    if "priority" in changes.fields and changes.priority is None:
        raise Invalid("priority cannot be null")
    if "subject" in changes.fields and changes.subject is None:
        raise Invalid("subject cannot be null")
    clear = frozenset(
        f for f in ("team_id", "category_id") if f in changes.fields and getattr(changes, f) is None
    )
    await service.update_fields(
        session,
        ticket=ticket,
        actor=actor,
        priority=TicketPriority(changes.priority) if changes.priority else None,
        team_id=changes.team_id,
        category_id=changes.category_id,
        subject=changes.subject.replace("\x00", "") if changes.subject is not None else None,
        clear=clear,
    )


async def update_ticket(
    session: AsyncSession, *, actor: User, ticket_id: int, changes: TicketChanges
) -> Ticket:
    ticket = await access.visible_ticket(session, actor, ticket_id, for_update=True)
    try:
        await _apply(session, actor=actor, ticket=ticket, changes=changes)
    except ValueError as exc:  # an unknown status or priority value
        raise Invalid("invalid value", detail=str(exc)) from exc
    await session.refresh(ticket)
    return ticket


async def bulk_update(
    session: AsyncSession, *, actor: User, ticket_ids: list[int], changes: TicketChanges
) -> list[Ticket]:
    """Apply one change to many tickets, all or nothing (one transaction)."""
    access.require_staff(actor, "change tickets in bulk")
    if "subject" in changes.fields:
        raise Invalid("subject cannot be changed in bulk")
    ids = sorted(set(ticket_ids))  # lock in id order: two bulk updates never deadlock
    if not ids:
        raise Invalid("no tickets given")
    if len(ids) > MAX_BULK:
        raise Invalid("too many tickets", detail=f"at most {MAX_BULK} at once")
    updated = []
    for ticket_id in ids:
        ticket = await access.visible_ticket(session, actor, ticket_id, for_update=True)
        try:
            await _apply(session, actor=actor, ticket=ticket, changes=changes)
        except (Invalid, ValueError) as exc:
            message = exc.detail if isinstance(exc, Invalid) else str(exc)
            raise Invalid(
                "bulk update failed", detail=f"ticket {ticket.number}: {message}"
            ) from exc
        updated.append(ticket)
    for ticket in updated:
        await session.refresh(ticket)
    return updated


async def merge(
    session: AsyncSession, *, actor: User, source_id: int, into_id: int
) -> tuple[Ticket, Ticket]:
    """Merge `source` into `into`. The source's comments and files stay where they are and are
    referenced (history is never rewritten); its requester and CCs join the target as CCs; both
    get a system note; the source is closed with merged_into_id."""
    access.require_staff(actor, "merge tickets")
    if source_id == into_id:
        raise Invalid("a ticket cannot be merged into itself")
    first, second = sorted((source_id, into_id))
    locked = {
        first: await access.visible_ticket(session, actor, first, for_update=True),
        second: await access.visible_ticket(session, actor, second, for_update=True),
    }
    source, target = locked[source_id], locked[into_id]
    if source.merged_into_id is not None:
        raise Conflict("already merged", detail=f"ticket {source.number} was merged already")
    if target.merged_into_id is not None:
        raise Conflict(
            "target was merged", detail=f"ticket {target.number} was itself merged; use its target"
        )
    if target.status == TicketStatus.closed.value:
        raise Conflict("target is closed", detail=f"reopen ticket {target.number} first")
    people = [
        source.requester_id,
        *await tickets_repo.participant_user_ids(session, ticket_id=source.id),
    ]
    for user_id in dict.fromkeys(people):
        user = await users_repo.get_by_id(session, user_id)
        if user is not None:
            await service.add_participant(session, ticket=target, user=user, actor=actor)
    source.merged_into_id = target.id
    source.updated_at = target.updated_at = service.now()
    await session.flush()
    await service.record(
        session,
        target,
        "merged",
        actor=actor,
        data={"source_id": source.id, "number": source.number},
    )
    await service.record(
        session,
        source,
        "merged_into",
        actor=actor,
        data={"target_id": target.id, "number": target.number},
    )
    await service.add_system_note(
        session,
        ticket=target,
        text=f"Ticket #{source.number} ({source.subject}) was merged into this ticket.",
    )
    await service.add_system_note(
        session,
        ticket=source,
        text=f"This ticket was merged into ticket #{target.number} ({target.subject}).",
    )
    if source.status != TicketStatus.closed.value:
        await service.change_status(session, ticket=source, status=TicketStatus.closed, actor=actor)
    await session.refresh(source)
    await session.refresh(target)
    return source, target


async def add_participant(
    session: AsyncSession, *, actor: User, ticket_id: int, email: str
) -> User:
    ticket = await access.visible_ticket(session, actor, ticket_id, for_update=True)
    access.may_manage_participants(actor, ticket)
    user, _ = await users_service.get_or_create_requester(session, email=email)
    if user.id == ticket.requester_id:
        raise Invalid("the requester is always on the ticket")
    added = await service.add_participant(session, ticket=ticket, user=user, actor=actor)
    if (
        not added
        and await tickets_repo.get_participant(session, ticket_id=ticket.id, user_id=user.id)
        is None
    ):
        raise Conflict("too many participants", detail=f"at most {service.MAX_PARTICIPANTS}")
    return user


async def remove_participant(
    session: AsyncSession, *, actor: User, ticket_id: int, user_id: int
) -> None:
    ticket = await access.visible_ticket(session, actor, ticket_id, for_update=True)
    if user_id != actor.id:  # anyone may take themselves off a ticket they can see
        access.may_manage_participants(actor, ticket)
    if not await service.remove_participant(session, ticket=ticket, user_id=user_id, actor=actor):
        raise NotFound("participant not found")

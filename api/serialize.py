"""Turn core rows and views into the API's shapes."""

from __future__ import annotations

from datetime import datetime

from api.schemas import (
    AttachmentOut,
    CommentOut,
    SlaOut,
    TeamRef,
    TicketDetailOut,
    TicketEventOut,
    TicketSummary,
    UserOut,
    UserRef,
)
from core.models import Attachment, Ticket, TicketEvent, User
from core.tickets.queries import CommentView, TicketDetail, TicketPage, sla_state
from core.tickets.query_repository import PersonRow, TeamRow


def user_out(user: User, team_ids: list[int] | None = None) -> UserOut:
    out = UserOut.model_validate(user)
    out.team_ids = team_ids or []
    return out


def user_ref(user: User | PersonRow | None) -> UserRef | None:
    """Built without re-validation: the fields come straight from the database."""
    if user is None:
        return None
    return UserRef.model_construct(id=user.id, name=user.name, email=user.email, role=user.role)


def attachment_out(attachment: Attachment) -> AttachmentOut:
    return AttachmentOut(
        id=attachment.id,
        filename=attachment.filename,
        content_type=attachment.content_type,
        size=attachment.size,
        sha256=attachment.sha256,
        is_inline=attachment.is_inline,
        content_id=attachment.content_id,
        comment_id=attachment.comment_id,
        download_url=f"/api/v1/attachments/{attachment.id}",
    )


def _summary_fields(
    ticket: Ticket,
    users: dict[int, PersonRow],
    teams: dict[int, TeamRow],
    comment_count: int,
    attachment_count: int,
    at: datetime,
) -> dict:
    team = teams.get(ticket.team_id) if ticket.team_id else None
    return {
        "id": ticket.id,
        "number": ticket.number,
        "subject": ticket.subject,
        "status": ticket.status,
        "priority": ticket.priority,
        "channel": ticket.channel,
        "requester": user_ref(users.get(ticket.requester_id)),
        "assignee": user_ref(users.get(ticket.assignee_id)) if ticket.assignee_id else None,
        "team": TeamRef.model_construct(id=team.id, name=team.name) if team else None,
        "category_id": ticket.category_id,
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "first_response_due_at": ticket.first_response_due_at,
        "resolution_due_at": ticket.resolution_due_at,
        "sla_state": sla_state(ticket, at),
        "attachment_count": attachment_count,
        "comment_count": comment_count,
    }


def ticket_page(page: TicketPage) -> list[TicketSummary]:
    # Constructed, not validated: every field is a database value of the declared type, and a
    # page of 50 would otherwise spend milliseconds re-checking them.
    return [
        TicketSummary.model_construct(
            **_summary_fields(
                t,
                page.users,
                page.teams,
                page.comment_counts.get(t.id, 0),
                page.attachment_counts.get(t.id, 0),
                page.at,
            )
        )
        for t in page.tickets
    ]


def ticket_detail(detail: TicketDetail) -> TicketDetailOut:
    ticket = detail.ticket
    fields = _summary_fields(
        ticket,
        detail.users,
        detail.teams,
        detail.comment_count,
        len(detail.attachments),
        detail.at,
    )
    return TicketDetailOut(
        **fields,
        participants=[user_ref(u) for u in detail.participants],
        merged_into_id=ticket.merged_into_id,
        follow_up_of_id=ticket.follow_up_of_id,
        first_response_at=ticket.first_response_at,
        resolved_at=ticket.resolved_at,
        closed_at=ticket.closed_at,
        sla=SlaOut(
            policy_id=ticket.sla_policy_id,
            first_response_due_at=ticket.first_response_due_at,
            resolution_due_at=ticket.resolution_due_at,
            paused=ticket.sla_paused_at is not None,
            paused_at=ticket.sla_paused_at,
            first_response_breached_at=ticket.first_response_breached_at,
            resolution_breached_at=ticket.resolution_breached_at,
            state=fields["sla_state"],
        ),
        attachments=[attachment_out(a) for a in detail.attachments],
    )


def comment_out(view: CommentView) -> CommentOut:
    c = view.comment
    return CommentOut(
        id=c.id,
        ticket_id=c.ticket_id,
        author=user_ref(view.author),
        visibility=c.visibility,
        source=c.source,
        body_text=c.body_text,
        body_html=c.body_html,
        quote_start=c.quote_start,
        is_auto_reply=c.is_auto_reply,
        mail_trust=c.mail_trust,
        created_at=c.created_at,
        attachments=[attachment_out(a) for a in view.attachments],
    )


def event_out(event: TicketEvent, actors: dict[int, User]) -> TicketEventOut:
    return TicketEventOut(
        id=event.id,
        kind=event.kind,
        actor=user_ref(actors.get(event.actor_id)) if event.actor_id else None,
        data=event.data,
        created_at=event.created_at,
    )

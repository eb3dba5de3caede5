"""Tickets: list/search, counts, create, detail, update, merge, bulk, comments, participants,
history. Every rule (who may see or do what) is in core/tickets/{access,desk,queries}.py."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from api.deps import CurrentUser, SessionDep
from api.schemas import (
    ERROR_RESPONSES,
    BodyId,
    CommentOut,
    CountsOut,
    Email,
    Id,
    Text,
    TicketDetailOut,
    TicketEventOut,
    TicketPageOut,
    UserRef,
)
from api.serialize import comment_out, event_out, ticket_detail, ticket_page, user_ref
from core.models import TicketPriority, TicketStatus, Visibility
from core.tickets import desk, queries

router = APIRouter(prefix="/api/v1/tickets", tags=["tickets"], responses=ERROR_RESPONSES)

Subject = Annotated[Text, Field(min_length=1, max_length=998)]
Body = Annotated[Text, Field(min_length=1, max_length=desk.MAX_BODY_LENGTH)]
AttachmentIds = Annotated[list[BodyId], Field(max_length=desk.MAX_ATTACHMENTS_PER_COMMENT)]
Ref = Annotated[str, Query(pattern=r"^(me|mine|none|[0-9]{1,18})$")]


class TicketCreate(BaseModel):
    subject: Subject
    body: Body
    category_id: BodyId | None = None
    priority: TicketPriority = TicketPriority.normal
    attachment_ids: AttachmentIds = []
    requester_email: Email | None = Field(
        default=None, description="agents only: open the ticket on behalf of this address"
    )


class TicketUpdate(BaseModel):
    status: TicketStatus | None = None
    priority: TicketPriority | None = None
    team_id: BodyId | None = None
    assignee_id: BodyId | None = None
    category_id: BodyId | None = None
    subject: Subject | None = None


class BulkUpdate(TicketUpdate):
    ticket_ids: Annotated[list[BodyId], Field(min_length=1, max_length=desk.MAX_BULK)]


class BulkResult(BaseModel):
    updated: list[int]


class MergeIn(BaseModel):
    into_ticket_id: BodyId


class MergeResult(BaseModel):
    source: TicketDetailOut
    target: TicketDetailOut


class CommentCreate(BaseModel):
    body: Body
    visibility: Visibility = Visibility.public
    attachment_ids: AttachmentIds = []


class ParticipantIn(BaseModel):
    email: Email


def _changes(body: TicketUpdate, *, exclude: set[str] = frozenset()) -> desk.TicketChanges:
    data = {k: getattr(body, k) for k in body.model_fields_set - exclude}
    for key in ("status", "priority"):
        if data.get(key) is not None:
            data[key] = data[key].value
    return desk.TicketChanges.from_dict(data)


async def _detail(session: SessionDep, user: CurrentUser, ticket_id: int) -> TicketDetailOut:
    return ticket_detail(await queries.ticket_detail(session, user=user, ticket_id=ticket_id))


@router.get("", response_model=TicketPageOut)
async def list_tickets(
    user: CurrentUser,
    session: SessionDep,
    status: Annotated[list[TicketStatus] | None, Query()] = None,
    priority: Annotated[list[TicketPriority] | None, Query()] = None,
    assignee: Ref | None = None,
    team: Ref | None = None,
    requester: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    category: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    sla: Literal["breached", "at_risk"] | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    updated_from: datetime | None = None,
    updated_to: datetime | None = None,
    sort: Literal[
        "updated", "-updated", "created", "-created", "priority", "-priority"
    ] = "-updated",
    cursor: Annotated[str | None, Query(max_length=400)] = None,
    limit: Annotated[int, Query(ge=1, le=queries.MAX_PAGE)] = 25,
) -> TicketPageOut:
    """Tickets you may see, filtered, searched (`q`: Korean substrings work) and sorted; pass
    `next_cursor` back as `cursor` for the next page."""
    page = await queries.list_tickets(
        session,
        user=user,
        filters=queries.TicketFilters(
            status=[s.value for s in status or []],
            priority=[p.value for p in priority or []],
            assignee=assignee,
            team=team,
            requester_id=requester,
            category_id=category,
            q=q.replace("\x00", "") if q else None,
            sla=sla,
            created_from=created_from,
            created_to=created_to,
            updated_from=updated_from,
            updated_to=updated_to,
            sort=sort,
            cursor=cursor,
            limit=limit,
        ),
    )
    return TicketPageOut(items=ticket_page(page), next_cursor=page.next_cursor)


@router.get("/counts", response_model=CountsOut)
async def ticket_counts(user: CurrentUser, session: SessionDep) -> CountsOut:
    """Queue counts for agents: unassigned, mine, my teams', open, at risk, breached."""
    return CountsOut(**await queries.queue_counts(session, user=user))


@router.post("", status_code=201, response_model=TicketDetailOut)
async def create_ticket(
    body: TicketCreate, user: CurrentUser, session: SessionDep
) -> TicketDetailOut:
    """Open a ticket from the portal, with uploaded attachments (`attachment_ids`)."""
    ticket = await desk.create_ticket(
        session,
        actor=user,
        subject=body.subject,
        body=body.body,
        category_id=body.category_id,
        priority=body.priority,
        attachment_ids=body.attachment_ids,
        requester_email=body.requester_email,
    )
    return ticket_detail(await queries.detail_of(session, user=user, ticket=ticket))


@router.post("/bulk", response_model=BulkResult)
async def bulk_update(body: BulkUpdate, user: CurrentUser, session: SessionDep) -> BulkResult:
    """Change status, priority, assignee or team of many tickets at once (all or nothing)."""
    changes = _changes(body, exclude={"ticket_ids"})
    tickets = await desk.bulk_update(
        session, actor=user, ticket_ids=body.ticket_ids, changes=changes
    )
    return BulkResult(updated=[t.id for t in tickets])


@router.get("/{ticket_id}", response_model=TicketDetailOut)
async def get_ticket(ticket_id: Id, user: CurrentUser, session: SessionDep) -> TicketDetailOut:
    """One ticket with its participants, SLA and the files you may see."""
    return await _detail(session, user, ticket_id)


@router.patch("/{ticket_id}", response_model=TicketDetailOut)
async def update_ticket(
    ticket_id: Id, body: TicketUpdate, user: CurrentUser, session: SessionDep
) -> TicketDetailOut:
    """Change status (validated transitions), priority, team, assignee, category or subject.
    Requesters may only close, resolve or reopen their own tickets. `null` clears a field."""
    ticket = await desk.update_ticket(
        session, actor=user, ticket_id=ticket_id, changes=_changes(body)
    )
    return ticket_detail(await queries.detail_of(session, user=user, ticket=ticket))


@router.post("/{ticket_id}/merge", response_model=MergeResult)
async def merge_ticket(
    ticket_id: Id, body: MergeIn, user: CurrentUser, session: SessionDep
) -> MergeResult:
    """Merge this ticket into another: it is closed with `merged_into_id`, its comments stay and
    are referenced, its people are copied on the target, both get a system note."""
    source, target = await desk.merge(
        session, actor=user, source_id=ticket_id, into_id=body.into_ticket_id
    )
    return MergeResult(
        source=ticket_detail(await queries.detail_of(session, user=user, ticket=source)),
        target=ticket_detail(await queries.detail_of(session, user=user, ticket=target)),
    )


@router.get("/{ticket_id}/comments", response_model=list[CommentOut])
async def list_comments(
    ticket_id: Id,
    user: CurrentUser,
    session: SessionDep,
    after_id: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> list[CommentOut]:
    """The thread, oldest first (internal notes only for agents)."""
    views = await queries.list_comments(
        session, user=user, ticket_id=ticket_id, after_id=after_id, limit=limit
    )
    return [comment_out(v) for v in views]


@router.post("/{ticket_id}/comments", status_code=201, response_model=CommentOut)
async def add_comment(
    ticket_id: Id, body: CommentCreate, user: CurrentUser, session: SessionDep
) -> CommentOut:
    """Reply publicly or (agents) write an internal note, with uploaded attachments."""
    comment, files = await desk.add_comment(
        session,
        actor=user,
        ticket_id=ticket_id,
        body=body.body,
        visibility=body.visibility,
        attachment_ids=body.attachment_ids,
    )
    return comment_out(queries.CommentView(comment, user, files))


@router.get("/{ticket_id}/events", response_model=list[TicketEventOut])
async def list_events(
    ticket_id: Id, user: CurrentUser, session: SessionDep
) -> list[TicketEventOut]:
    """The ticket's history (requesters see status changes and merges)."""
    events, actors = await queries.list_events(session, user=user, ticket_id=ticket_id)
    return [event_out(e, actors) for e in events]


@router.post("/{ticket_id}/participants", status_code=201, response_model=UserRef)
async def add_participant(
    ticket_id: Id, body: ParticipantIn, user: CurrentUser, session: SessionDep
) -> UserRef:
    """Copy someone on the ticket (by email; an unknown address becomes a requester account)."""
    added = await desk.add_participant(session, actor=user, ticket_id=ticket_id, email=body.email)
    return user_ref(added)


@router.delete("/{ticket_id}/participants/{user_id}", status_code=204)
async def remove_participant(
    ticket_id: Id, user_id: Id, user: CurrentUser, session: SessionDep
) -> Response:
    """Take someone off the ticket's copy list."""
    await desk.remove_participant(session, actor=user, ticket_id=ticket_id, user_id=user_id)
    return Response(status_code=204)

"""SLA clocks follow the ticket's life: subscribed to core/events.py, run in the same transaction.

`now` comes from core.sla.clock (the wall clock, or the instant the SLA scan froze)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core import events
from core.models import Ticket, Visibility
from core.sla import clock, service

SLA_FIELDS = frozenset({"priority", "team_id", "category_id"})


async def _ticket(session: AsyncSession, ticket_id: int) -> Ticket | None:
    # The identity map hands back the very object the ticket service is changing.
    return await session.get(Ticket, ticket_id)


@events.subscribe(events.TicketOpening)
async def start_clock(session: AsyncSession, event: events.TicketOpening) -> None:
    await service.on_ticket_opening(session, ticket=event.ticket, now=clock.now())


@events.subscribe(events.TicketFieldsChanged)
async def retarget(session: AsyncSession, event: events.TicketFieldsChanged) -> None:
    if not SLA_FIELDS & set(event.changes):
        return
    ticket = await _ticket(session, event.ticket_id)
    if ticket is not None:
        await service.on_fields_changed(session, ticket=ticket, now=clock.now())


@events.subscribe(events.TicketStatusChanged)
async def pause_or_resume(session: AsyncSession, event: events.TicketStatusChanged) -> None:
    ticket = await _ticket(session, event.ticket_id)
    if ticket is not None:
        await service.on_status_changed(
            session,
            ticket=ticket,
            old_status=event.old_status,
            new_status=event.new_status,
            now=clock.now(),
        )


@events.subscribe(events.CommentAdded)
async def first_response(session: AsyncSession, event: events.CommentAdded) -> None:
    if event.visibility != Visibility.public:
        return
    ticket = await _ticket(session, event.ticket_id)
    # add_comment set first_response_at on the first public agent reply before publishing.
    if ticket is not None and ticket.first_response_at is not None:
        await service.on_first_response(session, ticket=ticket)

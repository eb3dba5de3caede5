"""The SLA scan and the event handlers against the real database, with a controlled clock."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from core.models import Notification, OutboundEmail, SlaNotice, TicketEvent
from core.sla import admin, clock, engine, service
from core.sla.schemas import BusinessCalendarCreate, HolidayCreate, SlaPolicyUpdate
from core.tickets import service as tickets
from tests.sla.conftest import Desk, kst


async def _mail_count(desk: Desk, ticket_id: int) -> dict[str, int]:
    rows = await desk.session.execute(
        select(OutboundEmail.recipient, func.count())
        .where(OutboundEmail.ticket_id == ticket_id, OutboundEmail.kind == "sla")
        .group_by(OutboundEmail.recipient)
    )
    return dict(rows.all())  # type: ignore[arg-type]


async def _in_app(desk: Desk, ticket_id: int) -> int:
    return (
        await desk.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.ticket_id == ticket_id, Notification.kind == "sla")
        )
        or 0
    )


async def test_due_times_on_create_follow_the_policy_and_the_calendar(desk: Desk) -> None:
    ticket = await desk.open(kst(2026, 9, 23, 15, 0))  # the day before Chuseok
    assert ticket.sla_policy_id == desk.default_policy.id
    assert ticket.first_response_due_at == kst(2026, 9, 28, 10, 0)
    assert ticket.resolution_due_at == kst(2026, 9, 29, 13, 0)
    # 75% of 4h = 3h: reached at Wednesday's closing time, before the holidays.
    assert ticket.sla_next_check_at == kst(2026, 9, 23, 18, 0)


async def test_reminder_and_breach_are_sent_exactly_once(desk: Desk) -> None:
    session = desk.session
    ticket = await desk.open(kst(2026, 11, 23, 9, 0))  # Monday; FR reminder 12:00, breach 13:00

    assert (await service.process_due(session, now=kst(2026, 11, 23, 11, 59))).tickets == 0

    counts = await service.process_due(session, now=kst(2026, 11, 23, 12, 0))
    assert (counts.tickets, counts.reminders, counts.breaches) == (1, 1, 0)
    # Nobody is assigned: the team's agents hear about it.
    assert await _mail_count(desk, ticket.id) == {"agent@sla.ac.kr": 1, "lead@sla.ac.kr": 1}
    assert ticket.sla_next_check_at == kst(2026, 11, 23, 13, 0)

    # A second scanner (or a retried tick) that sees the same event sends nothing again.
    ticket.sla_next_check_at = kst(2026, 11, 23, 12, 0)
    again = await service.process_due(session, now=kst(2026, 11, 23, 12, 30))
    assert again.notices_already_sent == 1
    assert await _mail_count(desk, ticket.id) == {"agent@sla.ac.kr": 1, "lead@sla.ac.kr": 1}

    await tickets.assign(session, ticket=ticket, assignee=desk.agent, actor=desk.admin)
    breach = await service.process_due(session, now=kst(2026, 11, 23, 13, 5))
    assert (breach.breaches, breach.escalations) == (1, 1)
    assert ticket.first_response_breached_at == kst(2026, 11, 23, 13, 0)
    assert ticket.priority == "high"  # escalated one step
    # The breach goes to the assignee and, by the policy, the team lead.
    assert await _mail_count(desk, ticket.id) == {"agent@sla.ac.kr": 2, "lead@sla.ac.kr": 2}
    assert await _in_app(desk, ticket.id) == 4
    kinds = (
        await session.scalars(select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket.id))
    ).all()
    assert "sla_breached" in kinds and "sla_escalated" in kinds

    for moment in (kst(2026, 11, 23, 13, 5), kst(2026, 11, 23, 14, 0)):
        await service.process_due(session, now=moment)
    notices = (
        await session.scalars(select(SlaNotice.kind).where(SlaNotice.ticket_id == ticket.id))
    ).all()
    assert sorted(notices) == [engine.FIRST_RESPONSE_BREACH, engine.FIRST_RESPONSE_REMINDER]


async def test_urgent_breach_escalates_no_further_and_resolution_clock_continues(
    desk: Desk,
) -> None:
    ticket = await desk.open(kst(2026, 11, 23, 9, 0), priority="urgent")
    assert ticket.sla_policy_id == desk.urgent_policy.id
    await service.process_due(desk.session, now=kst(2026, 11, 23, 10, 0))
    assert ticket.priority == "urgent"
    assert ticket.first_response_breached_at == kst(2026, 11, 23, 10, 0)
    # Resolution: 4h -> reminder at 12:00 (75%), breach 13:00.
    assert ticket.sla_next_check_at == kst(2026, 11, 23, 12, 0)


async def test_pending_pauses_the_clock_and_a_reply_resumes_it(desk: Desk) -> None:
    session = desk.session
    ticket = await desk.open(kst(2026, 11, 23, 9, 0))
    with clock.frozen(kst(2026, 11, 23, 13, 0)):
        await tickets.change_status(session, ticket=ticket, status="pending", actor=desk.agent)
    assert ticket.sla_paused_at == kst(2026, 11, 23, 13, 0)
    assert ticket.sla_elapsed_business_seconds == 4 * 3600
    assert ticket.sla_next_check_at is None
    assert (await service.process_due(session, now=kst(2026, 11, 30, 9, 0))).tickets == 0

    with clock.frozen(kst(2026, 11, 25, 10, 0)):  # the requester answers on Wednesday
        await tickets.change_status(session, ticket=ticket, status="open", actor=desk.requester)
    assert ticket.sla_paused_at is None
    assert ticket.resolution_due_at == kst(2026, 11, 26, 13, 0)  # 12h left from Wed 10:00
    assert ticket.first_response_due_at == kst(2026, 11, 25, 10, 0)  # 4h were already used


async def test_priority_change_midway_retargets(desk: Desk) -> None:
    session = desk.session
    ticket = await desk.open(kst(2026, 11, 23, 9, 0))
    with clock.frozen(kst(2026, 11, 23, 9, 30)):
        await tickets.update_fields(session, ticket=ticket, actor=desk.agent, priority="urgent")
    assert ticket.sla_policy_id == desk.urgent_policy.id
    assert ticket.first_response_due_at == kst(2026, 11, 23, 10, 0)
    assert ticket.resolution_due_at == kst(2026, 11, 23, 13, 0)
    with clock.frozen(kst(2026, 11, 23, 10, 30)):
        await tickets.update_fields(session, ticket=ticket, actor=desk.agent, priority="low")
    assert ticket.sla_policy_id == desk.default_policy.id
    assert ticket.resolution_due_at == kst(2026, 11, 24, 16, 0)


async def test_first_public_agent_reply_satisfies_first_response(desk: Desk) -> None:
    session = desk.session
    ticket = await desk.open(kst(2026, 11, 23, 9, 0))
    await tickets.add_comment(
        session, ticket=ticket, author=desk.agent, body_text="internal", visibility="internal"
    )
    assert ticket.first_response_at is None
    await tickets.add_comment(session, ticket=ticket, author=desk.agent, body_text="확인 중입니다.")
    assert ticket.first_response_at is not None
    # Answered (on the wall clock, well after the frozen due time): recorded as late, and only
    # resolution events remain.
    assert ticket.first_response_breached_at == kst(2026, 11, 23, 13, 0)
    assert ticket.sla_next_check_at == kst(2026, 11, 24, 12, 0)


async def test_resolving_stops_the_clock(desk: Desk) -> None:
    ticket = await desk.open(kst(2026, 11, 23, 9, 0))
    with clock.frozen(kst(2026, 11, 23, 11, 0)):
        await tickets.change_status(desk.session, ticket=ticket, status="resolved", actor=None)
    assert ticket.sla_next_check_at is None and ticket.sla_clock_started_at is None
    assert (await service.process_due(desk.session, now=kst(2026, 12, 31, 9, 0))).tickets == 0


async def test_rule_changes_move_the_due_times_of_open_tickets_only(desk: Desk) -> None:
    """An admin who edits a policy or its calendar sees the open tickets' due times follow at
    once; resolved tickets keep theirs."""
    session = desk.session
    open_ticket = await desk.open(kst(2026, 11, 23, 9, 0))  # Monday
    done = await desk.open(kst(2026, 11, 23, 9, 0), subject="프린터")
    with clock.frozen(kst(2026, 11, 23, 9, 10)):
        await tickets.change_status(session, ticket=done, status="resolved", actor=desk.agent)
    kept = (done.first_response_due_at, done.resolution_due_at)
    assert open_ticket.first_response_due_at == kst(2026, 11, 23, 13, 0)
    assert open_ticket.resolution_due_at == kst(2026, 11, 24, 16, 0)  # 16 business hours

    with clock.frozen(kst(2026, 11, 23, 10, 0)):
        await admin.update_policy(
            session, desk.default_policy.id, SlaPolicyUpdate(first_response_minutes=120)
        )
    assert open_ticket.first_response_due_at == kst(2026, 11, 23, 11, 0)
    assert (done.first_response_due_at, done.resolution_due_at) == kept

    # The policy moves to a calendar of its own, which then closes on Tuesday.
    with clock.frozen(kst(2026, 11, 23, 10, 0)):
        calendar = await admin.create_calendar(session, BusinessCalendarCreate(name="본관"))
        await admin.update_policy(
            session, desk.default_policy.id, SlaPolicyUpdate(calendar_id=calendar.id)
        )
        assert open_ticket.resolution_due_at == kst(2026, 11, 24, 16, 0)
        closed = await admin.add_holiday(
            session, calendar.id, HolidayCreate(day=date(2026, 11, 24), name="개교기념일")
        )
        assert open_ticket.resolution_due_at == kst(2026, 11, 25, 16, 0)
        await admin.delete_holiday(session, calendar.id, closed.id)
        assert open_ticket.resolution_due_at == kst(2026, 11, 24, 16, 0)
        # No policy matches a normal-priority ticket any more: no targets, no reminders.
        await admin.delete_policy(session, desk.default_policy.id)
    assert open_ticket.sla_policy_id is None
    assert open_ticket.resolution_due_at is None and open_ticket.sla_next_check_at is None
    assert (done.first_response_due_at, done.resolution_due_at) == kept

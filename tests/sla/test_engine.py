"""The SLA clock of one ticket with a controlled clock: every `now` is passed in, nothing sleeps."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from core.models import Ticket
from core.sla import engine
from core.sla.calendar import WorkCalendar
from core.sla.engine import Targets

KST = ZoneInfo("Asia/Seoul")
HOUR = 3600
CAL = WorkCalendar()


def kst(*args: int) -> datetime:
    return datetime(*args, tzinfo=KST)


def targets(first_hours: float, resolution_hours: float, *, policy_id: int = 1) -> Targets:
    return Targets(
        policy_id=policy_id,
        first_response_seconds=int(first_hours * HOUR),
        resolution_seconds=int(resolution_hours * HOUR),
        reminder_percent=75,
        calendar=CAL,
    )


NORMAL = targets(4, 16, policy_id=1)
URGENT = targets(1, 4, policy_id=2)


def new_ticket(at: datetime, policy: Targets | None = NORMAL) -> Ticket:
    ticket = Ticket(id=1, status="new", priority="normal")
    engine.start(ticket, policy, at)
    return ticket


def test_due_times_on_create_over_a_weekend() -> None:
    ticket = new_ticket(kst(2026, 11, 27, 16, 0))  # Friday 16:00
    assert ticket.first_response_due_at == kst(2026, 11, 30, 11, 0)
    assert ticket.resolution_due_at == kst(2026, 12, 1, 14, 0)
    # 75% of 4 business hours = 3 hours: Friday 16-18, then Monday 09-10.
    assert ticket.sla_next_check_at == kst(2026, 11, 30, 10, 0)


def test_due_times_across_chuseok() -> None:
    ticket = new_ticket(kst(2026, 9, 23, 15, 0))
    assert ticket.first_response_due_at == kst(2026, 9, 28, 10, 0)
    # 16h: Wed 3h, Mon 28 9h, Tue 29 4h.
    assert ticket.resolution_due_at == kst(2026, 9, 29, 13, 0)


def test_created_outside_business_hours() -> None:
    ticket = new_ticket(kst(2026, 11, 24, 21, 0))  # Tuesday night
    assert ticket.first_response_due_at == kst(2026, 11, 25, 13, 0)
    assert ticket.resolution_due_at == kst(2026, 11, 26, 16, 0)


def test_pause_while_pending_and_resume() -> None:
    ticket = new_ticket(kst(2026, 11, 23, 9, 0))  # Monday 09:00: 16h -> due Tuesday 16:00
    ticket.first_response_at = kst(2026, 11, 23, 10, 0)
    engine.first_response(ticket, NORMAL)
    assert ticket.resolution_due_at == kst(2026, 11, 24, 16, 0)

    engine.pause(ticket, CAL, kst(2026, 11, 23, 13, 0))  # 4 business hours used
    assert ticket.sla_paused_at == kst(2026, 11, 23, 13, 0)
    assert ticket.sla_elapsed_business_seconds == 4 * HOUR
    assert ticket.sla_clock_started_at is None
    assert ticket.sla_next_check_at is None  # nothing to remind while waiting on the requester
    assert engine.events(ticket, NORMAL) == []

    engine.resume(ticket, NORMAL, kst(2026, 11, 25, 10, 0))  # Wednesday 10:00, 12h left
    assert ticket.sla_paused_at is None
    assert ticket.resolution_due_at == kst(2026, 11, 26, 13, 0)
    # The 75% reminder (12h used) comes 8h into the resumed segment: Wednesday 18:00.
    assert ticket.sla_next_check_at == kst(2026, 11, 25, 18, 0)


def test_priority_change_midway_keeps_the_time_used() -> None:
    ticket = new_ticket(kst(2026, 11, 23, 9, 0))
    engine.retarget(ticket, old_calendar=CAL, targets=URGENT, now=kst(2026, 11, 23, 11, 0))
    assert ticket.sla_elapsed_business_seconds == 2 * HOUR
    assert ticket.sla_policy_id == URGENT.policy_id
    assert ticket.resolution_due_at == kst(2026, 11, 23, 13, 0)
    # The urgent first response (1h) was already missed at 10:00: due in the past.
    assert ticket.first_response_due_at == kst(2026, 11, 23, 10, 0)
    # Its 75% reminder point (09:45) is past too: the next scan looks at the ticket at once.
    assert ticket.sla_next_check_at == kst(2026, 11, 23, 9, 45)


def test_breach_is_kept_when_still_missed_and_cleared_when_the_target_moves_away() -> None:
    ticket = new_ticket(kst(2026, 11, 23, 9, 0), URGENT)
    ticket.resolution_breached_at = ticket.resolution_due_at  # 13:00, as the scan would
    later = kst(2026, 11, 23, 14, 0)
    engine.retarget(ticket, old_calendar=CAL, targets=URGENT, now=later)
    assert ticket.resolution_breached_at == kst(2026, 11, 23, 13, 0)
    engine.retarget(ticket, old_calendar=CAL, targets=NORMAL, now=later)
    assert ticket.resolution_breached_at is None
    assert ticket.resolution_due_at == kst(2026, 11, 24, 16, 0)


def test_events_reminder_then_breach_and_nothing_once_resolved() -> None:
    ticket = new_ticket(kst(2026, 11, 23, 9, 0))
    kinds = [(e.kind, e.at) for e in engine.events(ticket, NORMAL)]
    assert kinds == [
        (engine.FIRST_RESPONSE_REMINDER, kst(2026, 11, 23, 12, 0)),
        (engine.FIRST_RESPONSE_BREACH, kst(2026, 11, 23, 13, 0)),
        (engine.RESOLUTION_REMINDER, kst(2026, 11, 24, 12, 0)),
        (engine.RESOLUTION_BREACH, kst(2026, 11, 24, 16, 0)),
    ]
    engine.next_check(ticket, NORMAL, after=kst(2026, 11, 23, 12, 0))
    assert ticket.sla_next_check_at == kst(2026, 11, 23, 13, 0)
    ticket.resolved_at = kst(2026, 11, 25, 9, 30)
    engine.stop(ticket, CAL, ticket.resolved_at)
    assert ticket.sla_next_check_at is None
    assert ticket.resolution_breached_at == kst(2026, 11, 24, 16, 0)  # resolved late


def test_late_first_response_is_recorded_as_a_breach() -> None:
    ticket = new_ticket(kst(2026, 11, 23, 9, 0))
    ticket.first_response_at = kst(2026, 11, 23, 15, 0)
    engine.first_response(ticket, NORMAL)
    assert ticket.first_response_breached_at == kst(2026, 11, 23, 13, 0)
    assert [e.kind for e in engine.events(ticket, NORMAL)] == [
        engine.RESOLUTION_REMINDER,
        engine.RESOLUTION_BREACH,
    ]


def test_no_policy_still_runs_the_clock_for_a_policy_matched_later() -> None:
    ticket = new_ticket(kst(2026, 11, 23, 9, 0), None)
    assert ticket.resolution_due_at is None and ticket.sla_next_check_at is None
    engine.retarget(ticket, old_calendar=CAL, targets=NORMAL, now=kst(2026, 11, 23, 17, 0))
    assert ticket.sla_elapsed_business_seconds == 8 * HOUR
    assert ticket.resolution_due_at == kst(2026, 11, 24, 16, 0)

"""The SLA clock of one ticket, as pure functions over its columns (no I/O, `now` passed in).

State kept on the ticket:
- `sla_clock_started_at`: start of the running segment (null while paused or stopped);
- `sla_elapsed_business_seconds`: business seconds consumed before that segment;
- `sla_paused_at`: set while the ticket is pending (waiting on the requester);
- `first_response_due_at` / `resolution_due_at`: projected from the running segment;
- `*_breached_at`: the instant a target was missed;
- `sla_next_check_at`: the earliest reminder or breach still to handle, the only column the
  periodic scan reads (its partial index holds just the tickets that have something pending).

Both targets share one clock: they start together and pause together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.models import Ticket
from core.sla.calendar import WorkCalendar

FIRST_RESPONSE_REMINDER = "first_response_reminder"
FIRST_RESPONSE_BREACH = "first_response_breach"
RESOLUTION_REMINDER = "resolution_reminder"
RESOLUTION_BREACH = "resolution_breach"
NOTICE_KINDS = (
    FIRST_RESPONSE_REMINDER,
    FIRST_RESPONSE_BREACH,
    RESOLUTION_REMINDER,
    RESOLUTION_BREACH,
)


@dataclass(frozen=True)
class Targets:
    """A matched policy, ready for maths."""

    policy_id: int
    first_response_seconds: int
    resolution_seconds: int
    reminder_percent: int
    calendar: WorkCalendar
    escalate_priority: bool = True
    notify_team_lead: bool = True


@dataclass(frozen=True)
class SlaEvent:
    at: datetime
    kind: str
    due_at: datetime

    @property
    def is_breach(self) -> bool:
        return self.kind.endswith("_breach")


def is_running(ticket: Ticket) -> bool:
    return ticket.sla_clock_started_at is not None


def elapsed_at(ticket: Ticket, calendar: WorkCalendar, now: datetime) -> int:
    """Business seconds consumed up to `now`."""
    elapsed = ticket.sla_elapsed_business_seconds or 0
    if ticket.sla_clock_started_at is not None:
        elapsed += calendar.between(ticket.sla_clock_started_at, now)
    return elapsed


def whole_second(moment: datetime) -> datetime:
    """Clock segments start on whole seconds. `between` counts whole seconds, so a fraction at a
    segment's start was lost at every fold and the due times crept later: an unchanged deadline
    looked new after a retarget, and its reminder went out a second time."""
    return moment.replace(microsecond=0)


def fold(ticket: Ticket, calendar: WorkCalendar, now: datetime) -> None:
    """Move the running segment's business time into the elapsed counter; restart it at `now`."""
    if ticket.sla_clock_started_at is not None:
        now = whole_second(now)
        ticket.sla_elapsed_business_seconds = elapsed_at(ticket, calendar, now)
        ticket.sla_clock_started_at = now


def _point(ticket: Ticket, calendar: WorkCalendar, business_seconds: float) -> datetime:
    """When the clock reaches `business_seconds` of consumed time (past instants walk back)."""
    assert ticket.sla_clock_started_at is not None
    remaining = business_seconds - (ticket.sla_elapsed_business_seconds or 0)
    return calendar.add(ticket.sla_clock_started_at, remaining)


def project(ticket: Ticket, targets: Targets, now: datetime) -> None:
    """Due times from the running segment; a breach flag is cleared when the target moved back
    into the future (a lower priority), kept when it is still missed."""
    if not is_running(ticket):
        return
    calendar = targets.calendar
    if ticket.first_response_at is None:
        ticket.first_response_due_at = _point(ticket, calendar, targets.first_response_seconds)
        if ticket.first_response_breached_at and ticket.first_response_due_at > now:
            ticket.first_response_breached_at = None
    ticket.resolution_due_at = _point(ticket, calendar, targets.resolution_seconds)
    if ticket.resolution_breached_at and ticket.resolution_due_at > now:
        ticket.resolution_breached_at = None


def events(ticket: Ticket, targets: Targets | None) -> list[SlaEvent]:
    """Reminders and breaches still ahead of this ticket's clock (nothing while it is stopped)."""
    if targets is None or not is_running(ticket):
        return []
    found: list[SlaEvent] = []
    percent = targets.reminder_percent or 0
    clocks = []
    if ticket.first_response_at is None and ticket.first_response_due_at is not None:
        clocks.append(
            (
                ticket.first_response_due_at,
                ticket.first_response_breached_at,
                targets.first_response_seconds,
                FIRST_RESPONSE_REMINDER,
                FIRST_RESPONSE_BREACH,
            )
        )
    if ticket.resolved_at is None and ticket.resolution_due_at is not None:
        clocks.append(
            (
                ticket.resolution_due_at,
                ticket.resolution_breached_at,
                targets.resolution_seconds,
                RESOLUTION_REMINDER,
                RESOLUTION_BREACH,
            )
        )
    for due_at, breached_at, target, reminder_kind, breach_kind in clocks:
        if breached_at is not None:
            continue
        if 0 < percent < 100:
            remind_at = _point(ticket, targets.calendar, target * percent / 100)
            found.append(SlaEvent(min(remind_at, due_at), reminder_kind, due_at))
        found.append(SlaEvent(due_at, breach_kind, due_at))
    return found


def next_check(ticket: Ticket, targets: Targets | None, *, after: datetime | None = None) -> None:
    """Set `sla_next_check_at` to the earliest pending event (only those after `after`, if given:
    the scan has just handled everything up to then)."""
    moments = [e.at for e in events(ticket, targets) if after is None or e.at > after]
    ticket.sla_next_check_at = min(moments) if moments else None


# --- transitions -------------------------------------------------------------------------------


def start(ticket: Ticket, targets: Targets | None, now: datetime) -> None:
    """A new ticket: the clock starts (even without a policy, so one matched later is fair)."""
    ticket.sla_policy_id = targets.policy_id if targets else None
    ticket.sla_elapsed_business_seconds = 0
    ticket.sla_clock_started_at = whole_second(now)
    ticket.sla_paused_at = None
    ticket.first_response_breached_at = None
    ticket.resolution_breached_at = None
    ticket.first_response_due_at = None
    ticket.resolution_due_at = None
    if targets is not None:
        project(ticket, targets, now)
    next_check(ticket, targets)


def retarget(
    ticket: Ticket,
    *,
    old_calendar: WorkCalendar,
    targets: Targets | None,
    now: datetime,
) -> None:
    """Priority, team or category changed: keep the time consumed so far, apply the new targets."""
    fold(ticket, old_calendar, now)
    ticket.sla_policy_id = targets.policy_id if targets else None
    if targets is None:
        ticket.first_response_due_at = None
        ticket.resolution_due_at = None
        ticket.first_response_breached_at = None
        ticket.resolution_breached_at = None
    else:
        project(ticket, targets, now)
    next_check(ticket, targets)


def pause(ticket: Ticket, calendar: WorkCalendar, now: datetime) -> None:
    """Pending: stop the clock, remember what was consumed; due times stay as they were."""
    if is_running(ticket):
        fold(ticket, calendar, now)
        ticket.sla_clock_started_at = None
    if ticket.sla_paused_at is None:
        ticket.sla_paused_at = now
    ticket.sla_next_check_at = None


def resume(ticket: Ticket, targets: Targets | None, now: datetime) -> None:
    """Back from pending (or reopened): the clock continues from the time already consumed."""
    ticket.sla_paused_at = None
    if not is_running(ticket):
        ticket.sla_clock_started_at = whole_second(now)
    if targets is not None:
        project(ticket, targets, now)
    next_check(ticket, targets)


def stop(ticket: Ticket, calendar: WorkCalendar, now: datetime) -> None:
    """Resolved or closed: the clock stops; a resolution after its due time counts as a breach."""
    fold(ticket, calendar, now)
    ticket.sla_clock_started_at = None
    ticket.sla_paused_at = None
    ticket.sla_next_check_at = None
    resolved_at = ticket.resolved_at or now
    if (
        ticket.resolution_due_at is not None
        and ticket.resolution_breached_at is None
        and resolved_at > ticket.resolution_due_at
    ):
        ticket.resolution_breached_at = ticket.resolution_due_at


def first_response(ticket: Ticket, targets: Targets | None) -> None:
    """The first public agent reply: a late one is recorded as a breach; its events drop."""
    if (
        ticket.first_response_at is not None
        and ticket.first_response_due_at is not None
        and ticket.first_response_breached_at is None
        and ticket.first_response_at > ticket.first_response_due_at
    ):
        ticket.first_response_breached_at = ticket.first_response_due_at
    if is_running(ticket):
        next_check(ticket, targets)

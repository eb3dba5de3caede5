"""Found by bench/chaos/replicas: tickets got their resolution reminder twice. The SLA scan
escalates the priority at a first-response breach; the retarget folds the running clock, and
`between` counts whole seconds, so the fraction of a second at the clock's start was dropped and
every due time moved up to a second later. Reminders are sent once per (ticket, kind, due time):
the "new" due time looked like a new deadline. Clock segments now start on whole seconds."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from core.models import Ticket
from core.sla import engine
from core.sla.calendar import WorkCalendar
from core.sla.engine import Targets

KST = ZoneInfo("Asia/Seoul")
TARGETS = Targets(
    policy_id=1,
    first_response_seconds=60,
    resolution_seconds=120,
    reminder_percent=50,
    calendar=WorkCalendar(),
)


def test_a_retarget_to_the_same_targets_keeps_the_due_times() -> None:
    opened = datetime(2026, 11, 25, 10, 0, 0, 700_000, tzinfo=KST)  # a Wednesday, mid-morning
    ticket = Ticket(id=1, status="new", priority="normal")
    engine.start(ticket, TARGETS, opened)
    first_due, resolution_due = ticket.first_response_due_at, ticket.resolution_due_at
    reminders = {e.kind: e.due_at for e in engine.events(ticket, TARGETS)}
    for step in (61.3, 0.45, 7.99):  # the scan escalates, an agent changes the team, ...
        engine.retarget(
            ticket,
            old_calendar=TARGETS.calendar,
            targets=TARGETS,
            now=opened + timedelta(seconds=step),
        )
        opened += timedelta(seconds=step)
        assert ticket.first_response_due_at == first_due
        assert ticket.resolution_due_at == resolution_due
        assert {e.kind: e.due_at for e in engine.events(ticket, TARGETS)} == reminders

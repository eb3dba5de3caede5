"""SLA rules: which policy a ticket gets, how its clock moves with the ticket's life, and the
periodic scan that sends reminders and breach notices (each exactly once) and escalates.

Policy matching: among ACTIVE policies whose set fields (priority, team, category) all equal the
ticket's, the most specific wins: more matching fields first; on a tie team beats category beats
priority; then the oldest policy. A field left empty on a policy matches anything.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings, get_settings
from core.models import BusinessCalendar, SlaPolicy, Ticket, TicketPriority, TicketStatus, User
from core.notifications import repository as notifications_repository
from core.sla import clock, engine, repository
from core.sla.calendar import WorkCalendar
from core.sla.engine import Targets
from core.tickets import service as tickets

PRIORITY_LADDER = [p.value for p in TicketPriority]  # low, normal, high, urgent


def raised_priority(priority: str) -> str | None:
    """One step up the ladder; None at the top."""
    index = PRIORITY_LADDER.index(priority)
    return PRIORITY_LADDER[index + 1] if index + 1 < len(PRIORITY_LADDER) else None


@dataclass(frozen=True)
class Policy:
    """A snapshot of an SLA policy row (safe to keep after the session commits or expires)."""

    id: int
    priority: str | None
    team_id: int | None
    category_id: int | None
    calendar_id: int | None
    first_response_minutes: int
    resolution_minutes: int
    reminder_percent: int
    escalate_priority: bool
    notify_team_lead: bool
    active: bool

    @classmethod
    def of(cls, row: SlaPolicy) -> Policy:
        return cls(**{f: getattr(row, f) for f in cls.__dataclass_fields__})


def specificity(policy: Policy | SlaPolicy) -> tuple[int, int, int, int, int]:
    fields = (policy.team_id, policy.category_id, policy.priority)
    return (
        sum(f is not None for f in fields),
        policy.team_id is not None,
        policy.category_id is not None,
        policy.priority is not None,
        -policy.id,
    )


def matches(policy: Policy | SlaPolicy, ticket: Ticket) -> bool:
    return (
        policy.active
        and policy.priority in (None, ticket.priority)
        and policy.team_id in (None, ticket.team_id)
        and policy.category_id in (None, ticket.category_id)
    )


def calendar_from_row(row: BusinessCalendar, closed_days: list) -> WorkCalendar:  # type: ignore[type-arg]
    return WorkCalendar(
        timezone=row.timezone,
        weekly_hours=row.weekly_hours,
        use_kr_holidays=row.use_kr_holidays,
        closed_days=closed_days,
    )


CONTEXT_KEY = "sla_context"
CONTEXT_TTL = 10.0  # seconds a session reuses what it loaded (admin changes drop it at once)


class SlaContext:
    """Policies and calendars, loaded once per session for a few seconds: a mail worker opening
    tickets one after another, or a scan batch, does not reread them for every ticket."""

    def __init__(
        self,
        policies: list[Policy],
        calendars: dict[int, WorkCalendar],
        default_calendar: WorkCalendar,
    ) -> None:
        self.policies = {p.id: p for p in policies}
        self.calendars = calendars
        self.default_calendar = default_calendar
        self.loaded_at = time.monotonic()

    @classmethod
    async def load(cls, session: AsyncSession, settings: Settings | None = None) -> SlaContext:
        cached = session.info.get(CONTEXT_KEY)
        if isinstance(cached, SlaContext) and time.monotonic() - cached.loaded_at < CONTEXT_TTL:
            return cached
        settings = settings or get_settings()
        policies = [Policy.of(p) for p in await repository.list_policies(session)]
        rows = await repository.list_calendars(session)
        closed = await repository.closed_days(session, [r.id for r in rows])
        calendars = {r.id: calendar_from_row(r, closed.get(r.id, [])) for r in rows}
        context = cls(policies, calendars, WorkCalendar(timezone=settings.sla_default_timezone))
        session.info[CONTEXT_KEY] = context
        return context

    @staticmethod
    def forget(session: AsyncSession) -> None:
        """Policies or calendars changed in this session: the next handler reloads them."""
        session.info.pop(CONTEXT_KEY, None)

    def match(self, ticket: Ticket) -> Policy | None:
        candidates = [p for p in self.policies.values() if matches(p, ticket)]
        return max(candidates, key=specificity) if candidates else None

    def targets(self, policy: Policy | None) -> Targets | None:
        if policy is None:
            return None
        return Targets(
            policy_id=policy.id,
            first_response_seconds=policy.first_response_minutes * 60,
            resolution_seconds=policy.resolution_minutes * 60,
            reminder_percent=policy.reminder_percent,
            calendar=self.calendars.get(policy.calendar_id or 0, self.default_calendar),
            escalate_priority=policy.escalate_priority,
            notify_team_lead=policy.notify_team_lead,
        )

    def current_targets(self, ticket: Ticket) -> Targets | None:
        """The targets the ticket runs on now (its policy may have been deactivated since)."""
        if ticket.sla_policy_id is None:
            return None
        return self.targets(self.policies.get(ticket.sla_policy_id))

    def calendar_of(self, ticket: Ticket) -> WorkCalendar:
        targets = self.current_targets(ticket)
        return targets.calendar if targets else self.default_calendar


# --- the ticket's life (called by core/sla/handlers.py) ----------------------------------------


async def on_ticket_opening(session: AsyncSession, *, ticket: Ticket, now: datetime) -> None:
    """Before the ticket's INSERT: its clock and targets are written with it."""
    context = await SlaContext.load(session)
    engine.start(ticket, context.targets(context.match(ticket)), now)


async def on_fields_changed(session: AsyncSession, *, ticket: Ticket, now: datetime) -> None:
    """Priority, team or category changed: the time consumed stays, the targets may move."""
    context = await SlaContext.load(session)
    _retarget(ticket, before=context, after=context, now=now)
    await session.flush()


async def on_status_changed(
    session: AsyncSession, *, ticket: Ticket, old_status: str, new_status: str, now: datetime
) -> None:
    context = await SlaContext.load(session)
    calendar = context.calendar_of(ticket)
    if new_status == TicketStatus.pending:
        engine.pause(ticket, calendar, now)
    elif new_status in (TicketStatus.resolved, TicketStatus.closed):
        engine.stop(ticket, calendar, now)
    elif old_status in (TicketStatus.pending, TicketStatus.resolved, TicketStatus.closed):
        engine.resume(ticket, context.current_targets(ticket), now)
    await session.flush()


async def retarget_open_tickets(session: AsyncSession, *, before: SlaContext, now: datetime) -> int:
    """Policies or calendars changed: every open ticket gets the targets it would get now.
    The time it has used so far is counted on the calendar it ran on (`before`, the context
    loaded before the change), the rest on the new one; a breach whose target moved back into
    the future is cleared, one still missed is kept. Returns how many tickets were looked at."""
    after = await SlaContext.load(session)
    open_tickets = await repository.lock_open_tickets(session)
    for ticket in open_tickets:
        _retarget(ticket, before=before, after=after, now=now)
    await session.flush()
    return len(open_tickets)


def _retarget(ticket: Ticket, *, before: SlaContext, after: SlaContext, now: datetime) -> None:
    """Keep the time the ticket used on its calendar under `before`; apply `after`'s targets."""
    engine.retarget(
        ticket,
        old_calendar=before.calendar_of(ticket),
        targets=after.targets(after.match(ticket)),
        now=now,
    )


async def on_first_response(session: AsyncSession, *, ticket: Ticket) -> None:
    context = await SlaContext.load(session)
    engine.first_response(ticket, context.current_targets(ticket))
    await session.flush()


# --- the periodic scan -------------------------------------------------------------------------


@dataclass
class ScanCounts:
    tickets: int = 0
    reminders: int = 0
    breaches: int = 0
    escalations: int = 0
    notices_already_sent: int = 0
    recipients: int = 0

    def add(self, other: ScanCounts) -> None:
        for key, value in asdict(other).items():
            setattr(self, key, getattr(self, key) + value)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class Audience:
    """Who hears about a ticket's SLA events; team rosters are read once per scan batch."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._staff: dict[int, list[User]] = {}
        self._leads: dict[int, User | None] = {}
        self._admins: list[User] | None = None

    async def staff(self, team_id: int) -> list[User]:
        if team_id not in self._staff:
            self._staff[team_id] = await notifications_repository.team_agents(
                self.session, team_id=team_id
            )
        return self._staff[team_id]

    async def lead(self, team_id: int) -> User | None:
        if team_id not in self._leads:
            self._leads[team_id] = await repository.team_lead(self.session, team_id)
        return self._leads[team_id]

    async def admins(self) -> list[User]:
        if self._admins is None:
            self._admins = await repository.active_admins(self.session)
        return self._admins

    async def recipients(
        self, ticket: Ticket, *, breach: bool, notify_team_lead: bool
    ) -> list[User]:
        """The assignee; else the team's agents; else its lead; else the admins. A breach also
        goes to the team lead when the policy says so."""
        people: list[User] = []
        if ticket.assignee_id is not None:
            assignee = await repository.get_user(self.session, ticket.assignee_id)
            if assignee is not None and assignee.active:
                people.append(assignee)
        lead = await self.lead(ticket.team_id) if ticket.team_id is not None else None
        if not people and ticket.team_id is not None:
            people = list(await self.staff(ticket.team_id))
            if not people and lead is not None:
                people = [lead]
        if not people:
            people = list(await self.admins())
        if breach and notify_team_lead and lead is not None and lead not in people:
            people.append(lead)
        return people


async def _notify(
    session: AsyncSession, *, ticket: Ticket, kind: str, recipients: list[User], due_at: datetime
) -> None:
    # Mail (through the outbox) and in-app rows, written by the notifications service in this
    # same transaction: the notice, its mail and the ticket's new state commit together.
    from core.notifications.service import notify_sla

    await notify_sla(session, ticket=ticket, kind=kind, recipients=recipients, due_at=due_at)


async def process_due(
    session: AsyncSession, *, now: datetime, limit: int = 500, settings: Settings | None = None
) -> ScanCounts:
    """Handle one batch of tickets whose next SLA event is due at `now`; only flushes."""
    counts = ScanCounts()
    due_tickets = await repository.lock_due_tickets(session, now=now, limit=limit)
    if not due_tickets:
        return counts
    context = await SlaContext.load(session, settings)
    audience = Audience(session)
    with clock.frozen(now):
        for ticket in due_tickets:
            await _process_ticket(session, context, audience, ticket, now, counts)
    await session.flush()
    return counts


async def _process_ticket(
    session: AsyncSession,
    context: SlaContext,
    audience: Audience,
    ticket: Ticket,
    now: datetime,
    counts: ScanCounts,
) -> None:
    counts.tickets += 1
    targets = context.current_targets(ticket)
    escalate = False
    for event in engine.events(ticket, targets):
        if event.at > now:
            continue
        if not event.is_breach and event.due_at <= now:
            continue  # already past due: the breach notice says it all
        if event.is_breach:
            assert targets is not None
            if event.kind == engine.FIRST_RESPONSE_BREACH:
                ticket.first_response_breached_at = event.due_at
            else:
                ticket.resolution_breached_at = event.due_at
            counts.breaches += 1
            escalate = escalate or targets.escalate_priority
            await tickets.record(
                session,
                ticket,
                "sla_breached",
                data={"kind": event.kind, "due_at": event.due_at.isoformat()},
            )
        else:
            counts.reminders += 1
        if not await repository.insert_notice(
            session, ticket_id=ticket.id, kind=event.kind, due_at=event.due_at
        ):
            counts.notices_already_sent += 1
            continue
        people = await audience.recipients(
            ticket,
            breach=event.is_breach,
            notify_team_lead=bool(targets and targets.notify_team_lead),
        )
        counts.recipients += len(people)
        await _notify(
            session, ticket=ticket, kind=event.kind, recipients=people, due_at=event.due_at
        )
    engine.next_check(ticket, targets, after=now)
    higher = raised_priority(ticket.priority) if escalate else None
    if higher is not None:
        # Through the ticket service: the change is in the history and announced like any other;
        # the SLA handler then retargets the clock for the new priority at the scan's `now`.
        await tickets.update_fields(session, ticket=ticket, actor=None, priority=higher)
        await tickets.record(session, ticket, "sla_escalated", data={"priority": higher})
        counts.escalations += 1

"""All SQL about SLA policies, calendars, notices and the due-ticket scan."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import (
    BusinessCalendar,
    CalendarHoliday,
    Role,
    SlaNotice,
    SlaPolicy,
    Team,
    Ticket,
    TicketStatus,
    User,
)

# --- policies ----------------------------------------------------------------------------------


async def list_policies(session: AsyncSession, *, active_only: bool = False) -> list[SlaPolicy]:
    statement = select(SlaPolicy).order_by(SlaPolicy.id)
    if active_only:
        statement = statement.where(SlaPolicy.active.is_(True))
    return list(await session.scalars(statement))


async def get_policy(session: AsyncSession, policy_id: int) -> SlaPolicy | None:
    return await session.get(SlaPolicy, policy_id)


async def get_policy_by_name(session: AsyncSession, name: str) -> SlaPolicy | None:
    return await session.scalar(select(SlaPolicy).where(SlaPolicy.name == name))


async def add(session: AsyncSession, row: SlaPolicy | BusinessCalendar | CalendarHoliday) -> None:
    session.add(row)
    await session.flush()


async def delete_row(session: AsyncSession, row: object) -> None:
    await session.delete(row)
    await session.flush()


# --- calendars and holidays --------------------------------------------------------------------


async def list_calendars(session: AsyncSession) -> list[BusinessCalendar]:
    return list(await session.scalars(select(BusinessCalendar).order_by(BusinessCalendar.id)))


async def get_calendar(session: AsyncSession, calendar_id: int) -> BusinessCalendar | None:
    return await session.get(BusinessCalendar, calendar_id)


async def get_calendar_by_name(session: AsyncSession, name: str) -> BusinessCalendar | None:
    return await session.scalar(select(BusinessCalendar).where(BusinessCalendar.name == name))


async def closed_days(session: AsyncSession, calendar_ids: Iterable[int]) -> dict[int, list[date]]:
    ids = list(calendar_ids)
    found: dict[int, list[date]] = defaultdict(list)
    if ids:
        rows = await session.execute(
            select(CalendarHoliday.calendar_id, CalendarHoliday.day).where(
                CalendarHoliday.calendar_id.in_(ids)
            )
        )
        for calendar_id, day in rows:
            found[calendar_id].append(day)
    return found


async def list_holidays(session: AsyncSession, calendar_id: int) -> list[CalendarHoliday]:
    return list(
        await session.scalars(
            select(CalendarHoliday)
            .where(CalendarHoliday.calendar_id == calendar_id)
            .order_by(CalendarHoliday.day)
        )
    )


async def get_holiday(
    session: AsyncSession, *, calendar_id: int, holiday_id: int
) -> CalendarHoliday | None:
    return await session.scalar(
        select(CalendarHoliday).where(
            CalendarHoliday.id == holiday_id, CalendarHoliday.calendar_id == calendar_id
        )
    )


async def get_holiday_by_day(
    session: AsyncSession, *, calendar_id: int, day: date
) -> CalendarHoliday | None:
    return await session.scalar(
        select(CalendarHoliday).where(
            CalendarHoliday.calendar_id == calendar_id, CalendarHoliday.day == day
        )
    )


async def policies_using_calendar(session: AsyncSession, calendar_id: int) -> int:
    rows = await session.scalars(select(SlaPolicy.id).where(SlaPolicy.calendar_id == calendar_id))
    return len(list(rows))


async def lock_open_tickets(session: AsyncSession) -> list[Ticket]:
    """Every ticket whose SLA can still change (not resolved or closed), locked in id order, so
    an agent's change to one of them waits for its new targets instead of racing them."""
    result = await session.scalars(
        select(Ticket)
        .where(Ticket.status.not_in((TicketStatus.resolved.value, TicketStatus.closed.value)))
        .order_by(Ticket.id)
        .with_for_update()
    )
    return list(result)


# --- the scan ----------------------------------------------------------------------------------


async def lock_due_tickets(session: AsyncSession, *, now: datetime, limit: int) -> list[Ticket]:
    """Tickets whose next reminder or breach is due, oldest first, through the partial index
    ix_tickets_sla_next_check; rows another scanner holds are skipped, not waited for."""
    rows = await session.scalars(
        select(Ticket)
        .where(Ticket.sla_next_check_at.is_not(None), Ticket.sla_next_check_at <= now)
        .order_by(Ticket.sla_next_check_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(rows)


async def insert_notice(
    session: AsyncSession, *, ticket_id: int, kind: str, due_at: datetime, note: str | None = None
) -> bool:
    """Record a notice; False when it was already recorded (the unique key makes it once)."""
    inserted = await session.scalar(
        insert(SlaNotice)
        .values(ticket_id=ticket_id, kind=kind, due_at=due_at, note=note)
        .on_conflict_do_nothing(index_elements=["ticket_id", "kind", "due_at"])
        .returning(SlaNotice.id)
    )
    return inserted is not None


async def list_notices(session: AsyncSession, ticket_id: int) -> list[SlaNotice]:
    return list(
        await session.scalars(
            select(SlaNotice).where(SlaNotice.ticket_id == ticket_id).order_by(SlaNotice.id)
        )
    )


# --- who hears about it ------------------------------------------------------------------------


async def get_user(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def team_lead(session: AsyncSession, team_id: int) -> User | None:
    return await session.scalar(
        select(User)
        .join(Team, Team.lead_id == User.id)
        .where(Team.id == team_id, User.active.is_(True))
    )


async def active_admins(session: AsyncSession) -> list[User]:
    return list(
        await session.scalars(
            select(User)
            .where(User.role == Role.admin.value, User.active.is_(True))
            .order_by(User.id)
        )
    )


async def delete_holiday_row(session: AsyncSession, holiday: CalendarHoliday) -> None:
    await session.execute(delete(CalendarHoliday).where(CalendarHoliday.id == holiday.id))

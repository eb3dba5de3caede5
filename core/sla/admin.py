"""Admin rules for SLA policies, business calendars and their closed days.

Every change that can move a due time (a policy created, edited or deleted; a calendar's hours,
timezone or closed days) recomputes the open tickets' targets in the same transaction, as
Zammad and osTicket do: an admin who shortens the first-response target sees the queue's due
times move at once. Resolved and closed tickets keep what they had."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, Invalid, NotFound
from core.models import BusinessCalendar, CalendarHoliday, Category, SlaPolicy, Team
from core.sla import clock, repository, schemas
from core.sla.calendar import korean_holiday_names, parse_weekly_hours, validate_timezone
from core.sla.service import SlaContext, retarget_open_tickets

logger = logging.getLogger(__name__)


async def _rules_before_change(session: AsyncSession) -> SlaContext:
    """The policies and calendars as they are now: the open tickets' time so far was counted on
    them."""
    return await SlaContext.load(session)


async def _retarget(session: AsyncSession, before: SlaContext) -> None:
    """After the change: the rules are read afresh and every open ticket is retargeted."""
    await session.flush()
    SlaContext.forget(session)
    count = await retarget_open_tickets(session, before=before, now=clock.now())
    logger.info("SLA rules changed: %d open tickets retargeted", count)


async def list_policies(session: AsyncSession) -> list[SlaPolicy]:
    return await repository.list_policies(session)


async def get_policy(session: AsyncSession, policy_id: int) -> SlaPolicy:
    policy = await repository.get_policy(session, policy_id)
    if policy is None:
        raise NotFound(f"no SLA policy {policy_id}")
    return policy


async def _check_references(
    session: AsyncSession, *, team_id: int | None, category_id: int | None, calendar_id: int | None
) -> None:
    for model, value, label in (
        (Team, team_id, "team"),
        (Category, category_id, "category"),
        (BusinessCalendar, calendar_id, "calendar"),
    ):
        if value is not None and await session.get(model, value) is None:
            raise Invalid(f"no {label} {value}")


async def create_policy(session: AsyncSession, data: schemas.SlaPolicyCreate) -> SlaPolicy:
    before = await _rules_before_change(session)
    if await repository.get_policy_by_name(session, data.name.strip()) is not None:
        raise Conflict(f"an SLA policy named {data.name!r} already exists")
    await _check_references(
        session, team_id=data.team_id, category_id=data.category_id, calendar_id=data.calendar_id
    )
    values = data.model_dump()
    values["name"] = data.name.strip()
    values["priority"] = data.priority.value if data.priority else None
    policy = SlaPolicy(**values)
    await repository.add(session, policy)
    await _retarget(session, before)
    await session.refresh(policy)
    return policy


async def update_policy(
    session: AsyncSession, policy_id: int, data: schemas.SlaPolicyUpdate
) -> SlaPolicy:
    before = await _rules_before_change(session)
    policy = await get_policy(session, policy_id)
    changes = {k: getattr(data, k) for k in data.model_fields_set}
    for required in (
        "name",
        "first_response_minutes",
        "resolution_minutes",
        "reminder_percent",
        "escalate_priority",
        "notify_team_lead",
        "active",
    ):
        if required in changes and changes[required] is None:
            raise Invalid(f"{required} cannot be null")
    if "name" in changes:
        changes["name"] = changes["name"].strip()
        other = await repository.get_policy_by_name(session, changes["name"])
        if other is not None and other.id != policy.id:
            raise Conflict(f"an SLA policy named {changes['name']!r} already exists")
    await _check_references(
        session,
        team_id=changes.get("team_id"),
        category_id=changes.get("category_id"),
        calendar_id=changes.get("calendar_id"),
    )
    if changes.get("priority") is not None:
        changes["priority"] = changes["priority"].value
    for key, value in changes.items():
        setattr(policy, key, value)
    await _retarget(session, before)
    await session.refresh(policy)
    return policy


async def delete_policy(session: AsyncSession, policy_id: int) -> None:
    """Its open tickets move to the policy that matches them now (or to none: no targets)."""
    before = await _rules_before_change(session)
    await repository.delete_row(session, await get_policy(session, policy_id))
    await _retarget(session, before)


# --- calendars ---------------------------------------------------------------------------------


def _validated_hours(weekly_hours: dict) -> dict:  # type: ignore[type-arg]
    parse_weekly_hours(weekly_hours)
    if not any(weekly_hours.get(str(d)) for d in range(7)):
        raise Invalid("a calendar needs some opening hours")
    return weekly_hours


async def list_calendars(session: AsyncSession) -> list[BusinessCalendar]:
    return await repository.list_calendars(session)


async def get_calendar(session: AsyncSession, calendar_id: int) -> BusinessCalendar:
    calendar = await repository.get_calendar(session, calendar_id)
    if calendar is None:
        raise NotFound(f"no calendar {calendar_id}")
    return calendar


async def create_calendar(
    session: AsyncSession, data: schemas.BusinessCalendarCreate
) -> BusinessCalendar:
    SlaContext.forget(session)
    name = data.name.strip()
    if await repository.get_calendar_by_name(session, name) is not None:
        raise Conflict(f"a calendar named {name!r} already exists")
    validate_timezone(data.timezone)
    calendar = BusinessCalendar(
        name=name,
        timezone=data.timezone,
        weekly_hours=_validated_hours(data.weekly_hours),
        use_kr_holidays=data.use_kr_holidays,
    )
    await repository.add(session, calendar)
    await session.refresh(calendar)
    return calendar


async def update_calendar(
    session: AsyncSession, calendar_id: int, data: schemas.BusinessCalendarUpdate
) -> BusinessCalendar:
    before = await _rules_before_change(session)
    calendar = await get_calendar(session, calendar_id)
    changes = {k: getattr(data, k) for k in data.model_fields_set}
    if any(value is None for value in changes.values()):
        raise Invalid("calendar fields cannot be null")
    if "name" in changes:
        changes["name"] = changes["name"].strip()
        other = await repository.get_calendar_by_name(session, changes["name"])
        if other is not None and other.id != calendar.id:
            raise Conflict(f"a calendar named {changes['name']!r} already exists")
    if "timezone" in changes:
        validate_timezone(changes["timezone"])
    if "weekly_hours" in changes:
        _validated_hours(changes["weekly_hours"])
    for key, value in changes.items():
        setattr(calendar, key, value)
    await _retarget(session, before)
    return calendar


async def delete_calendar(session: AsyncSession, calendar_id: int) -> None:
    SlaContext.forget(session)
    calendar = await get_calendar(session, calendar_id)
    if await repository.policies_using_calendar(session, calendar_id):
        raise Conflict("SLA policies use this calendar; point them elsewhere first")
    await repository.delete_row(session, calendar)


# --- closed days -------------------------------------------------------------------------------


async def list_holidays(
    session: AsyncSession, calendar_id: int, *, year: int | None = None
) -> list[schemas.Holiday]:
    """The calendar's own closed days; with `year`, also that year's Korean public holidays."""
    calendar = await get_calendar(session, calendar_id)
    items = [
        schemas.Holiday.model_validate(h)
        for h in await repository.list_holidays(session, calendar_id)
    ]
    if year is not None:
        items = [h for h in items if h.day.year == year]
        if calendar.use_kr_holidays:
            items += [
                schemas.Holiday(id=None, calendar_id=calendar_id, day=day, name=name, source="kr")
                for day, name in korean_holiday_names(year).items()
            ]
    return sorted(items, key=lambda h: (h.day, h.source))


async def add_holiday(
    session: AsyncSession, calendar_id: int, data: schemas.HolidayCreate
) -> CalendarHoliday:
    before = await _rules_before_change(session)
    await get_calendar(session, calendar_id)
    if await repository.get_holiday_by_day(session, calendar_id=calendar_id, day=data.day):
        raise Conflict(f"{data.day} is already a closed day of this calendar")
    holiday = CalendarHoliday(calendar_id=calendar_id, day=data.day, name=data.name.strip())
    await repository.add(session, holiday)
    await _retarget(session, before)
    return holiday


async def delete_holiday(session: AsyncSession, calendar_id: int, holiday_id: int) -> None:
    before = await _rules_before_change(session)
    holiday = await repository.get_holiday(session, calendar_id=calendar_id, holiday_id=holiday_id)
    if holiday is None:
        raise NotFound(f"no closed day {holiday_id} in calendar {calendar_id}")
    await repository.delete_holiday_row(session, holiday)
    await _retarget(session, before)

"""SLA administration: policies, business calendars and their closed days (admins only).
The rules are in core/sla/admin.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from api.deps import AdminUser, SessionDep
from core.sla import admin
from core.sla.schemas import (
    MAX_ID,
    BusinessCalendar,
    BusinessCalendarCreate,
    BusinessCalendarUpdate,
    Holiday,
    HolidayCreate,
    SlaPolicy,
    SlaPolicyCreate,
    SlaPolicyUpdate,
)

router = APIRouter(prefix="/api/v1/admin", tags=["sla"])

PolicyId = Annotated[int, Path(ge=1, le=MAX_ID)]
CalendarId = Annotated[int, Path(ge=1, le=MAX_ID)]
HolidayId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("/sla-policies", response_model=list[SlaPolicy])
async def list_sla_policies(admin_user: AdminUser, session: SessionDep) -> list[SlaPolicy]:
    """Every SLA policy. The most specific active policy matching a ticket's priority, team and
    category applies (more matching fields first; team > category > priority on a tie)."""
    return [SlaPolicy.model_validate(p) for p in await admin.list_policies(session)]


@router.post("/sla-policies", response_model=SlaPolicy, status_code=201)
async def create_sla_policy(
    body: SlaPolicyCreate, admin_user: AdminUser, session: SessionDep
) -> SlaPolicy:
    """A new policy: targets in business minutes of its calendar."""
    return SlaPolicy.model_validate(await admin.create_policy(session, body))


@router.patch("/sla-policies/{policy_id}", response_model=SlaPolicy)
async def update_sla_policy(
    policy_id: PolicyId, body: SlaPolicyUpdate, admin_user: AdminUser, session: SessionDep
) -> SlaPolicy:
    """Change a policy; tickets already running on it keep their due times until they change."""
    return SlaPolicy.model_validate(await admin.update_policy(session, policy_id, body))


@router.delete("/sla-policies/{policy_id}", status_code=204, response_class=Response)
async def delete_sla_policy(
    policy_id: PolicyId, admin_user: AdminUser, session: SessionDep
) -> None:
    """Delete a policy (deactivating it keeps its history readable)."""
    await admin.delete_policy(session, policy_id)


@router.get("/calendars", response_model=list[BusinessCalendar])
async def list_calendars(admin_user: AdminUser, session: SessionDep) -> list[BusinessCalendar]:
    """Business calendars: timezone, weekly opening hours, whether Korean holidays are closed."""
    return [BusinessCalendar.model_validate(c) for c in await admin.list_calendars(session)]


@router.post("/calendars", response_model=BusinessCalendar, status_code=201)
async def create_calendar(
    body: BusinessCalendarCreate, admin_user: AdminUser, session: SessionDep
) -> BusinessCalendar:
    """A new calendar (default: Monday-Friday 09:00-18:00 Asia/Seoul, Korean holidays closed)."""
    return BusinessCalendar.model_validate(await admin.create_calendar(session, body))


@router.patch("/calendars/{calendar_id}", response_model=BusinessCalendar)
async def update_calendar(
    calendar_id: CalendarId,
    body: BusinessCalendarUpdate,
    admin_user: AdminUser,
    session: SessionDep,
) -> BusinessCalendar:
    """Change a calendar's name, timezone, hours or holiday rule."""
    return BusinessCalendar.model_validate(await admin.update_calendar(session, calendar_id, body))


@router.delete("/calendars/{calendar_id}", status_code=204, response_class=Response)
async def delete_calendar(
    calendar_id: CalendarId, admin_user: AdminUser, session: SessionDep
) -> None:
    """Delete a calendar no policy uses (409 otherwise)."""
    await admin.delete_calendar(session, calendar_id)


@router.get("/calendars/{calendar_id}/holidays", response_model=list[Holiday])
async def list_holidays(
    calendar_id: CalendarId,
    admin_user: AdminUser,
    session: SessionDep,
    year: Annotated[
        int | None,
        Query(ge=1990, le=2100, description="only this year, with its Korean public holidays"),
    ] = None,
) -> list[Holiday]:
    """The calendar's own closed days (source "custom"); with `year`, also the Korean public
    holidays it observes (source "kr", substitute and lunar holidays included)."""
    return await admin.list_holidays(session, calendar_id, year=year)


@router.post("/calendars/{calendar_id}/holidays", response_model=Holiday, status_code=201)
async def add_holiday(
    calendar_id: CalendarId, body: HolidayCreate, admin_user: AdminUser, session: SessionDep
) -> Holiday:
    """Close the calendar on one more day (a foundation day, a campus-wide closure)."""
    return Holiday.model_validate(await admin.add_holiday(session, calendar_id, body))


@router.delete(
    "/calendars/{calendar_id}/holidays/{holiday_id}", status_code=204, response_class=Response
)
async def delete_holiday(
    calendar_id: CalendarId, holiday_id: HolidayId, admin_user: AdminUser, session: SessionDep
) -> None:
    """Reopen a custom closed day."""
    await admin.delete_holiday(session, calendar_id, holiday_id)

"""Request and response shapes of the SLA admin API (names are the OpenAPI schema names)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.models import TicketPriority
from core.sla.calendar import DEFAULT_TIMEZONE, DEFAULT_WEEKLY_HOURS

MAX_ID = 2**63 - 1
MAX_MINUTES = 60 * 24 * 365  # a year of business minutes is already absurd
WeeklyHours = dict[str, list[list[str]]]


class SlaPolicy(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    priority: TicketPriority | None
    team_id: int | None
    category_id: int | None
    calendar_id: int | None
    first_response_minutes: int
    resolution_minutes: int
    reminder_percent: int
    escalate_priority: bool
    notify_team_lead: bool
    active: bool
    created_at: datetime
    updated_at: datetime


class SlaPolicyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    priority: TicketPriority | None = Field(default=None, description="empty matches any")
    team_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="empty matches any")
    category_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="empty: any")
    calendar_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="empty: Mon-Fri 09-18 Asia/Seoul + holidays"
    )
    first_response_minutes: int = Field(ge=1, le=MAX_MINUTES, description="business minutes")
    resolution_minutes: int = Field(ge=1, le=MAX_MINUTES, description="business minutes")
    reminder_percent: int = Field(
        default=75, ge=0, le=99, description="remind at this share of the target; 0: no reminder"
    )
    escalate_priority: bool = Field(default=True, description="raise priority one step at breach")
    notify_team_lead: bool = Field(default=True, description="breach notices also to the lead")
    active: bool = True


class SlaPolicyUpdate(BaseModel):
    """Only the fields sent change; send null to clear priority/team/category/calendar."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    priority: TicketPriority | None = None
    team_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    category_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    calendar_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    first_response_minutes: int | None = Field(default=None, ge=1, le=MAX_MINUTES)
    resolution_minutes: int | None = Field(default=None, ge=1, le=MAX_MINUTES)
    reminder_percent: int | None = Field(default=None, ge=0, le=99)
    escalate_priority: bool | None = None
    notify_team_lead: bool | None = None
    active: bool | None = None


class BusinessCalendar(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    timezone: str
    weekly_hours: WeeklyHours
    use_kr_holidays: bool
    created_at: datetime


class BusinessCalendarCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    timezone: str = Field(default=DEFAULT_TIMEZONE, max_length=64)
    weekly_hours: WeeklyHours = Field(
        default_factory=lambda: {k: [list(p) for p in v] for k, v in DEFAULT_WEEKLY_HOURS.items()},
        description='weekday "0" (Monday) .. "6" -> [["09:00", "18:00"], ...]',
    )
    use_kr_holidays: bool = Field(default=True, description="Korean public holidays are closed")


class BusinessCalendarUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = Field(default=None, max_length=64)
    weekly_hours: WeeklyHours | None = None
    use_kr_holidays: bool | None = None


class Holiday(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int | None = Field(description="null for Korean public holidays (not deletable)")
    calendar_id: int
    day: date
    name: str
    source: Literal["custom", "kr"] = "custom"


class HolidayCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    day: date
    name: str = Field(default="", max_length=200)

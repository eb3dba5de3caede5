from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, created_at_column, id_column, updated_at_column

# Monday..Friday 09:00-18:00, the usual Korean office day.
DEFAULT_WEEKLY_HOURS = (
    '{"0": [["09:00", "18:00"]], "1": [["09:00", "18:00"]], "2": [["09:00", "18:00"]], '
    '"3": [["09:00", "18:00"]], "4": [["09:00", "18:00"]], "5": [], "6": []}'
)


class BusinessCalendar(Base):
    __tablename__ = "business_calendars"

    id: Mapped[int] = id_column()
    name: Mapped[str] = mapped_column(String(200), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), server_default="Asia/Seoul")
    # {"0": [["09:00","18:00"]], ...} keyed by ISO weekday-1 (0 = Monday).
    weekly_hours: Mapped[dict[str, Any]] = mapped_column(
        JSONB, server_default=text(f"'{DEFAULT_WEEKLY_HOURS}'::jsonb")
    )
    # Korean public holidays from the `holidays` package (lunar and substitute days included).
    use_kr_holidays: Mapped[bool] = mapped_column(Boolean, server_default=true())
    created_at: Mapped[datetime] = created_at_column()


class CalendarHoliday(Base):
    """Custom closed days (the university's foundation day, a campus-wide closure)."""

    __tablename__ = "calendar_holidays"
    __table_args__ = (UniqueConstraint("calendar_id", "day"),)

    id: Mapped[int] = id_column()
    calendar_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("business_calendars.id", ondelete="CASCADE")
    )
    day: Mapped[date] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(200), server_default="")


class SlaPolicy(Base):
    """Targets in business minutes; the most specific active policy that matches wins."""

    __tablename__ = "sla_policies"

    id: Mapped[int] = id_column()
    name: Mapped[str] = mapped_column(String(200), unique=True)
    priority: Mapped[str | None] = mapped_column(String(16))
    team_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("teams.id", ondelete="CASCADE")
    )
    category_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("categories.id", ondelete="CASCADE")
    )
    calendar_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("business_calendars.id", ondelete="SET NULL")
    )
    first_response_minutes: Mapped[int] = mapped_column(Integer)
    resolution_minutes: Mapped[int] = mapped_column(Integer)
    reminder_percent: Mapped[int] = mapped_column(Integer, server_default=text("75"))
    escalate_priority: Mapped[bool] = mapped_column(Boolean, server_default=true())
    notify_team_lead: Mapped[bool] = mapped_column(Boolean, server_default=true())
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class SlaNotice(Base):
    """A reminder or breach notice that was sent; the unique key makes each one exactly once,
    even with two scheduler processes or a retried tick."""

    __tablename__ = "sla_notices"
    __table_args__ = (UniqueConstraint("ticket_id", "kind", "due_at"),)

    id: Mapped[int] = id_column()
    ticket_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("tickets.id", ondelete="CASCADE"))
    # first_response_reminder | first_response_breach | resolution_reminder | resolution_breach
    kind: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[datetime]
    created_at: Mapped[datetime] = created_at_column()
    note: Mapped[str | None] = mapped_column(Text)

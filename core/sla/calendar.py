"""Business time: weekly opening hours in a calendar's timezone, minus Korean public holidays
(the `holidays` package: lunar Seollal and Chuseok, substitute holidays, election days) and the
calendar's own closed days.

All instants in and out are timezone-aware; the walk happens in the calendar's local time, one day
at a time, so a target of 8 business hours set on Friday at 17:00 falls due on Monday at 16:00.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from core.errors import Invalid

DEFAULT_TIMEZONE = "Asia/Seoul"
DEFAULT_WEEKLY_HOURS: dict[str, list[list[str]]] = {
    **{str(day): [["09:00", "18:00"]] for day in range(5)},
    "5": [],
    "6": [],
}
# A calendar whose hours never open would walk forever; ten years is "never".
MAX_DAYS_WALKED = 3660
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")


@lru_cache(maxsize=64)
def korean_holidays(year: int) -> frozenset[date]:
    """Korean public holidays of one year, substitute holidays included."""
    return frozenset(holidays.country_holidays("KR", years=year).keys())


def korean_holiday_names(year: int) -> dict[date, str]:
    return dict(holidays.country_holidays("KR", years=year, language="ko").items())


def _seconds(hhmm: str) -> int:
    if not isinstance(hhmm, str) or not _HHMM.match(hhmm):
        raise Invalid(f"opening hours must be HH:MM (00:00-24:00), got {hhmm!r}")
    hours, minutes = hhmm.split(":")
    return int(hours) * 3600 + int(minutes) * 60


def parse_weekly_hours(raw: Mapping[str, Any]) -> tuple[tuple[tuple[int, int], ...], ...]:
    """{"0": [["09:00","18:00"]], ...} keyed by weekday (0 = Monday) -> seconds from midnight.

    Missing days are closed; intervals must not overlap."""
    if not isinstance(raw, Mapping):
        raise Invalid("weekly_hours must map weekday 0-6 (Monday = 0) to [[start, end], ...]")
    unknown = set(map(str, raw)) - {str(d) for d in range(7)}
    if unknown:
        raise Invalid(f"weekly_hours keys are weekdays 0-6 (Monday = 0), not {sorted(unknown)}")
    week: list[tuple[tuple[int, int], ...]] = []
    for day in range(7):
        intervals = []
        for pair in raw.get(str(day)) or []:
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                raise Invalid(f"weekday {day}: each interval is [start, end], got {pair!r}")
            start, end = _seconds(pair[0]), _seconds(pair[1])
            if start >= end:
                raise Invalid(f"weekday {day}: {pair[0]}-{pair[1]} ends before it starts")
            intervals.append((start, end))
        intervals.sort()
        for (_, end), (start, _) in itertools.pairwise(intervals):
            if start < end:
                raise Invalid(f"weekday {day}: opening hours overlap")
        week.append(tuple(intervals))
    return tuple(week)


def validate_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise Invalid(f"unknown timezone {name!r}") from exc


class WorkCalendar:
    """Business hours of one calendar; cheap to build, caches each day's intervals."""

    def __init__(
        self,
        *,
        timezone: str = DEFAULT_TIMEZONE,
        weekly_hours: Mapping[str, Any] | None = None,
        use_kr_holidays: bool = True,
        closed_days: Iterable[date] = (),
    ) -> None:
        self.tz = validate_timezone(timezone)
        self.week = parse_weekly_hours(
            DEFAULT_WEEKLY_HOURS if weekly_hours is None else weekly_hours
        )
        self.use_kr_holidays = use_kr_holidays
        self.closed_days = frozenset(closed_days)
        self._days: dict[date, tuple[tuple[datetime, datetime], ...]] = {}

    def is_closed(self, day: date) -> bool:
        if day in self.closed_days:
            return True
        return self.use_kr_holidays and day in korean_holidays(day.year)

    def intervals(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The day's opening intervals as UTC instants (empty on weekends and holidays)."""
        cached = self._days.get(day)
        if cached is not None:
            return cached
        result: tuple[tuple[datetime, datetime], ...] = ()
        if not self.is_closed(day):
            result = tuple(
                (self._instant(day, start), self._instant(day, end))
                for start, end in self.week[day.weekday()]
            )
        if len(self._days) > 4096:
            self._days.clear()
        self._days[day] = result
        return result

    def _instant(self, day: date, seconds: int) -> datetime:
        if seconds >= 86400:
            day, seconds = day + timedelta(days=1), seconds - 86400
        local = datetime.combine(day, time(seconds // 3600, seconds % 3600 // 60), self.tz)
        return local.astimezone(UTC)

    def _local_day(self, moment: datetime) -> date:
        if moment.tzinfo is None:
            raise ValueError("business-time maths needs timezone-aware datetimes")
        return moment.astimezone(self.tz).date()

    def add(self, start: datetime, seconds: float) -> datetime:
        """The instant `seconds` business seconds after `start` (before it, if negative)."""
        if seconds == 0:
            return start
        if seconds < 0:
            return self._subtract(start, -seconds)
        remaining = float(seconds)
        day = self._local_day(start)
        for _ in range(MAX_DAYS_WALKED):
            for opens, closes in self.intervals(day):
                if closes <= start:
                    continue
                opens = max(opens, start)
                span = (closes - opens).total_seconds()
                if remaining <= span:
                    return opens + timedelta(seconds=remaining)
                remaining -= span
            day += timedelta(days=1)
        raise Invalid("this calendar has no business hours: a due time can never be reached")

    def _subtract(self, end: datetime, seconds: float) -> datetime:
        remaining = float(seconds)
        day = self._local_day(end)
        for _ in range(MAX_DAYS_WALKED):
            for opens, closes in reversed(self.intervals(day)):
                if opens >= end:
                    continue
                closes = min(closes, end)
                span = (closes - opens).total_seconds()
                if remaining <= span:
                    return closes - timedelta(seconds=remaining)
                remaining -= span
            day -= timedelta(days=1)
        raise Invalid("this calendar has no business hours")

    def between(self, start: datetime, end: datetime) -> int:
        """Whole business seconds in [start, end); 0 when end is not after start."""
        if end <= start:
            return 0
        total = 0.0
        day, last = self._local_day(start), self._local_day(end)
        while day <= last:
            for opens, closes in self.intervals(day):
                overlap = (min(closes, end) - max(opens, start)).total_seconds()
                if overlap > 0:
                    total += overlap
            day += timedelta(days=1)
        return int(total)

"""Business-time maths on the default calendar (Mon-Fri 09:00-18:00 Asia/Seoul, Korean holidays)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import Invalid
from core.sla.calendar import WorkCalendar, korean_holidays

KST = ZoneInfo("Asia/Seoul")
HOUR = 3600


def kst(*args: int) -> datetime:
    return datetime(*args, tzinfo=KST)


CAL = WorkCalendar()


def test_across_a_weekend() -> None:
    friday = kst(2026, 11, 27, 16, 0)
    assert CAL.add(friday, 4 * HOUR) == kst(2026, 11, 30, 11, 0)
    assert CAL.add(friday, 16 * HOUR) == kst(2026, 12, 1, 14, 0)
    assert CAL.between(friday, kst(2026, 11, 30, 11, 0)) == 4 * HOUR


def test_across_chuseok_2026() -> None:
    # Wed 23 Sep at 15:00: 3 hours left that day; Thu 24 - Sat 26 is Chuseok, then Sunday.
    assert {date(2026, 9, 24), date(2026, 9, 25), date(2026, 9, 26)} <= korean_holidays(2026)
    start = kst(2026, 9, 23, 15, 0)
    assert CAL.add(start, 4 * HOUR) == kst(2026, 9, 28, 10, 0)
    assert CAL.between(start, kst(2026, 9, 28, 10, 0)) == 4 * HOUR
    without_holidays = WorkCalendar(use_kr_holidays=False)
    assert without_holidays.add(start, 4 * HOUR) == kst(2026, 9, 24, 10, 0)


def test_substitute_holiday() -> None:
    # National Foundation Day falls on Saturday 3 Oct 2026: Monday 5 Oct is the substitute.
    assert date(2026, 10, 5) in korean_holidays(2026)
    friday = kst(2026, 10, 2, 17, 0)
    assert CAL.add(friday, 2 * HOUR) == kst(2026, 10, 6, 10, 0)


def test_outside_business_hours_starts_at_the_next_opening() -> None:
    assert CAL.add(kst(2026, 11, 24, 20, 30), HOUR) == kst(2026, 11, 25, 10, 0)
    assert CAL.add(kst(2026, 11, 24, 6, 0), HOUR) == kst(2026, 11, 24, 10, 0)
    assert CAL.add(kst(2026, 11, 29, 12, 0), HOUR) == kst(2026, 11, 30, 10, 0)  # a Sunday
    assert CAL.between(kst(2026, 11, 28, 0, 0), kst(2026, 11, 29, 23, 59)) == 0


def test_a_target_ending_at_closing_time_is_due_at_closing_time() -> None:
    assert CAL.add(kst(2026, 11, 23, 9, 0), 9 * HOUR) == kst(2026, 11, 23, 18, 0)


def test_custom_closed_days_and_split_hours() -> None:
    calendar = WorkCalendar(
        weekly_hours={str(d): [["09:00", "12:00"], ["13:00", "18:00"]] for d in range(5)},
        closed_days=[date(2026, 11, 30)],
    )
    assert calendar.add(kst(2026, 11, 27, 11, 0), 2 * HOUR) == kst(2026, 11, 27, 14, 0)
    assert calendar.add(kst(2026, 11, 27, 17, 0), 2 * HOUR) == kst(2026, 12, 1, 10, 0)


def test_walking_back() -> None:
    assert CAL.add(kst(2026, 9, 28, 10, 0), -4 * HOUR) == kst(2026, 9, 23, 15, 0)


def test_a_calendar_that_never_opens_is_refused() -> None:
    with pytest.raises(Invalid):
        WorkCalendar(weekly_hours={}).add(kst(2026, 1, 5, 9, 0), HOUR)
    with pytest.raises(Invalid):
        WorkCalendar(weekly_hours={"0": [["18:00", "09:00"]]})
    with pytest.raises(Invalid):
        WorkCalendar(weekly_hours={"0": [["09:00", "12:00"], ["11:00", "13:00"]]})
    with pytest.raises(Invalid):
        WorkCalendar(timezone="Mars/Olympus")


def test_other_timezones_use_their_local_day() -> None:
    utc_calendar = WorkCalendar(timezone="UTC", use_kr_holidays=False)
    start = datetime(2026, 11, 27, 17, 0, tzinfo=UTC)
    assert utc_calendar.add(start, 2 * HOUR) == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


@settings(max_examples=200, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31)),
    seconds=st.integers(min_value=1, max_value=200 * HOUR),
)
def test_add_and_between_are_inverse(start: datetime, seconds: int) -> None:
    start = start.replace(tzinfo=UTC)
    due = CAL.add(start, seconds)
    assert due > start
    assert abs(CAL.between(start, due) - seconds) <= 1
    back = CAL.add(due, -seconds)
    assert start - timedelta(seconds=1) <= back < due
    assert abs(CAL.between(back, due) - seconds) <= 1

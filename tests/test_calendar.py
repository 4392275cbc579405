"""Working-day arithmetic: property tests against a day-by-day oracle, GOV.UK's bank holiday list,
and cases worked by hand over Christmas, Easter, substitute days and month ends."""

from __future__ import annotations

import calendar as std_calendar
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from safeguide.timescales.calendar import add_months, default_calendar, england_bank_holidays, long_date

CAL = default_calendar()
HOLIDAYS = set(england_bank_holidays(range(2005, 2041)))


def oracle_working_days(start: date, n: int) -> date:
    """The slow, obvious way: walk one day at a time, counting Monday-Friday days that are not holidays."""
    day, count = start, 0
    step = 1 if n >= 0 else -1
    while count < abs(n):
        day += timedelta(days=step)
        if day.weekday() < 5 and day not in HOLIDAYS:
            count += 1
    return day


dates = st.dates(min_value=date(2010, 1, 1), max_value=date(2035, 12, 31))


@settings(max_examples=400, deadline=None)
@given(start=dates, n=st.integers(min_value=-80, max_value=80))
def test_working_days_match_the_oracle(start: date, n: int) -> None:
    result, skipped = CAL.shift_working_days(start, n)
    assert result == oracle_working_days(start, n)
    if n:
        assert CAL.is_working_day(result)
        assert abs((result - start).days) == abs(n) + len(skipped)
        assert all(not CAL.is_working_day(s.day) for s in skipped)


@settings(max_examples=300, deadline=None)
@given(start=dates, months=st.integers(min_value=-24, max_value=48))
def test_months_keep_the_day_or_clamp_to_month_end(start: date, months: int) -> None:
    result = add_months(start, months)
    assert (result.year * 12 + result.month) - (start.year * 12 + start.month) == months
    last = std_calendar.monthrange(result.year, result.month)[1]
    assert result.day == min(start.day, last)


def test_bank_holidays_2012_to_2028_match_govuk() -> None:
    """GOV.UK's published list (cached in govuk-bank-holidays) lists the days off: weekday dates only."""
    from govuk_bank_holidays.bank_holidays import BankHolidays

    govuk = {
        h["date"]
        for h in BankHolidays(use_cached_holidays=True).get_holidays(division=BankHolidays.ENGLAND_AND_WALES)
        if 2012 <= h["date"].year <= 2028
    }
    ours = {d for d in england_bank_holidays(range(2012, 2029)) if d.weekday() < 5}
    assert ours == govuk
    assert len(govuk) >= 8 * 17


@pytest.mark.parametrize(
    ("start", "n", "expected", "why"),
    [
        (
            date(2025, 12, 19),
            15,
            date(2026, 1, 14),
            "Christmas Day, Boxing Day and New Year's Day passed over",
        ),
        (date(2026, 4, 2), 10, date(2026, 4, 20), "Good Friday 3 April and Easter Monday 6 April 2026"),
        (date(2026, 12, 24), 1, date(2026, 12, 29), "Boxing Day 2026 is a Saturday: substitute Monday 28th"),
        (
            date(2022, 6, 1),
            1,
            date(2022, 6, 6),
            "Spring bank holiday moved to 2 June, Platinum Jubilee 3 June",
        ),
        (date(2022, 9, 16), 1, date(2022, 9, 20), "State Funeral of Queen Elizabeth II, Monday 19 September"),
        (
            date(2027, 12, 24),
            1,
            date(2027, 12, 29),
            "Christmas and Boxing Day 2027 at a weekend: 27 and 28 off",
        ),
        (date(2026, 1, 14), 0, date(2026, 1, 14), "0 working days: 'immediately', the same day"),
        (date(2026, 1, 19), -5, date(2026, 1, 12), "5 working days before a Monday review"),
    ],
)
def test_hand_worked_cases(start: date, n: int, expected: date, why: str) -> None:
    result, _ = CAL.shift_working_days(start, n)
    assert result == expected, why


def test_skipped_days_are_named() -> None:
    _, skipped = CAL.shift_working_days(date(2026, 12, 24), 1)
    assert [(s.day, s.reason) for s in skipped] == [
        (date(2026, 12, 25), "Christmas Day"),
        (date(2026, 12, 26), "Saturday (Boxing Day)"),
        (date(2026, 12, 27), "Sunday"),
        (date(2026, 12, 28), "Boxing Day (observed)"),
    ]


def test_closure_days_count_only_when_given() -> None:
    closed = default_calendar(
        closures={date(2025, 12, 29): "office closed", date(2025, 12, 30): "office closed"}
    )
    assert CAL.shift_working_days(date(2025, 12, 24), 1)[0] == date(2025, 12, 29)
    result, skipped = closed.shift_working_days(date(2025, 12, 24), 1)
    assert result == date(2025, 12, 31)
    assert "office closure: office closed" in [s.reason for s in skipped]


def test_month_end_cases() -> None:
    assert add_months(date(2025, 8, 31), 3) == date(2025, 11, 30)
    assert add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2026, 11, 30), -9) == date(2026, 2, 28)


def test_long_date() -> None:
    assert long_date(date(2026, 1, 14)) == "Wednesday 14 January 2026"

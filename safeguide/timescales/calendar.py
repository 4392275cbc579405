"""Working-day arithmetic for England. Pure: the holidays are an input, there is no clock.

Conventions (shared/DOMAIN.md), each one named so answers can show it:

- a working day is Monday to Friday, excluding England & Wales bank holidays (and, where an
  authority's closure days are switched on, those too);
- the trigger day is day 0: "within 15 working days of the strategy discussion" on Friday 19 Dec 2025
  is the 15th working day after it (Wednesday 14 January 2026);
- days, weeks, hours and minutes are calendar time ("48 hours" spans a weekend);
- months keep the day of the month and clamp to the month's end (31 Aug + 3 months = 30 Nov).
"""

from __future__ import annotations

import calendar as _cal
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

CONVENTIONS = {
    "working_day": "Monday to Friday, excluding England & Wales bank holidays",
    "day_zero": "the day of the trigger event is day 0; counting starts the next day",
    "calendar_units": "days, weeks, hours and minutes are calendar time, weekends included",
    "months": "months keep the day of the month, clamped to the month's last day",
    "non_working_due_date": (
        "a calendar-time deadline that falls on a non-working day is not moved; it is flagged"
    ),
}


def england_bank_holidays(years: Iterable[int]) -> dict[date, str]:
    """England & Wales bank holidays from the `holidays` package (subdiv ENG), with substitute days."""
    import holidays

    table = holidays.country_holidays("GB", subdiv="ENG", years=list(years))
    return {d: str(name) for d, name in sorted(table.items())}


def long_date(d: date) -> str:
    """'Wednesday 14 January 2026': how dates are written in answers."""
    return f"{WEEKDAYS[d.weekday()]} {d.day} {_cal.month_name[d.month]} {d.year}"


def add_months(start: date, months: int) -> date:
    month_index = start.month - 1 + months
    year = start.year + month_index // 12
    month = month_index % 12 + 1
    day = min(start.day, _cal.monthrange(year, month)[1])
    return date(year, month, day)


@dataclass(frozen=True)
class NonWorkingDay:
    day: date
    reason: str  # "Saturday", "Christmas Day", "Sunday (Christmas Day)", "office closure: ..."


@dataclass(frozen=True)
class WorkingCalendar:
    """Bank holidays (and optional closure days) by date; weekends are always non-working."""

    holidays: Mapping[date, str]
    closures: Mapping[date, str] = field(default_factory=dict)

    def reason_closed(self, day: date) -> str | None:
        weekend = WEEKDAYS[day.weekday()] if day.weekday() >= 5 else None
        holiday = self.holidays.get(day)
        closure = self.closures.get(day)
        named = holiday or (f"office closure: {closure}" if closure else None)
        if weekend and named:
            return f"{weekend} ({named})"
        return weekend or named

    def is_working_day(self, day: date) -> bool:
        return self.reason_closed(day) is None

    def shift_working_days(self, start: date, n: int) -> tuple[date, list[NonWorkingDay]]:
        """The n-th working day after (n > 0) or before (n < 0) `start`, which is day 0, and the
        non-working days passed over on the way. n = 0 returns `start` itself."""
        step = 1 if n >= 0 else -1
        remaining = abs(n)
        day = start
        skipped: list[NonWorkingDay] = []
        while remaining:
            day += timedelta(days=step)
            reason = self.reason_closed(day)
            if reason is None:
                remaining -= 1
            else:
                skipped.append(NonWorkingDay(day, reason))
        return day, skipped

    def non_working_between(self, start: date, end: date) -> list[NonWorkingDay]:
        """Non-working days after `start` up to and including `end` (either order)."""
        lo, hi = sorted((start, end))
        out: list[NonWorkingDay] = []
        day = lo + timedelta(days=1)
        while day <= hi:
            reason = self.reason_closed(day)
            if reason is not None:
                out.append(NonWorkingDay(day, reason))
            day += timedelta(days=1)
        return out


def default_calendar(
    years: Iterable[int] = range(2005, 2041), closures: Mapping[date, str] | None = None
) -> WorkingCalendar:
    return WorkingCalendar(england_bank_holidays(years), dict(closures or {}))

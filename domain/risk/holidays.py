"""Calendar facts that move escalation risk: Spring Festival (春节) and the Two Sessions (两会).

Spring Festival dates are the lunar new year's day (正月初一) for 2018-2040.  Unpaid wages and
construction payments come to a head in the weeks before it (年底结算, 过年前讨薪).
"""

from __future__ import annotations

import datetime as dt

SPRING_FESTIVAL: dict[int, dt.date] = {
    y: dt.date.fromisoformat(d)
    for y, d in {
        2018: "2018-02-16",
        2019: "2019-02-05",
        2020: "2020-01-25",
        2021: "2021-02-12",
        2022: "2022-02-01",
        2023: "2023-01-22",
        2024: "2024-02-10",
        2025: "2025-01-29",
        2026: "2026-02-17",
        2027: "2027-02-06",
        2028: "2028-01-26",
        2029: "2029-02-13",
        2030: "2030-02-03",
        2031: "2031-01-23",
        2032: "2032-02-11",
        2033: "2033-01-31",
        2034: "2034-02-19",
        2035: "2035-02-08",
        2036: "2036-01-28",
        2037: "2037-02-15",
        2038: "2038-02-04",
        2039: "2039-01-24",
        2040: "2040-02-12",
    }.items()
}


def spring_festival(year: int) -> dt.date:
    """Lunar new year's day of ``year`` (approximated by 5 February outside the table)."""
    return SPRING_FESTIVAL.get(year, dt.date(year, 2, 5))


def days_to_spring_festival(day: dt.date) -> int:
    """Days from ``day`` to the next Spring Festival (0 on the day itself)."""
    this_year = spring_festival(day.year)
    target = this_year if this_year >= day else spring_festival(day.year + 1)
    return (target - day).days


def in_two_sessions(day: dt.date) -> bool:
    """The National People's Congress and CPPCC sessions, roughly 1-15 March every year."""
    return day.month == 3 and day.day <= 15

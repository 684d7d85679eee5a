"""The China working calendar: Asia/Shanghai, 09:00-18:00, public holidays and make-up workdays."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

from chalicelib.logs import get_logger

log = get_logger("rules.calendar")

# Asia/Shanghai has been UTC+8 without daylight saving since 1991; a fixed offset needs no tz database.
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
OPENS = time(9, 0)
CLOSES = time(18, 0)
_warned_years: set[int] = set()


def is_workday(day: date) -> bool:
    """True on a Chinese working day: weekdays that are not public holidays, plus make-up Saturdays/Sundays.

    The holiday table (chinese-calendar) covers the years the State Council has announced; for a later
    year we fall back to Monday-Friday and log it once, so the figure stays an honest estimate.
    """
    import chinese_calendar

    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        if day.year not in _warned_years:
            _warned_years.add(day.year)
            log.warning("no holiday table for this year; using Monday-Friday", extra={"year": day.year})
        return day.weekday() < 5


def _next_opening(local: datetime) -> datetime:
    day = local.date() + timedelta(days=1)
    while not is_workday(day):
        day += timedelta(days=1)
    return datetime.combine(day, OPENS, tzinfo=SHANGHAI)


def add_working_hours(start: datetime, hours: float) -> datetime:
    """The moment `hours` working hours after `start` (aware datetime), returned in UTC."""
    remaining = timedelta(hours=hours)
    local = start.astimezone(SHANGHAI)
    if not is_workday(local.date()) or local.time() >= CLOSES:
        local = _next_opening(local)
    elif local.time() < OPENS:
        local = datetime.combine(local.date(), OPENS, tzinfo=SHANGHAI)
    while True:
        closing = datetime.combine(local.date(), CLOSES, tzinfo=SHANGHAI)
        available = closing - local
        if remaining <= available:
            return (local + remaining).astimezone(UTC)
        remaining -= available
        local = _next_opening(local)

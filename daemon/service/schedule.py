"""When scheduled procedures fall due, in the lab's own time (`[lab] timezone`, e.g. Asia/Makassar): daily,
weekly or monthly at a time of day, a cron expression (croniter), or every fixed interval.

A schedule that fell due while the service was down is run once when it comes back (`missed = "run_once"`,
the default) or not at all (`"skip"`). What ran last is read from the record: each firing is a command of
source `scheduler` whose payload names the schedule and the due time it served.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from labd.daemon.config import ScheduleConfig

UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def _interval(schedule: ScheduleConfig) -> float | None:
    every = schedule.every
    if every and every[-1] in UNITS and every[:-1].replace(".", "", 1).isdigit():
        return float(every[:-1]) * UNITS[every[-1]]
    return None


def next_due(schedule: ScheduleConfig, now: float, last: float | None = None, tz: str = "UTC") -> float:
    """The first time after `now` the schedule falls due (`last`: when it last fell due, for intervals)."""
    zone = ZoneInfo(tz)
    period = _interval(schedule)
    if period is not None:
        return now + period if last is None else max(now, last + period)
    t = datetime.fromtimestamp(now, zone)
    if schedule.cron:
        return float(croniter(schedule.cron, t).get_next(float))
    hour, minute = (int(x) for x in schedule.at.split(":"))
    candidate = t.replace(hour=hour, minute=minute, second=0, microsecond=0)
    step = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}.get(schedule.every or "")
    if step is not None:
        while candidate.timestamp() <= now:
            candidate += step       # wall-clock arithmetic in the lab's zone: 07:30 stays 07:30
        return candidate.timestamp()
    # monthly: the same day of the month as the first due date, or the month's last day when shorter
    while candidate.timestamp() <= now:
        month = candidate.month % 12 + 1
        year = candidate.year + (candidate.month == 12)
        day = min(candidate.day, _days_in(year, month))
        candidate = candidate.replace(year=year, month=month, day=day)
    return candidate.timestamp()


def previous_due(schedule: ScheduleConfig, now: float, tz: str = "UTC") -> float | None:
    """The latest time at or before `now` the schedule fell due (None for intervals, which have no phase)."""
    if _interval(schedule) is not None:
        return None
    zone = ZoneInfo(tz)
    t = datetime.fromtimestamp(now, zone)
    if schedule.cron:
        return float(croniter(schedule.cron, t).get_prev(float))
    back = {"daily": timedelta(days=1), "weekly": timedelta(days=7), "monthly": timedelta(days=31)}
    start = (t - back[schedule.every or "daily"] - timedelta(minutes=1)).timestamp()
    due = next_due(schedule, start, tz=tz)
    latest = None
    while due <= now:
        latest, due = due, next_due(schedule, due, tz=tz)
    return latest


def missed(schedule: ScheduleConfig, now: float, last_served: float | None, tz: str = "UTC") -> float | None:
    """The due time to serve at once because the service was down when it came, or None. Only once, however
    many were missed, and only for a schedule that had run before (a new schedule has missed nothing)."""
    if schedule.missed != "run_once" or last_served is None:
        return None
    if _interval(schedule) is not None:
        period = _interval(schedule)
        assert period is not None
        return last_served + period if last_served + period < now else None
    due = previous_due(schedule, now, tz)
    return due if due is not None and due > last_served else None


def _days_in(year: int, month: int) -> int:
    nxt = datetime(year + (month == 12), month % 12 + 1, 1)
    return (nxt - timedelta(days=1)).day

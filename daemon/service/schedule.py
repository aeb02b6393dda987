"""When scheduled procedures fall due: daily, weekly or monthly at a UTC time of day, or every fixed interval."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from labd.daemon.config import ScheduleConfig

UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def next_due(schedule: ScheduleConfig, now: float, last: float | None = None) -> float:
    """The first time after `now` the schedule falls due (`last`: when it last ran, for intervals)."""
    every = schedule.every
    if every[-1] in UNITS and every[:-1].replace(".", "", 1).isdigit():
        period = float(every[:-1]) * UNITS[every[-1]]
        return now + period if last is None else max(now, last + period)
    hour, minute = (int(x) for x in schedule.at.split(":"))
    t = datetime.fromtimestamp(now, timezone.utc)
    candidate = t.replace(hour=hour, minute=minute, second=0, microsecond=0)
    step = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}.get(every)
    if step is not None:
        while candidate.timestamp() <= now:
            candidate += step
        return candidate.timestamp()
    # monthly: the same day of the month as the first due date, or the month's last day when shorter
    while candidate.timestamp() <= now:
        month = candidate.month % 12 + 1
        year = candidate.year + (candidate.month == 12)
        day = min(candidate.day, _days_in(year, month))
        candidate = candidate.replace(year=year, month=month, day=day)
    return candidate.timestamp()


def _days_in(year: int, month: int) -> int:
    nxt = datetime(year + (month == 12), month % 12 + 1, 1)
    return (nxt - timedelta(days=1)).day

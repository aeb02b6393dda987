"""The outbox's format: a reading as a line of the InfluxDB line protocol, as the time-series server takes it.

It lives with the records because the writer makes the line in the reading's own transaction, from the row it
has just appended (issue 18: composing it in the daemon cost the event loop as much as recording the reading).
"""
from __future__ import annotations

from typing import Any


# A run's readings repeat the same tags: escaped once per combination, which saves a few µs of the writer's
# ~30 µs per reading (issue 18).
_TAGS: dict[tuple, str] = {}


def tag(value: str) -> str:
    """A tag value escaped as the line protocol wants (backslash, comma, equals, space)."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def line(measurement: str, station: str, run_id: str | None, instrument: str, quantity: str, unit: str,
         role: str, value: float, raw_value: float, used: bool, time: float) -> str:
    """`reading,station=bench-1,instrument=dmm,run=r1,quantity=voltage,unit=V,role=uut value=1.0,raw_value=1.0
    1767225600000` — ms precision; an empty tag is left out; `used=0i` marks a reading kept but not used."""
    key = (station, instrument, run_id, quantity, unit, role)
    tag_text = _TAGS.get(key)
    if tag_text is None:
        tags = (("station", station), ("instrument", instrument), ("run", run_id or ""), ("quantity", quantity),
                ("unit", unit), ("role", role))
        tag_text = ",".join(f"{k}={tag(str(v))}" for k, v in tags if v)
        if len(_TAGS) >= 4096:   # a bound, not an eviction policy: a run's instruments repeat the same few
            _TAGS.clear()
        _TAGS[key] = tag_text
    fields = f"value={float(value)!r},raw_value={float(raw_value)!r}" + ("" if used else ",used=0i")
    return f"{measurement},{tag_text} {fields} {int(round(time * 1000))}"


def reading_line(station: str, row: tuple[Any, ...]) -> str:
    """The line of a `readings` row (schema.TABLES order: run_id, attempt, time, instrument, quantity, value,
    unit, raw, corrected, point, role, used, note): the corrected value when there is one."""
    run_id, _, time, instrument, quantity, value, unit, _, corrected, _, role, used, _ = row
    return line("reading", station, run_id, instrument, quantity, unit, role,
                corrected if corrected is not None else value, value, bool(used), time)

"""What a running procedure sees: instruments, standards, the clock, the operator, and the run's record.

Recorded readings are appended as they are taken, with raw and corrected values, so the dataset is complete
whatever happens next. (The durable SQLite store and checkpoints arrive with issues 4 and 5.)
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from drivers import Driver
from simulators import SimClock

from .control import RunControl
from .standards import Standard

Progress = Callable[[str, dict[str, Any]], None]
Ask = Callable[[str, str], Awaitable[str]]


@dataclass
class RecordedReading:
    time: float
    instrument: str
    quantity: str
    value: float
    unit: str
    raw: str = ""
    corrected: float | None = None
    point: int | None = None
    role: str = ""          # "reference", "unit under test", "ambient", ...
    used: bool = True       # False: kept in the record but not used (taken while out of limits)
    note: str = ""


@dataclass
class RunContext:
    run_id: str
    procedure: str
    operator: str
    instruments: Mapping[str, Driver]
    standards: Mapping[str, Standard]
    clock: SimClock
    ask_operator: Ask
    progress: Progress = lambda event, data: None
    readings: list[RecordedReading] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    simulated: bool = False
    control: RunControl = field(default_factory=RunControl)

    def now_iso(self) -> str:
        return datetime.fromtimestamp(self.clock.now(), timezone.utc).isoformat(timespec="seconds")

    def record(self, reading: RecordedReading) -> None:
        self.readings.append(reading)
        self.progress("reading", {"reading": reading})

    def event(self, kind: str, **data: Any) -> None:
        entry = {"time": self.now_iso(), "event": kind, **data}
        self.events.append(entry)
        self.progress(kind, data)

    async def checkpoint(self) -> str | None:
        """A safe point to pause, abort or suspend; see procedures/control.py."""
        return await self.control.checkpoint(self)

    async def ask(self, key: str, question: str) -> str:
        self.event("prompt", key=key, question=question)
        answer = await self.ask_operator(key, question)
        self.event("answer", key=key, answer=answer)
        return answer

"""What a running procedure sees: instruments, standards, the clock, the operator, and the run's record.

Every reading is appended to the record as it is taken (raw and corrected values), and `record()` returns only
once it is durable, so a crash loses nothing that was read. A procedure marks each completed point with
`complete()`; a run resumed after a crash gets those points back from `resumed()` and measures only the rest.
Readings of a point that was interrupted stay in the record and are marked as not used (see `effective`).
"""
from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Protocol, TypeVar

from labd.drivers import Driver
from .clock import Clock
from .events import Event

K = TypeVar("K")

from .control import Aborted, RunControl
from .standards import Standard

Progress = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class Prompt:
    """A question for the operator. `action` says what the answer stands for physically (place a weight,
    titrate), so that the simulated operator can do it on the simulated lab; `kind` is "confirm" or "number"."""
    key: str
    question: str
    kind: str = "confirm"
    action: dict[str, Any] | None = None
    unit: str = ""


Ask = Callable[[Prompt], Awaitable[str]]


class AnswerError(Exception):
    """The operator's answers to a prompt could not be used."""


class Recorder(Protocol):
    """The durable record (daemon/records.py). Events are queued in order; readings are awaited until on disk."""

    async def reading(self, run_id: str, attempt: int, r: "RecordedReading") -> int: ...
    def event(self, run_id: str, attempt: int, time_: float, kind: str, data: dict) -> None: ...
    async def result(self, run_id: str, kind: str, data: Any) -> None: ...
    async def flush(self) -> None: ...


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
    used: bool = True       # False: kept in the record but not used (out of limits, or an interrupted point)
    note: str = ""
    attempt: int = 1


def interrupted(point: int | None, attempt: int, completed_in: Mapping[int, int]) -> bool:
    """Whether a reading belongs to a point that its attempt did not complete, the point being measured again
    in a later attempt (`completed_in` maps point → the attempt that completed it)."""
    if point is None:
        return False
    done_in = completed_in.get(point)
    return done_in is not None and done_in != attempt


def effective(readings: list[RecordedReading], completed_in: Mapping[int, int]) -> None:
    """Mark as not used the readings of interrupted points. The stored rows are never changed; this is how they
    are read."""
    for r in readings:
        if r.used and r.point is not None and interrupted(r.point, r.attempt, completed_in):
            r.used = False
            r.note = f"point interrupted in attempt {r.attempt}; measured again in attempt {completed_in[r.point]}"


@dataclass
class RunContext:
    run_id: str
    procedure: str
    operator: str
    instruments: Mapping[str, Driver]
    standards: Mapping[str, Standard]
    clock: Clock
    ask_operator: Ask
    progress: Progress = lambda event, data: None
    readings: list[RecordedReading] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    simulated: bool = False
    control: RunControl = field(default_factory=RunControl)
    records: Recorder | None = None
    attempt: int = 1
    completed: dict[int, dict[str, Any]] = field(default_factory=dict)   # point → its saved data
    completed_in: dict[int, int] = field(default_factory=dict)           # point → the attempt that completed it
    history: Callable[[str], Awaitable[list[dict[str, Any]]]] | None = None
    interruption: dict[str, Any] = field(default_factory=dict)   # said with "interrupted" when it is stopped

    def instrument(self, iid: str, kind: type[K]) -> K:
        """The configured instrument `iid` as the kind the procedure needs (a Balance, a TemperatureSource, ...);
        ValueError naming it otherwise, which `preflight` turns into a refusal."""
        inst = self.instruments.get(iid)
        if inst is None:
            raise ValueError(f"instrument {iid!r} is not configured")
        if not isinstance(inst, kind):
            raise ValueError(f"instrument {iid!r} is not a {kind.__name__} (it is a {type(inst).__name__})")
        return inst

    def now_iso(self) -> str:
        return datetime.fromtimestamp(self.clock.now(), timezone.utc).isoformat(timespec="seconds")

    def today(self) -> date:
        return datetime.fromtimestamp(self.clock.now(), timezone.utc).date()

    async def record(self, reading: RecordedReading) -> None:
        """Returns once the reading is durable. Live views are told at once, while it is being committed."""
        reading.attempt = self.attempt
        self.readings.append(reading)
        self.progress(Event.READING, {"reading": reading})
        if self.records is not None:
            await self.records.reading(self.run_id, self.attempt, reading)

    def event(self, event: Event, /, **data: Any) -> None:
        entry = {"time": self.now_iso(), "event": event, **data}
        self.events.append(entry)
        if self.records is not None:
            self.records.event(self.run_id, self.attempt, self.clock.now(), event, data)
        self.progress(event, data)

    def resumed(self, point: int) -> dict[str, Any] | None:
        """The saved data of `point` when an earlier attempt completed it, else None."""
        return self.completed.get(point)

    def saved(self, point: int) -> dict[str, Any]:
        """The saved data of a point known to be complete (measured now or in an earlier attempt)."""
        data = self.completed.get(point)
        if data is None:
            raise KeyError(f"point {point} of run {self.run_id} is not complete")
        return data

    async def complete(self, point: int, data: dict[str, Any]) -> None:
        """Mark `point` complete with what is needed to evaluate it without measuring again; durable on return."""
        self.completed[point] = data
        self.completed_in[point] = self.attempt
        self.event(Event.POINT_COMPLETE, point=point, data=data)
        if self.records is not None:
            await self.records.flush()

    async def keep(self, *readings: RecordedReading) -> bool:
        """Record readings taken since the previous checkpoint, passing a checkpoint first. When the run was
        suspended around them (the room out of limits), they stay on record but are marked not used; the
        answer says whether they count, so that the procedure takes them again."""
        counted = await self.checkpoint() != "suspended"
        for r in readings:
            if not counted:
                r.used = False
                r.note = (f"{r.note}: " if r.note else "") + "taken while ambient conditions were out of limits"
            await self.record(r)
        return counted

    @contextlib.asynccontextmanager
    async def safe(self, instruments: Mapping[str, Any]) -> AsyncIterator[None]:
        """`async with ctx.safe({id: source}):` the instruments go to their safe state (heat source to its safe
        set point, calibrator to standby) however the block ends: completion, failure, abort or cancellation.
        A failure to make one safe is recorded and does not stop the others."""
        try:
            yield
        finally:
            await self.make_safe(instruments)

    async def make_safe(self, instruments: Mapping[str, Any]) -> None:
        """Each instrument to its safe state now; a failure is recorded and does not stop the others."""
        for iid, inst in instruments.items():
            try:
                await inst.safe_state()
                self.event(Event.SAFE_STATE, instrument=iid)
            except Exception as exc:
                self.event(Event.SAFE_STATE_FAILED, instrument=iid, error=str(exc))

    async def checkpoint(self) -> str | None:
        """A safe point to pause, abort or suspend; see procedures/control.py."""
        return await self.control.checkpoint(self)

    async def ask(self, key: str, question: str, *, kind: str = "confirm", action: dict[str, Any] | None = None,
                  unit: str = "") -> str:
        prompt = Prompt(key, question, kind, action, unit)
        self.event(Event.PROMPT, key=key, question=question, kind=kind, action=action, unit=unit)
        if self.records is not None:
            await self.records.flush()     # the open prompt is on record before anyone answers it
        try:
            answer = (await self.control.unless_aborted(self.ask_operator(prompt))).strip()
        except Aborted as exc:
            self.event(Event.PROMPT_WITHDRAWN, key=key, reason=str(exc))
            raise
        self.event(Event.ANSWER, key=key, answer=answer)
        return answer

    async def ask_number(self, key: str, question: str, *, unit: str = "", action: dict[str, Any] | None = None,
                         low: float | None = None, high: float | None = None) -> float:
        """Ask until the answer is a number within [low, high]; each refused answer is recorded, and after
        three refusals the run stops (an answers file would otherwise give the same wrong answer forever)."""
        for _ in range(3):
            text = await self.ask(key, question, kind="number", action=action, unit=unit)
            try:
                value = float(text.replace(",", "."))   # the lab writes decimal commas too
            except ValueError:
                self.event(Event.ANSWER_REFUSED, key=key, answer=text, reason="not a number")
                continue
            if (low is not None and value < low) or (high is not None and value > high):
                self.event(Event.ANSWER_REFUSED, key=key, answer=text, reason=f"outside {low} … {high} {unit}")
                continue
            return value
        raise AnswerError(f"prompt {key!r}: no valid answer after three tries ({question})")

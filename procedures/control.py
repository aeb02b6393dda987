"""Run control: pause, resume, abort, and suspension while conditions are out of limits.

A procedure calls `checkpoint()` at the points where it is safe to stop (between repetitions). There the run
waits while paused, raises `Aborted` when an abort was asked for, and asks each suspender whether the run must
be suspended (ambient temperature or humidity out of limits, after bluesky's suspenders). A suspended run
polls `should_resume()` until conditions are back, and every interruption is recorded as an event. The
checkpoint tells the procedure what happened so that readings taken while out of limits are never used.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

from labd.drivers import InstrumentError

from .events import Event

if TYPE_CHECKING:
    from .context import RunContext


T = TypeVar("T")


class Aborted(Exception):
    """The operator (or the daemon) aborted the run."""


class Suspender:
    """Decides when a run must wait. Override both methods."""

    async def should_suspend(self) -> str | None:
        """A reason to suspend now, or None."""
        return None

    async def should_resume(self) -> bool:
        return True


class AmbientSuspender(Suspender):
    """Suspends while the ambient sensor reads outside the limits, e.g. {"temperature": (18, 28)}.

    A sensor that cannot be read also suspends: conditions that cannot be shown to be in limits are not."""

    def __init__(self, sensor, limits: Mapping[str, tuple[float, float]], name: str = "ambient") -> None:
        self.sensor, self.limits, self.name = sensor, dict(limits), name
        self.last: dict[str, float] = {}

    async def _outside(self) -> str | None:
        try:
            readings = await self.sensor.read()
        except InstrumentError as exc:
            return f"{self.name} cannot be read ({exc})"
        self.last = {r.quantity: r.value for r in readings}
        for quantity, (low, high) in self.limits.items():
            value = self.last.get(quantity)
            if value is None:
                return f"{self.name} gives no {quantity}"
            if not low <= value <= high:
                return f"{quantity} {value:g} outside {low:g} … {high:g}"
        return None

    async def should_suspend(self) -> str | None:
        return await self._outside()

    async def should_resume(self) -> bool:
        return await self._outside() is None


class RunControl:
    def __init__(self, suspenders: Sequence[Suspender] = (), poll: float = 5.0) -> None:
        self.suspenders = list(suspenders)
        self.poll = poll
        self.state = "running"                 # running, paused, suspended, aborting
        self.abort_reason: str | None = None
        self._resume = asyncio.Event()
        self._resume.set()
        self._aborted = asyncio.Event()

    def pause(self) -> None:
        if self.state == "running":
            self.state = "paused"
            self._resume.clear()

    def resume(self) -> None:
        if self.state == "paused":
            self.state = "running"
            self._resume.set()

    def abort(self, reason: str = "aborted by the operator") -> None:
        self.abort_reason = reason
        self.state = "aborting"
        self._resume.set()
        self._aborted.set()

    async def unless_aborted(self, waiting: Awaitable[T]) -> T:
        """`waiting` (an operator's answer), unless the run is aborted first: then it is cancelled and Aborted
        raised, so that an abort never waits for somebody to answer a prompt."""
        self._check_abort()
        task = asyncio.ensure_future(waiting)
        abort = asyncio.ensure_future(self._aborted.wait())
        try:
            await asyncio.wait({task, abort}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not task.done():
                task.cancel()
            abort.cancel()
        if task.done() and not task.cancelled():
            return task.result()
        raise Aborted(self.abort_reason or "aborted")

    def _check_abort(self) -> None:
        if self.abort_reason is not None:
            raise Aborted(self.abort_reason)

    async def checkpoint(self, ctx: RunContext) -> str | None:
        """Returns None when the run went straight through, "paused" after a pause, "suspended" after a
        suspension (the caller discards what it measured since its previous checkpoint)."""
        self._check_abort()
        held = None
        if not self._resume.is_set():
            ctx.event(Event.PAUSED)
            await self._resume.wait()
            self._check_abort()
            ctx.event(Event.RESUMED, after="pause")
            held = "paused"
        for suspender in self.suspenders:
            reason = await suspender.should_suspend()
            if reason is None:
                continue
            self.state = "suspended"
            ctx.event(Event.SUSPENDED, reason=reason)
            while not await suspender.should_resume():
                self._check_abort()
                await ctx.clock.sleep(self.poll)
            self._check_abort()
            self.state = "running"
            ctx.event(Event.RESUMED, after="suspension")
            held = "suspended"
        return held

"""Stability criterion: standard deviation and slope over a moving window, and the source's own flag."""
from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .events import Event
from .params import param

if TYPE_CHECKING:
    from .context import RunContext


@dataclass(frozen=True)
class StabilityCriterion:
    window: int = param(20, ge=2, le=1000, description="readings the criterion looks at")
    max_sd: float = param(0.01, gt=0.0, le=100.0, description="largest standard deviation over the window, in the reading's unit")
    max_slope: float = param(0.004, gt=0.0, le=100.0, description="largest drift, in the reading's unit per minute")
    timeout: float = param(3 * 3600.0, unit="s", gt=0.0, le=7 * 86400.0, description="time allowed to become stable before the run fails")
    use_source_flag: bool = param(True, description="also require the source's own stability flag")


class StabilityWindow:
    def __init__(self, criterion: StabilityCriterion) -> None:
        self.criterion = criterion
        self.times: deque[float] = deque(maxlen=criterion.window)
        self.values: deque[float] = deque(maxlen=criterion.window)

    def add(self, t: float, value: float) -> None:
        self.times.append(t)
        self.values.append(value)

    def statistics(self) -> tuple[float, float] | None:
        """(standard deviation, slope per minute) over a full window; None until the window is full."""
        if len(self.values) < self.criterion.window:
            return None
        t = np.array(self.times) - self.times[0]
        v = np.array(self.values)
        slope = np.polyfit(t, v, 1)[0] * 60.0 if t[-1] > 0 else 0.0
        return float(np.std(v, ddof=1)), float(slope)

    def stable(self, source_flag: bool | None = None) -> bool:
        stats = self.statistics()
        if stats is None:
            return False
        sd, slope = stats
        flag_ok = source_flag is not False or not self.criterion.use_source_flag
        return sd <= self.criterion.max_sd and abs(slope) <= self.criterion.max_slope and flag_ok


async def wait_stable(ctx: RunContext, read: Callable[[], Awaitable[float]], criterion: StabilityCriterion,
                      poll: float, *, source=None, name: str = "source") -> None:
    """Read until the window is stable (and the source's own flag agrees, where it has one), or time out."""
    window = StabilityWindow(criterion)
    start = ctx.clock.now()
    while True:
        await ctx.checkpoint()      # an abort is honoured while stabilising, which can take an hour
        value = await read()
        window.add(ctx.clock.now(), value)
        flag = await source.is_stable() if source is not None else None
        stats = window.statistics()
        if stats is not None and window.stable(flag):
            sd, slope = stats
            ctx.event(Event.STABLE, sd=sd, slope_per_min=slope, after_s=ctx.clock.now() - start)
            return
        if ctx.clock.now() - start > criterion.timeout:
            raise TimeoutError(f"{name} not stable within {criterion.timeout:g} s")
        ctx.progress(Event.STABILISING, {"value": value, "elapsed": ctx.clock.now() - start})
        await ctx.clock.sleep(poll)

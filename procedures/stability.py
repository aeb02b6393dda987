"""Stability criterion: standard deviation and slope over a moving window, and the source's own flag."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StabilityCriterion:
    window: int = 12               # readings
    max_sd: float = 0.01           # in the reading's unit
    max_slope: float = 0.01        # per minute
    timeout: float = 3 * 3600.0    # seconds of (simulated) time before giving up
    use_source_flag: bool = True


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

"""Simulated time: a wall clock that can run faster than real time, so an overnight run takes a minute.\nIt satisfies `labd.procedures.clock.Clock`."""
from __future__ import annotations

import asyncio
import time


class SimClock:
    def __init__(self, speed: float = 1.0, start: float | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._mono0 = time.monotonic()
        self._t0 = time.time() if start is None else start

    def now(self) -> float:
        """Simulated epoch seconds."""
        return self._t0 + (time.monotonic() - self._mono0) * self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)

    def real(self, seconds: float) -> float:
        """Real seconds that `seconds` of simulated time take."""
        return seconds / self.speed

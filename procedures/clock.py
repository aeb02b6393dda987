"""The clock a run lives by. Procedures sleep and time-stamp through it, so the same procedure runs in real time
on the bench and accelerated on the simulated lab (whose `SimClock` satisfies the same protocol)."""
from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Epoch seconds."""

    async def sleep(self, seconds: float) -> None: ...

    def real(self, seconds: float) -> float:
        """Real seconds that `seconds` of this clock's time take."""


class WallClock:
    """Real time, for runs against real instruments."""

    speed = 1.0

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def real(self, seconds: float) -> float:
        return seconds

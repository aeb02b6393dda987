"""Repeatability of a thermometer: n readings at room temperature, their mean and standard deviation."""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from labd.procedures import RecordedReading, RunContext
from labd.procedures.results import ResultTable

NAME = "example-repeatability"
VERSION = "0.1"
DESCRIPTION = "Repeatability of a thermometer at room temperature (example plugin)"


@dataclass(frozen=True)
class Parameters:
    instrument: str = "thermo"
    readings: int = 5
    interval: float = 2.0     # seconds between readings

    def __post_init__(self) -> None:
        if not 2 <= self.readings <= 1000:
            raise ValueError("readings: between 2 and 1000")
        if self.interval <= 0:
            raise ValueError("interval: must be positive")


@dataclass(frozen=True)
class Outcome:
    instrument: str
    values: list[float]

    def table(self) -> ResultTable:
        return ResultTable(f"Repeatability of {self.instrument}", ["n", "mean / °C", "s / °C"],
                           [[str(len(self.values)), f"{statistics.fmean(self.values):.4f}",
                             f"{statistics.stdev(self.values):.4f}"]])

    def to_json(self) -> dict[str, Any]:
        return {"instrument": self.instrument, "n": len(self.values), "mean": statistics.fmean(self.values),
                "s": statistics.stdev(self.values)}


async def run(ctx: RunContext, p: Parameters) -> Outcome:
    thermometer = ctx.instruments.get(p.instrument)
    if thermometer is None:
        raise ValueError(f"no instrument {p.instrument!r}")
    await thermometer.open()
    values = []
    for i in range(p.readings):
        await ctx.checkpoint()
        reading = await thermometer.temperature()
        await ctx.record(RecordedReading(ctx.clock.now(), p.instrument, reading.quantity, reading.value,
                                         reading.unit, reading.raw, point=0, role="unit under test"))
        values.append(reading.value)
        ctx.progress("step", {"done": i + 1, "of": p.readings, "label": f"reading {i + 1}"})
        await ctx.clock.sleep(p.interval)
    return Outcome(p.instrument, values)

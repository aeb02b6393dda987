"""Intermediate check of a working standard against a check standard (SOP Cek Antara Standar Kerja).

Each run is one day's check: both thermometers in the heat source at the check temperature, n interleaved
readings, and the day's value d = mean(working standard, certificate-corrected) − mean(check standard).
The check standard's value is its assignment in the register (made when the working standard was last
calibrated), so with both corrected the reference value of d is zero, with the assignment's uncertainty.
The days accumulate across runs in a series; the SOP asks for ten on different days, so a second check of the
same series on one day is refused. With every new day the stability is evaluated (calc.checks): each d within
the criterion of the reference value set at calibration, and the mean consistent with it (|E_n| ≤ 1). Until
the tenth day the verdict is provisional.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from labd.calc.checks import Stability, working_standard_stability
from labd.drivers import TemperatureSource, ThermometerReadout

from .context import RecordedReading, RunContext
from .events import Event
from .params import param
from .results import ResultTable, finite
from .stability import StabilityCriterion, wait_stable
from .units import celsius
from .steps import check_set_points, heat, record_ambient, standards_used

NAME = "working-standard-check"
VERSION = "1.1"
DESCRIPTION = "Intermediate check of a working standard against a check standard, one day per run, 10 days"


@dataclass(frozen=True)
class Parameters:
    readout: str = param("ref_readout", description="the readout both standards are connected to")
    working_standard: str = param("ref_prt", description="the working standard being checked")
    working_channel: int = param(1, ge=1, le=8, description="readout channel of the working standard")
    check_channel: int = param(3, ge=1, le=8, description="readout channel of the check standard")
    source: str = param("dry_block", description="the heat source")
    set_point: float = param(50.0, unit="°C", ge=-200.0, le=1000.0, description="temperature of the check")
    readings: int = param(10, ge=2, le=1000, description="readings of each standard")
    interval: float = param(10.0, unit="s", gt=0.0, le=3600.0, description="time between readings")
    check_standard: str = param("check_prt", description="the check standard in the register")
    criterion: float = param(0.020, unit="°C", gt=0.0, le=10.0, description="largest accepted |difference − reference|")
    days_required: int = param(10, ge=2, le=100, description="checks on different days before the evaluation")
    stability: StabilityCriterion = param(factory=StabilityCriterion, description="when the source counts as stable")

    @property
    def series(self) -> str:
        return f"working-standard-check:{self.working_standard}@{self.set_point:g}"

    def claims(self, ctx: RunContext) -> dict[str, frozenset[int] | None]:
        return {self.source: None, self.readout: frozenset({self.working_channel, self.check_channel})}

    async def admit(self, ctx: RunContext) -> None:
        """Refused before anything moves: the SOP asks for checks on different days."""
        today = ctx.today().isoformat()
        earlier = await ctx.history(self.series) if ctx.history else []
        same_day = [d for d in earlier if d["date"] == today]
        if same_day:
            raise ValueError(f"{self.series} was already checked on {today} (run {same_day[0]['run_id']}); the "
                             "SOP asks for checks on different days")

    def validate(self, ctx: RunContext) -> None:
        if not isinstance(ctx.instruments.get(self.readout), ThermometerReadout):
            raise ValueError(f"instrument {self.readout!r} is not a configured thermometer readout")
        if not isinstance(ctx.instruments.get(self.source), TemperatureSource):
            raise ValueError(f"instrument {self.source!r} is not a configured heat source")
        for sid in (self.working_standard, self.check_standard):
            if sid not in ctx.standards:
                raise ValueError(f"standard {sid!r} is not in the register")
        if self.working_channel == self.check_channel:
            raise ValueError(f"working_channel and check_channel are both {self.check_channel}: the check needs two "
                             f"probes")
        check_set_points(ctx, self.source, [self.set_point])
        if self.readings < 2 or self.days_required < 2 or self.criterion <= 0:
            raise ValueError("need ≥ 2 readings, ≥ 2 days and a positive criterion")
        for sid in (self.working_standard, self.check_standard):
            ctx.standards[sid].check_valid(ctx.today())
            ctx.standards[sid].correction(self.set_point)


@dataclass
class Outcome:
    parameters: Parameters
    day: dict
    days: list[dict]
    stability: Stability | None

    @property
    def verdict(self) -> str:
        p, n = self.parameters, len(self.days)
        if self.stability is None:
            return f"day {n} of {p.days_required}: no evaluation before two days"
        state = "passes" if self.stability.passed else "fails"
        if n < p.days_required:
            return f"day {n} of {p.days_required}: provisionally {state}"
        return f"{n} days: the working standard {state} the stability criterion"

    @property
    def series(self) -> tuple[str, dict]:
        return self.parameters.series, self.day

    def table(self) -> ResultTable:
        rows = [[d["date"], f"{d['value']:+.4f}", f"{d['sd']:.4f}", str(d["n"])] for d in self.days]
        title = f"{self.parameters.series}: {self.verdict}"
        if self.stability is not None:
            s = self.stability
            title += f" (mean {s.mean:+.4f}, s {s.sd:.4f}, max |d − ref| {s.max_deviation:.4f}, E_n {s.en:+.2f})"
        return ResultTable(title, ["date", "d °C", "s °C", "n"], rows)

    def to_json(self) -> dict:
        s = self.stability
        return {"series": self.parameters.series, "day": self.day, "days": self.days, "verdict": self.verdict,
                "stability": None if s is None else {"n": s.n, "mean": s.mean, "sd": s.sd,
                                                     "max_deviation": s.max_deviation, "en": s.en,
                                                     "dof": finite(s.dof), "k": s.k, "passed": s.passed},
                "complete": len(self.days) >= self.parameters.days_required}


async def run(ctx: RunContext, p: Parameters) -> Outcome:
    standards_used(ctx, p.working_standard, p.check_standard)
    today = ctx.today().isoformat()
    earlier = await ctx.history(p.series) if ctx.history else []
    readout = ctx.instrument(p.readout, ThermometerReadout)
    source = ctx.instrument(p.source, TemperatureSource)
    correction = ctx.standards[p.working_standard].correction(p.set_point)
    assigned = ctx.standards[p.check_standard].correction(p.set_point)
    async with ctx.safe({p.source: source}):
        saved = ctx.resumed(0)
        if saved is None:
            await readout.open()
            await source.open()
            await heat(ctx, source, p.set_point)

            async def read() -> float:
                reading = await readout.read(p.working_channel)
                return celsius(reading, f"{p.readout} channel {p.working_channel}")[0].value
            await wait_stable(ctx, read, p.stability, p.interval / 2, source=source, name=p.source)
            ws: list[float] = []
            cs: list[float] = []
            while len(ws) < p.readings:
                a, a_note = celsius(await readout.read(p.working_channel), f"{p.readout} channel {p.working_channel}")
                b, b_note = celsius(await readout.read(p.check_channel), f"{p.readout} channel {p.check_channel}")
                t = ctx.clock.now()
                taken = [RecordedReading(t, p.readout, "temperature", a.value, "°C", a.raw, a.value + correction.value,
                                         0, "working standard", note=a_note),
                         RecordedReading(t, p.readout, "temperature", b.value, "°C", b.raw, b.value + assigned.value,
                                         0, "check standard", note=b_note)]
                if await ctx.keep(*taken):
                    ws.append(a.value + correction.value)
                    cs.append(b.value + assigned.value)
                    ctx.progress(Event.STEP, {"done": len(ws), "of": p.readings, "label": "reading"})
                await ctx.clock.sleep(p.interval)
            await record_ambient(ctx, 0)
            diffs = np.asarray(ws) - np.asarray(cs)
            await ctx.complete(0, {"value": float(diffs.mean()), "sd": float(diffs.std(ddof=1)), "n": int(diffs.size),
                                   "certificates": [correction.certificate, assigned.certificate]})
        saved = ctx.saved(0)
    day = {"date": today, **saved}
    days = [{k: d[k] for k in ("date", "value", "sd", "n")} for d in earlier] + [day]
    stability = None
    if len(days) >= 2:
        stability = working_standard_stability([d["value"] for d in days], 0.0,
                                               2 * assigned.standard_uncertainty, p.criterion)
    return Outcome(p, day, days, stability)

"""Unattended stability run (overnight): one channel read at a fixed interval for hours, with the heat source
held at a set point if one is named; statistics, drift and a control chart at the end.

Readings are taken on a fixed schedule from the first one, so a run resumed after a crash carries on the same
grid (the gap is on record as a gap) and ends at the same time. Readings taken while the room is out of limits
are kept and not used.

When the channel reads a reference standard of the register (or one is named), its certificate is on record
(traceability), an expired one is refused before anything moves, and the mean is also given corrected with the
certificate: for a heat source that is its deviation from the set point.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from labd.calc.checks import ControlChart, Drift, control_chart, drift, warm_up
from labd.calc.stats import describe
from labd.drivers import TemperatureSource, ThermometerReadout

from .context import RecordedReading, RunContext
from .events import Event
from .params import param
from .results import ResultTable
from .stability import StabilityCriterion, wait_stable
from .standards import Correction, StandardError, read_by
from .steps import check_set_points, heat, record_ambient, standards_used

NAME = "stability-run"
VERSION = "1.1"
DESCRIPTION = "Unattended stability run: readings at a fixed interval for hours, statistics and drift"


@dataclass(frozen=True)
class Parameters:
    readout: str = param("ref_readout", description="the thermometer readout")
    channel: int = param(1, ge=1, le=8, description="readout channel logged")
    source: str = param("dry_block", description="the heat source held at the set point; empty for none")
    set_point: float = param(50.0, unit="°C", ge=-200.0, le=1000.0, description="temperature the source is held at")
    duration_hours: float = param(8.0, unit="h", gt=0.0, le=168.0, description="length of the run")
    interval: float = param(60.0, unit="s", gt=0.0, le=3600.0, description="time between readings")
    stability: StabilityCriterion = param(factory=StabilityCriterion, description="when the source counts as stable")
    reference_standard: str = param("auto", description="\"auto\": the standard the register says the channel reads; empty: none")

    def standard(self, ctx: RunContext) -> str | None:
        if self.reference_standard == "auto":
            return read_by(ctx.standards, self.readout, self.channel)
        return self.reference_standard or None

    def claims(self, ctx: RunContext) -> dict[str, frozenset[int] | None]:
        held: dict[str, frozenset[int] | None] = {self.readout: frozenset({self.channel})}
        if self.source:
            held[self.source] = None
        return held

    def validate(self, ctx: RunContext) -> None:
        if not isinstance(ctx.instruments.get(self.readout), ThermometerReadout):
            raise ValueError(f"instrument {self.readout!r} is not a configured thermometer readout")
        if self.source and not isinstance(ctx.instruments.get(self.source), TemperatureSource):
            raise ValueError(f"instrument {self.source!r} is not a configured heat source")
        if self.duration_hours <= 0 or self.interval <= 0 or self.duration_hours * 3600 < 3 * self.interval:
            raise ValueError("the run needs a positive interval and at least three readings in its duration")
        if self.source:
            check_set_points(ctx, self.source, [self.set_point])
        sid = self.standard(ctx)
        if sid is not None:
            if sid not in ctx.standards:
                raise ValueError(f"reference standard {sid!r} is not in the register")
            ctx.standards[sid].check_valid(ctx.today())
            if self.source:
                ctx.standards[sid].correction(self.set_point)   # refuses a set point outside its certificate


@dataclass
class Outcome:
    parameters: Parameters
    n: int
    mean: float
    sd: float
    minimum: float
    maximum: float
    drift: Drift                      # per hour
    chart: ControlChart
    excluded: int
    correction: Correction | None = None   # of the reference standard at the mean
    warm_up: int = 0                  # leading readings of the settling transient, left out of the statistics
    warm_up_hours: float = 0.0

    @property
    def corrected_mean(self) -> float | None:
        return None if self.correction is None else self.mean + self.correction.value

    def table(self) -> ResultTable:
        d = self.drift
        title = (f"Stability over {self.parameters.duration_hours:g} h "
                 f"({self.n} readings used, {self.excluded} excluded"
                 + (f", the first {self.warm_up} ({self.warm_up_hours:.2g} h) still settling" if self.warm_up else "")
                 + ")")
        if self.correction is not None:
            title += (f"; mean corrected with certificate {self.correction.certificate}: "
                      f"{self.corrected_mean:.4f} (u of the correction {self.correction.standard_uncertainty:.4f})")
        return ResultTable(title,
                           ["mean", "s", "min", "max", "drift /h", "u(drift) /h", "significant", "run rules"],
                           [[f"{self.mean:.4f}", f"{self.sd:.4f}", f"{self.minimum:.4f}", f"{self.maximum:.4f}",
                             f"{d.slope:+.2g}", f"{d.slope_uncertainty:.2g}", "yes" if d.significant else "no",
                             "in control" if self.chart.in_control else f"{len(self.chart.violations)} violations"]])

    def to_json(self) -> dict:
        return {"n": self.n, "mean": self.mean, "sd": self.sd, "min": self.minimum, "max": self.maximum,
                "excluded": self.excluded, "warm_up": {"readings": self.warm_up, "hours": self.warm_up_hours},
                "drift_per_hour": {"slope": self.drift.slope, "standard_uncertainty": self.drift.slope_uncertainty,
                                   "significant": self.drift.significant, "dof": self.drift.dof,
                                   "autocorrelation": self.drift.autocorrelation},
                "control_chart": {"centre": self.chart.centre, "sigma": self.chart.sigma,
                                  "violations": [{"rule": v.rule, "index": v.index} for v in self.chart.violations]},
                "reference": None if self.correction is None else {
                    "certificate": self.correction.certificate, "correction": self.correction.value,
                    "correction_standard_uncertainty": self.correction.standard_uncertainty,
                    "corrected_mean": self.corrected_mean,
                    "set_point_deviation": (self.mean + self.correction.value - self.parameters.set_point
                                            if self.parameters.source else None)}}


async def run(ctx: RunContext, p: Parameters) -> Outcome:
    sid = p.standard(ctx)
    if sid is not None:
        standards_used(ctx, sid)
    readout = ctx.instrument(p.readout, ThermometerReadout)
    source = ctx.instrument(p.source, TemperatureSource) if p.source else None
    total = int(math.floor(p.duration_hours * 3600 / p.interval)) + 1
    async with ctx.safe({p.source: source} if source is not None else {}):
        await readout.open()
        if source is not None:
            await source.open()
            await heat(ctx, source, p.set_point)

            async def read() -> float:
                return (await readout.read(p.channel)).value
            await wait_stable(ctx, read, p.stability, p.interval / 2, source=source, name=p.source)
        earlier = [r for r in ctx.readings if r.role == "stability"]
        start = earlier[0].time if earlier else ctx.clock.now()
        ctx.event(Event.LOGGING, start=start, readings=total, resumed_with=len(earlier))
        last = round((earlier[-1].time - start) / p.interval) if earlier else -1
        while True:
            # The next slot of the grid not yet taken and not passed by more than 0.4 of the interval (a slot a
            # moment ago is still taken, a little late, and still rounds to its own slot): after a reading, after
            # a suspension, after a crash.
            index = max(last + 1, math.ceil((ctx.clock.now() - start) / p.interval - 0.4))
            if index >= total:
                break
            await ctx.clock.sleep(start + index * p.interval - ctx.clock.now())
            held = await ctx.checkpoint()
            reading = await readout.read(p.channel)
            rec = RecordedReading(ctx.clock.now(), p.readout, reading.quantity, reading.value, reading.unit,
                                  reading.raw, None, None, "stability")
            if held == "suspended":
                rec.used, rec.note = False, "taken after ambient conditions were out of limits"
            await ctx.record(rec)
            last = index
            ctx.progress(Event.STEP, {"done": index + 1, "of": total, "label": f"{reading.value:.4f} {reading.unit}"})
            if index % max(1, round(3600 / p.interval)) == 0:
                await record_ambient(ctx, None)
    logged = [r for r in ctx.readings if r.role == "stability" and r.used]
    # The source may still settle after the stability criterion let logging start: the transient is cut off by
    # MSER and reported apart, so the statistics describe the steady state the run is about.
    settling = warm_up([r.value for r in logged]) if source is not None else 0
    used = logged[settling:]
    if len(used) < 3:
        raise ValueError(f"only {len(used)} usable reading(s) of the {total} planned: too few for the statistics "
                         f"(suspended too long, or the run could not keep to its {p.interval:g} s grid)")
    values = [r.value for r in used]
    summary = describe(values)
    hours = [(r.time - used[0].time) / 3600 for r in used]
    d, _ = drift(hours, values, autocorrelated=True)
    correction = None
    if sid is not None:
        try:
            correction = ctx.standards[sid].correction(summary.mean)
        except StandardError:      # a mean outside the certificate's range is reported uncorrected
            pass
    return Outcome(p, summary.n, summary.mean, summary.sd, min(values), max(values), d, control_chart(values),
                   len([r for r in ctx.readings if r.role == "stability"]) - len(logged), correction,
                   settling, (used[0].time - logged[0].time) / 3600 if settling else 0.0)

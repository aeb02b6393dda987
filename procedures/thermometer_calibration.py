"""Calibration of a thermometer by comparison in a dry-block or bath (SOP Kalibrasi Alat, steps 1–4).

Prepare the standard and the unit under test, bring both to stable conditions at each set point, take
interleaved readings with repetitions, and hand the dataset to calc for the correction and its uncertainty.
"""
from __future__ import annotations

from typing import Any

from dataclasses import asdict, dataclass, field, replace
from statistics import fmean

from labd.calc.comparison import ComparisonPoint, ComparisonResult, evaluate
from labd.calc.cvd import T_MAX, T_MIN
from labd.drivers import Reading, TemperatureSource, ThermometerReadout

from .context import RecordedReading, RunContext
from .events import Event
from .params import param
from .results import ResultTable, budget_json, decimals_of
from .item import ItemParameters
from . import immersion as immersion_test
from .standards import characterisation
from .thermometer_cvd import ResistanceOutcome, resistance_results
from .units import UnitError, celsius
from .steps import check_set_points, heat, identified, item, record_ambient, standards_used
from .stability import StabilityCriterion, wait_stable

NAME = "thermometer-calibration"
VERSION = "1.3"
DESCRIPTION = "Thermometer calibration by comparison in a dry-block or bath"


@dataclass(frozen=True)
class Parameters(ItemParameters):
    set_points: tuple[float, ...] = param((30.0, 50.0, 80.0), unit="°C", ge=-200.0, le=1000.0, min_items=1, max_items=50, description="set points of the heat source, in order")
    repetitions: int = param(10, ge=2, le=1000, description="readings of each probe at each set point")
    interval: float = param(10.0, unit="s", gt=0.0, le=3600.0, description="time between readings")
    source: str = param("dry_block", description="the heat source (dry-block or bath) instrument")
    readout: str = param("ref_readout", description="the thermometer readout both probes are connected to")
    reference_standard: str = param("ref_prt", description="the reference standard in the register")
    uut_channel: int = param(2, ge=1, le=8, description="readout channel of the unit under test")
    uut_resolution: float = param(0.01, unit="°C", gt=0.0, le=10.0, description="resolution of the unit under test")
    uniformity: float = param(0.02, unit="°C", ge=0.0, le=5.0, description="half-width of the source's uniformity (its specification), when the register has no characterisation of it")
    readout_accuracy: float = param(0.005, unit="°C", ge=0.0, le=5.0, description="half-width of the readout's specification, when the reference's certificate does not cover the readout")
    immersion: float = param(0.005, unit="°C", ge=0.0, le=5.0, description="half-width of the immersion effect (stem conduction), from the lab's immersion test, when it is not measured in the run")
    immersion_withdrawal: float = param(0.0, unit="mm", ge=0.0, le=200.0, description="measure the immersion effect: at the set point farthest from the room, withdraw the unit under test by this much and read again; the change of its correction, scaled to each point by its distance from the room, is the immersion term (0: the declared immersion is used)")
    hysteresis: float = param(0.0, unit="°C", ge=0.0, le=5.0, description="half-width of the unit under test's hysteresis, when no falling series is measured")
    falling: bool = param(False, description="also measure the set points again from above (a falling series): the hysteresis is then measured")
    uut_reads: str = param("temperature", choices=("temperature", "resistance"), description="what the unit under test's channel reads: a temperature (a correction per point), or a resistance (its value per point and its Callendar–Van Dusen coefficients)")
    readout_resistance: float = param(0.002, unit="Ω", ge=0.0, le=10.0, description="half-width of the readout's resistance measurement, when the unit under test is read in resistance")
    stability: StabilityCriterion = param(factory=StabilityCriterion, description="when the source counts as stable")
    uut_description: str = param("", description="the unit under test in words (else the procedure's generic name)", amendable=True)
    uut_description_id: str = param("", description="the unit under test in Indonesian, for Indonesian documents (else uut_description)", amendable=True)
    uut_serial: str = param("UUT-0001", description="serial number of the unit under test", amendable=True)

    def reference_channel(self, ctx: RunContext) -> int:
        """The readout channel the reference standard is on: the register's, else channel 1."""
        std = ctx.standards.get(self.reference_standard)
        return std.channel if std is not None and std.channel is not None else 1

    def claims(self, ctx: RunContext) -> dict[str, frozenset[int] | None]:
        return {self.source: None, self.readout: frozenset({self.reference_channel(ctx), self.uut_channel})}

    def validate(self, ctx: RunContext) -> None:
        """Checked before any instrument is touched."""
        self.check_declared()
        if not self.set_points:
            raise ValueError("at least one set point is needed")
        if self.repetitions < 2:
            raise ValueError("repetitions must be at least 2 (Type A evaluation)")
        if self.interval <= 0:
            raise ValueError("interval must be positive")
        if self.uut_reads == "resistance":
            outside = [sp for sp in self.set_points if not T_MIN <= sp <= T_MAX]
            if outside:                  # refused before heating, not after hours of readings at the fit
                raise ValueError(f"set point {outside[0]:g} °C is outside the Callendar–Van Dusen equation's "
                                 f"range, {T_MIN:g} °C to {T_MAX:g} °C (IEC 60751)")
        for iid, kind in ((self.source, TemperatureSource), (self.readout, ThermometerReadout)):
            if iid not in ctx.instruments:
                raise ValueError(f"instrument {iid!r} is not configured")
            if not isinstance(ctx.instruments[iid], kind):
                raise ValueError(f"instrument {iid!r} is not a {kind.__name__}")
        if self.reference_standard not in ctx.standards:
            raise ValueError(f"reference standard {self.reference_standard!r} is not in the register")
        standard = ctx.standards[self.reference_standard]
        if self.uut_channel == self.reference_channel(ctx):
            raise ValueError(f"uut_channel {self.uut_channel} is the reference's own channel on {self.readout}: "
                             f"the reference cannot calibrate itself")
        standard.check_valid(ctx.today())
        for sp in self.set_points:
            standard.correction(sp)  # refuses a point outside the certificate's range
        block = characterisation(ctx.standards, self.source)
        if block is not None:
            for sp in self.set_points:
                block.at(sp)         # refuses a point outside the source's characterisation
        check_set_points(ctx, self.source, self.set_points)
        if self.falling and len(self.set_points) < 2:
            raise ValueError("a falling series needs at least two set points")
        if self.uut_reads == "resistance":
            if len(set(self.set_points)) < (4 if min(self.set_points) < 0 else 3):
                raise ValueError("Callendar–Van Dusen coefficients need at least three set points (four when one "
                                 "is below 0 °C)")
            if self.falling:
                raise ValueError("a falling series is for a thermometer read in temperature")
            if self.immersion_withdrawal:
                raise ValueError("the immersion test is for a thermometer read in temperature")

    def schedule(self) -> list[float]:
        """The set points in the order measured: rising, then (falling) back down from the one below the top."""
        return list(self.set_points) + (list(reversed(self.set_points[:-1])) if self.falling else [])


@dataclass
class Outcome:
    parameters: Parameters
    points: list[ComparisonPoint]
    results: list[ComparisonResult]

    def table(self) -> ResultTable:
        rows = []
        for r in self.results:
            value, U = r.reported()
            decimals = decimals_of(U)
            rows.append([f"{r.nominal:g}", f"{r.uut_mean:.{decimals}f}", value, U, f"{r.k:.2f}",
                         "∞" if r.budget.dof == float("inf") else f"{r.budget.dof:.0f}"])
        return ResultTable("Results (correction = reference − reading)",
                           ["nominal °C", "reading °C", "correction °C", "U °C", "k", "ν_eff"], rows)

    def to_json(self) -> list[dict]:
        out = []
        for r in self.results:
            value, U = r.reported()
            out.append({
                "nominal": r.nominal, "reference": r.reference_mean, "reading": r.uut_mean,
                "correction": r.correction, "standard_uncertainty": r.budget.standard_uncertainty,
                "dof": r.budget.dof if r.budget.dof != float("inf") else None, "k": r.k,
                "expanded_uncertainty": r.expanded_uncertainty, "coverage": r.budget.coverage,
                "reported": {"correction": value, "expanded_uncertainty": U},
                "budget": budget_json(r.budget)})
        return out


async def run(ctx: RunContext, p: Parameters) -> Outcome | ResistanceOutcome:
    standards_used(ctx, p.reference_standard)
    source = ctx.instrument(p.source, TemperatureSource)
    readout = ctx.instrument(p.readout, ThermometerReadout)
    standard = ctx.standards[p.reference_standard]
    ref_channel = p.reference_channel(ctx)
    points: list[ComparisonPoint] = []
    async with ctx.safe({p.source: source}):
        await source.open()
        await readout.open()
        await identified(ctx, [p.reference_standard], source=p.source, readout=p.readout)
        await item(ctx, None, p.uut_serial)        # a probe on a readout channel cannot say who it is
        await ctx.ask("insert_probes", f"Insert the reference probe and the unit under test ({p.uut_serial}) "
                                       f"into {p.source} and connect them to {p.readout} channels "
                                       f"{ref_channel} and {p.uut_channel}, both fully immersed. Type 'done' when "
                                       f"ready.", action={"do": "immerse", "readout": p.readout,
                                                          "channel": p.uut_channel, "withdrawn": 0.0})
        schedule = p.schedule()
        tested_at = schedule.index(immersion_test.test_point(p.set_points)) if p.immersion_withdrawal else None
        for index, sp in enumerate(schedule):
            saved = ctx.resumed(index)
            if saved is not None:   # completed before an interruption: its readings are on record
                fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in saved.items()}
                points.append(ComparisonPoint(**fields))
                ctx.event(Event.POINT_RESUMED, point=index, set_point=sp)
                continue
            ctx.event(Event.SET_POINT, point=index, set_point=sp, of=len(schedule))
            await heat(ctx, source, sp)
            await _wait_stable(ctx, source, readout, ref_channel, p)
            correction = standard.correction(sp)
            ref_values, uut_values = [], []
            rep = 0
            while rep < p.repetitions:
                await ctx.checkpoint()
                # Interleaved: reference, unit under test, so that slow drift affects both alike.
                ref, ref_note = celsius(await readout.read(ref_channel), f"{p.readout} channel {ref_channel}")
                uut, uut_note = await _uut_reading(readout, p)
                t = ctx.clock.now()
                taken = [RecordedReading(t, p.readout, "temperature", ref.value, "°C", ref.raw,
                                         ref.value + correction.value, index, "reference", note=ref_note),
                         RecordedReading(t, p.readout, uut.quantity, uut.value, uut.unit, uut.raw, None, index,
                                         "unit under test", note=uut_note)]
                if not await ctx.keep(*taken):
                    # Conditions went out of limits around this repetition: on record, never used; the source
                    # settles again before measuring on.
                    await _wait_stable(ctx, source, readout, ref_channel, p)
                    continue
                ref_values.append(ref.value)
                uut_values.append(uut.value)
                rep += 1
                ctx.progress(Event.REPETITION, {"point": index, "repetition": rep, "of": p.repetitions})
                ctx.progress(Event.STEP, {"done": index * p.repetitions + rep, "of": len(schedule) * p.repetitions,
                                      "label": f"set point {sp:g}, repetition {rep}/{p.repetitions}"})
                if rep < p.repetitions:
                    await ctx.clock.sleep(p.interval)
            change = None
            if index == tested_at:
                change = await immersion_test.withdrawal_test(
                    ctx, readout, p, ref_channel, index, sp,
                    lambda: _wait_stable(ctx, source, readout, ref_channel, p))
                change -= fmean(ref_values) - fmean(uut_values)      # withdrawn less fully immersed
            await record_ambient(ctx, index)
            block = characterisation(ctx.standards, p.source)
            axial, radial, steady, loading = block.at(sp) if block is not None else (0.0, 0.0, 0.0, 0.0)
            covered = standard.readout_serial is not None      # calibrated with its readout
            point = ComparisonPoint(sp, tuple(ref_values), tuple(uut_values), correction.value,
                                    correction.standard_uncertainty, standard.drift_allowance, p.uniformity,
                                    p.uut_resolution, standard.resolution, standard.interpolation(sp),
                                    0.0 if covered else p.readout_accuracy, covered, axial, radial, steady, loading,
                                    block.report if block is not None else "", p.immersion, p.hysteresis)
            if change is not None:
                point = immersion_test.mark(point, change, ctx)
            points.append(point)
            await ctx.complete(index, asdict(point))
    if p.uut_reads == "resistance":
        found, cvd = resistance_results(points, p.readout_resistance)
        return ResistanceOutcome(p, points, found, cvd)
    points = immersion_test.apply(points, p.immersion_withdrawal, immersion_test.room_temperature(ctx))
    return Outcome(p, points, results(p, points))


async def _uut_reading(readout, p: Parameters) -> tuple[Reading, str]:
    """The unit under test's reading: in °C (converted from K or °F), or in Ω when it is read in resistance."""
    reading = await readout.read(p.uut_channel)
    where = f"{p.readout} channel {p.uut_channel}"
    if p.uut_reads == "temperature":
        return celsius(reading, where)
    if reading.unit not in ("Ω", "OHM", "ohm"):
        raise UnitError(f"{where} reads in {reading.unit or 'no unit'}, but uut_reads is resistance: set the "
                        f"channel to read ohms and start again")
    return replace(reading, unit="Ω", quantity="resistance"), ""


def results(p: Parameters, points: list[ComparisonPoint]) -> list[ComparisonResult]:
    """One result per set point; with a falling series, each point below the top with its falling twin."""
    rising, falling = points[:len(p.set_points)], points[len(p.set_points):]
    twins = {pt.nominal: pt for pt in falling}
    return [evaluate(pt, falling=twins.get(pt.nominal)) for pt in rising]


async def _wait_stable(ctx: RunContext, source, readout, channel: int, p: Parameters) -> None:
    async def read() -> float:
        return celsius(await readout.read(channel), f"{p.readout} channel {channel}")[0].value
    await wait_stable(ctx, read, p.stability, p.interval / 2, source=source, name=p.source)

"""Calibration of a digital multimeter (DC voltage) with the multifunction calibrator as the standard.

At each point the multimeter is set to the range, the calibrator sources the value, operates, settles, the
multimeter is read n times, and the calibrator goes back to standby before anything is re-wired or changed;
it is in standby at the end whatever happened. The calibrator's certificate correction (from the register) is
applied to its setting and its uncertainty carried.

Model per point: E = Ī − (V_set + c_cal + δ_interp + δ_stab + δ_tc + δ_emf) + δ_res, where c_cal is the
certificate's correction from points on the point's own range (never across ranges: each range of a source is
its own circuit), interpolated with its term between two points of the range; where the certificate has no
point on the range, no correction and the calibrator's specification (register) as a rectangular half-width.
The calibrator's stability is relative plus a floor; its temperature coefficient applies outside its specified
temperature band (ambient readings of the run); thermal EMF of the leads is a declared half-width; the
calibrator's noise is in the repeatability (the multimeter integrates it), and the resolution is half a digit.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from labd.calc.budget import BudgetResult, Component, combine, rectangular, round_result
from labd.drivers import MultifunctionCalibrator, Multimeter

from .context import RecordedReading, RunContext
from .events import Event
from .params import param
from .results import ResultTable, budget_json, decimals_of, finite
from .item import ItemParameters
from .steps import identified, item, record_ambient, standards_used

NAME = "dmm-calibration"
VERSION = "1.1"
DESCRIPTION = "Calibration of a multimeter's DC voltage ranges with the multifunction calibrator"


@dataclass(frozen=True)
class Parameters(ItemParameters):
    calibrator: str = param("calibrator", description="the multifunction calibrator instrument")
    multimeter: str = param("dmm", description="the multimeter under test")
    standard: str = param("calibrator_5520a", description="the calibrator's entry in the standards register")
    points: tuple[float, ...] = param((0.1, 1.0, 10.0, 100.0), unit="V", ge=-1020.0, le=1020.0, min_items=1, max_items=50, description="DC voltages; each on its own range")
    repetitions: int = param(5, ge=2, le=1000, description="readings at each point")
    nplc: float = param(10.0, gt=0.0, le=100.0, description="integration time of the multimeter, in power-line cycles")
    resolution: float = param(1e-6, gt=0.0, le=0.01, description="resolution relative to range")
    stability_relative: float = param(5e-6, ge=0.0, le=0.01, description="half-width of the calibrator's stability between calibrations, relative")
    stability_floor: float = param(1e-6, unit="V", ge=0.0, le=0.01, description="half-width of the calibrator's stability between calibrations, absolute part")
    thermal_emf: float = param(1e-6, unit="V", ge=0.0, le=0.01, description="half-width of thermal EMFs in the leads and terminals (low-thermal leads)")
    uut_description: str = param("", description="the unit under test in words (else the procedure's generic name)", amendable=True)
    uut_description_id: str = param("", description="the unit under test in Indonesian, for Indonesian documents (else uut_description)", amendable=True)
    uut_serial: str = param("", description="serial number of the multimeter, if it does not report one", amendable=True)

    def claims(self, ctx: RunContext) -> dict[str, frozenset[int] | None]:
        return {self.calibrator: None, self.multimeter: None}

    def validate(self, ctx: RunContext) -> None:
        self.check_declared()
        for iid, kind in ((self.calibrator, MultifunctionCalibrator), (self.multimeter, Multimeter)):
            if not isinstance(ctx.instruments.get(iid), kind):
                raise ValueError(f"instrument {iid!r} is not a configured {kind.__name__}")
        if self.standard not in ctx.standards:
            raise ValueError(f"reference standard {self.standard!r} is not in the register")
        if self.repetitions < 2 or not self.points:
            raise ValueError("need at least one point and two repetitions")
        std = ctx.standards[self.standard]
        std.check_valid(ctx.today())
        for v in self.points:
            if std.specification:
                std.specified(v)        # refuses a point beyond the calibrator's specified ranges
            else:
                std.correction(v)       # refuses a point outside the certificate


@dataclass(frozen=True)
class PointResult:
    nominal: float
    reference: float
    reading: float
    error: float
    budget: BudgetResult

    def reported(self) -> tuple[str, str]:
        return round_result(self.error, self.budget.expanded_uncertainty)


@dataclass(frozen=True)
class Reference:
    """What the calibrator's output is taken to be at one point, with where each number came from."""
    correction: float
    certificate_u: float              # standard
    interpolation: float              # half-width
    specification: float              # half-width, when no certificate point on the range (else 0)
    temperature: float                # half-width of the temperature coefficient (0 within its band)
    source: str


def reference_at(std, v: float, ambient: float | None) -> Reference:
    """The calibrator's correction and its terms at `v` (see the module's model)."""
    tc, note = 0.0, ""
    if std.specification:
        low, high = std.specified_temperature
        if ambient is not None and not low <= ambient <= high:
            outside = low - ambient if ambient < low else ambient - high
            tc = std.temperature_coefficient * std.specified(v) * outside
            note = f"; {outside:.1f} °C outside {low:g}…{high:g} °C"
        found = std.on_range(v)
        if found is None:
            return Reference(0.0, 0.0, 0.0, std.specified(v), tc,
                             f"specification ({std.specification_source or 'register'}): no certificate point on "
                             f"this range{note}")
        corr, interp = found
        return Reference(corr.value, corr.standard_uncertainty, interp, 0.0, tc, f"certificate {corr.certificate}{note}")
    corr = std.correction(v)          # a register without a specification: the certificate's table as it is
    return Reference(corr.value, corr.standard_uncertainty, std.interpolation(v), 0.0, 0.0,
                     f"certificate {corr.certificate} (no specification in the register)")


def evaluate(nominal: float, readings: list[float], ref: Reference, p: Parameters) -> PointResult:
    x = np.asarray(readings, float)
    reference = nominal + ref.correction
    budget = combine([
        Component("calibrator certificate", ref.certificate_u, -1.0, math.inf, "U/k of the calibrator's certificate"),
        Component("certificate interpolation", rectangular(ref.interpolation), -1.0, math.inf,
                  "half the difference of the range's two bracketing certificate points", "rectangular"),
        Component("calibrator specification", rectangular(ref.specification), -1.0, math.inf, ref.source,
                  "rectangular"),
        Component("calibrator stability", rectangular(p.stability_relative * abs(nominal) + p.stability_floor), -1.0,
                  math.inf, "stability since calibration, relative plus floor", "rectangular"),
        Component("calibrator temperature coefficient", rectangular(ref.temperature), -1.0, math.inf,
                  "fraction of the specification per °C outside its temperature band", "rectangular"),
        Component("thermal EMF", rectangular(p.thermal_emf), -1.0, math.inf, "leads and terminals, declared",
                  "rectangular"),
        Component("calibrator noise", 0.0, -1.0, math.inf, "in the repeatability: the multimeter integrates it"),
        Component("repeatability", float(x.std(ddof=1) / math.sqrt(x.size)), 1.0, x.size - 1, "s/√n"),
        Component("resolution", rectangular(p.resolution * abs(nominal) / 2), 1.0, math.inf, "half a digit",
                  "rectangular"),
    ])
    return PointResult(nominal, reference, float(x.mean()), float(x.mean()) - reference, budget)


@dataclass
class Outcome:
    parameters: Parameters
    results: list[PointResult]

    def table(self) -> ResultTable:
        rows = []
        for r in self.results:
            e, U = r.reported()
            decimals = decimals_of(U)
            rows.append([f"{r.nominal:g}", f"{r.reference:.{decimals}f}", f"{r.reading:.{decimals}f}", e, U,
                         f"{r.budget.k:.2f}"])
        return ResultTable("Errors of the multimeter (error = reading − reference), DC voltage",
                           ["nominal V", "reference V", "reading V", "error V", "U V", "k"], rows)

    def to_json(self) -> list[dict]:
        return [{"nominal": r.nominal, "reference": r.reference, "reading": r.reading, "error": r.error,
                 "standard_uncertainty": r.budget.standard_uncertainty, "dof": finite(r.budget.dof), "k": r.budget.k,
                 "expanded_uncertainty": r.budget.expanded_uncertainty, "coverage": r.budget.coverage,
                 "reported": dict(zip(("error", "expanded_uncertainty"), r.reported())),
                 "budget": budget_json(r.budget)} for r in self.results]


async def run(ctx: RunContext, p: Parameters) -> Outcome:
    standards_used(ctx, p.standard)
    cal = ctx.instrument(p.calibrator, MultifunctionCalibrator)
    dmm = ctx.instrument(p.multimeter, Multimeter)
    std = ctx.standards[p.standard]
    results = []
    async with ctx.safe({p.calibrator: cal}):
        await cal.open()
        await dmm.open()
        await cal.standby()
        found = await identified(ctx, [p.standard], calibrator=p.calibrator, multimeter=p.multimeter)
        serial = await item(ctx, found["multimeter"], p.uut_serial)
        await ctx.ask("connect", f"Connect the calibrator's output to the multimeter {serial} (HI–HI, LO–LO) "
                                 "with low-thermal leads. Type 'done' when connected.")
        for index, v in enumerate(p.points):
            saved = ctx.resumed(index)
            if saved is None:
                ctx.event(Event.SET_POINT, point=index, set_point=v, of=len(p.points))
                await dmm.configure("VOLT:DC", range=v, nplc=p.nplc)
                await cal.source(v, "V")
                await cal.operate()
                await cal.wait_settled()
                values: list[float] = []
                while len(values) < p.repetitions:
                    reading = await dmm.read()
                    taken = RecordedReading(ctx.clock.now(), p.multimeter, "voltage", reading.value, reading.unit,
                                            reading.raw, None, index, "unit under test")
                    if not await ctx.keep(taken):
                        continue
                    values.append(reading.value)
                    ctx.progress(Event.STEP, {"done": index * p.repetitions + len(values),
                                          "of": len(p.points) * p.repetitions, "label": f"{v:g} V"})
                await cal.standby()      # between points: nothing live while the range changes
                ctx.event(Event.STANDBY, instrument=p.calibrator)
                room = [r.value for r in await record_ambient(ctx, index) if r.quantity == "temperature"]
                await ctx.complete(index, {"readings": values, "ambient": room[0] if room else None})
            saved = ctx.saved(index)
            results.append(evaluate(v, saved["readings"], reference_at(std, v, saved.get("ambient")), p))
    return Outcome(p, results)


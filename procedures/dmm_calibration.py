"""Calibration of a digital multimeter (DC voltage) with the multifunction calibrator as the standard.

At each point the multimeter is set to the range, the calibrator sources the value, operates, settles, the
multimeter is read n times, and the calibrator goes back to standby before anything is re-wired or changed;
it is in standby at the end whatever happened. The calibrator's certificate correction (from the register) is
applied to its setting and its uncertainty carried.

Model per point: E = Ī − (V_set + c_cert + δ_stab), with the calibrator's stability over its interval as a
rectangular relative half-width, the multimeter's resolution (half a digit) and the repeatability s/√n.
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
VERSION = "1.0"
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
            std.correction(v)


@dataclass(frozen=True)
class PointResult:
    nominal: float
    reference: float
    reading: float
    error: float
    budget: BudgetResult

    def reported(self) -> tuple[str, str]:
        return round_result(self.error, self.budget.expanded_uncertainty)


def evaluate(nominal: float, readings: list[float], correction: float, u_cert: float, p: Parameters) -> PointResult:
    x = np.asarray(readings, float)
    reference = nominal + correction
    budget = combine([
        Component("calibrator certificate", u_cert, -1.0, math.inf, "U/k of the calibrator's certificate"),
        Component("calibrator stability", rectangular(p.stability_relative * abs(nominal)), -1.0, math.inf,
                  "stability since calibration", "rectangular"),
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
            corr = std.correction(v)
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
                await record_ambient(ctx, index)
                await ctx.complete(index, {"readings": values})
            saved = ctx.saved(index)
            results.append(evaluate(v, saved["readings"], corr.value, corr.standard_uncertainty, p))
    return Outcome(p, results)


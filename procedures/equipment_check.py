"""Intermediate check of testing equipment (SOP Cek Antara Peralatan Pengujian): a balance against a check
weight from the register, every day for the first seven checks and monthly after that.

Each run weighs the check weight n times and records the deviation of the mean from its conventional mass.
The checks accumulate across runs in a series; each run evaluates them all: control chart with run rules,
drift by regression, the recommended next calibration (when the drift, with its uncertainty, reaches the
tolerance), and when the next check is due.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from labd.calc.checks import (RULES, INTERVAL_METHODS, ControlChart, Decision, Drift, Recommendation, check_chart,
                              decide, review_interval)
from labd.drivers import Balance

from .context import RecordedReading, RunContext
from .events import Event
from .params import param
from .results import ResultTable
from .steps import check_loads, record_ambient, standards_used

NAME = "equipment-check"
VERSION = "1.1"
DESCRIPTION = "Intermediate check of a balance with a check weight: daily for 7 days, then monthly"


@dataclass(frozen=True)
class Parameters:
    balance: str = param("balance", description="the balance being checked")
    weights: str = param("weights_e2", description="the check weights in the register")
    check_load: float = param(100.0, unit="g", gt=0.0, le=1e6, description="load of the check")
    repetitions: int = param(3, ge=1, le=100, description="loadings per check")
    tolerance: float = param(0.0005, unit="g", gt=0.0, le=1000.0, description="largest deviation accepted (the balance's MPE in use)")
    calibrated_on: str = param("2026-01-15", description="date of the balance's last calibration certificate (YYYY-MM-DD)")
    max_interval_days: int = param(365, ge=1, le=3650, description="longest calibration interval allowed")
    daily_checks: int = param(7, ge=1, le=60, description="daily checks before going monthly")
    monthly_every_days: int = param(30, ge=1, le=366, description="days between checks after the daily ones")
    balance_uncertainty: float = param(0.0001, unit="g", gt=0.0, le=1000.0, description="U (k = 2) of the balance's calibration at the check load, from its certificate")
    decision_rule: str = param("simple", choices=RULES, description="ILAC-G8 rule of the verdict: simple acceptance, or guarded with w = U")
    interval_method: str = param("control-chart", choices=INTERVAL_METHODS, description="ILAC-G24 method of the next calibration: from the checks' drift (method 2), or the staircase (method 1) from the current interval")
    current_interval_days: int = param(365, ge=1, le=3650, description="the balance's current calibration interval, for the staircase")

    @property
    def series(self) -> str:
        return f"equipment-check:{self.balance}@{self.check_load:g}"

    def claims(self, ctx: RunContext) -> dict[str, frozenset[int] | None]:
        return {self.balance: None}

    def validate(self, ctx: RunContext) -> None:
        if not isinstance(ctx.instruments.get(self.balance), Balance):
            raise ValueError(f"instrument {self.balance!r} is not a configured balance")
        if self.weights not in ctx.standards:
            raise ValueError(f"check weights {self.weights!r} are not in the register")
        if self.repetitions < 1 or self.tolerance <= 0:
            raise ValueError("need at least one repetition and a positive tolerance")
        try:
            date.fromisoformat(self.calibrated_on)
        except ValueError:
            raise ValueError(f"calibrated_on: {self.calibrated_on!r} is not a date (YYYY-MM-DD)") from None
        check_loads(ctx, self.balance, [self.check_load])
        ctx.standards[self.weights].check_valid(ctx.today())
        ctx.standards[self.weights].compose(self.check_load)


@dataclass
class Outcome:
    parameters: Parameters
    check: dict
    checks: list[dict]
    chart: ControlChart | None
    drift: Drift | None
    recommendation: Recommendation | None
    next_check: str
    decision: Decision

    @property
    def series(self) -> tuple[str, dict]:
        return self.parameters.series, self.check

    @property
    def within_tolerance(self) -> bool:
        return self.decision.passed

    def table(self) -> ResultTable:
        p = self.parameters
        state = "within tolerance" if self.within_tolerance else "OUT OF TOLERANCE"
        chart = "" if self.chart is None else ("; in control" if self.chart.in_control else
                                              f"; {len(self.chart.violations)} run-rule violations")
        rec = "" if self.recommendation is None else (f"; next calibration {self.recommendation.next_calibration} "
                                                      f"({self.recommendation.reason})")
        rows = [[c["date"], f"{c['value'] * 1000:+.3f}", f"{c['sd'] * 1000:.3f}", str(c["n"])] for c in self.checks]
        return ResultTable(f"{p.series}: check {len(self.checks)} {state}{chart}{rec}; next check {self.next_check}",
                           ["date", "deviation mg", "s mg", "n"], rows)

    def to_json(self) -> dict:
        return {"series": self.parameters.series, "check": self.check, "checks": self.checks,
                "within_tolerance": self.within_tolerance, "next_check": self.next_check,
                "decision": self.decision.to_json(),
                "control_chart": None if self.chart is None else self.chart.to_json(),
                "drift_per_day": None if self.drift is None else self.drift.to_json(),
                "recommendation": None if self.recommendation is None else self.recommendation.to_json()}


async def run(ctx: RunContext, p: Parameters) -> Outcome:
    standards_used(ctx, p.weights)
    today = ctx.today()
    earlier = await ctx.history(p.series) if ctx.history else []
    if any(c["date"] == today.isoformat() for c in earlier):
        raise ValueError(f"{p.series} was already checked on {today}; one check a day")
    weights = ctx.standards[p.weights]
    pieces = weights.compose(p.check_load)
    table = {n: c for n, c, _, _ in weights.points}
    mass = sum(n + table[n] for n in pieces)
    balance = ctx.instrument(p.balance, Balance)
    async with ctx.safe({p.balance: balance}):
        saved = ctx.resumed(0)
        if saved is None:
            await balance.open()
            await balance.zero()
            values = []
            for i in range(p.repetitions):
                await ctx.checkpoint()
                await ctx.ask(f"load_{i + 1}", f"Place the check weight ({' + '.join(f'{w:g} g' for w in pieces)}) "
                                               "on the centre of the pan. Type 'done' when placed.",
                              action={"do": "load", "balance": p.balance, "mass": mass})
                r = await balance.weigh(stable=True)
                await ctx.record(RecordedReading(ctx.clock.now(), p.balance, "mass", r.value, r.unit, r.raw,
                                                 r.value - mass, 0, "unit under test", note=f"loading {i + 1}"))
                values.append(r.value - mass)
                await ctx.ask(f"unload_{i + 1}", "Remove the check weight. Type 'done' when removed.",
                              action={"do": "unload", "balance": p.balance})
                ctx.progress(Event.STEP, {"done": i + 1, "of": p.repetitions, "label": f"loading {i + 1}"})
            await record_ambient(ctx, 0)
            x = np.asarray(values)
            await ctx.complete(0, {"value": float(x.mean()), "sd": float(x.std(ddof=1)) if x.size > 1 else 0.0,
                                   "n": int(x.size), "reference_mass": mass})
        saved = ctx.saved(0)
    check = {"date": today.isoformat(), **saved}
    checks = [{k: c[k] for k in ("date", "value", "sd", "n")} for c in earlier] + [check]
    values = [c["value"] for c in checks]
    # The check's own uncertainty: the check weight's (its pieces come from one calibration: added linearly)
    # and the repeatability of this check's mean. The balance's calibration U is what the check watches, so it
    # sets the chart's limits, centred on the reference value (a correct balance reads the conventional mass).
    u_piece = {n: U / k for n, _, U, k in weights.points}
    u_weight = sum(u_piece[n] for n in pieces)
    u_check = math.hypot(u_weight, check["sd"] / math.sqrt(check["n"]))
    decision = decide(check["value"], 2 * u_check, p.tolerance, p.decision_rule)
    chart = check_chart(values, u_weight, p.balance_uncertainty) if len(values) >= 2 else None
    calibrated = date.fromisoformat(p.calibrated_on)
    days = [(date.fromisoformat(c["date"]) - calibrated).days for c in checks]
    rec, d = review_interval(p.interval_method, days, values, p.tolerance, calibrated, p.max_interval_days,
                             decision.passed, p.balance_uncertainty, p.current_interval_days)
    gap = 1 if len(checks) < p.daily_checks else p.monthly_every_days
    return Outcome(p, check, checks, chart, d, rec, (today + timedelta(days=gap)).isoformat(), decision)

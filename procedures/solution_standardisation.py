"""Standardisation of a solution by titration against a weighed primary standard (SOP Pembuatan Larutan Standar).

Per replicate: tare the weighing vessel, weigh the primary standard on the balance (read when stable), transfer
and titrate; the operator enters the titrant volume read on the burette. The concentration of each replicate
is c_i = 1000 m_i P / (M V_i); the result is their mean, with the QUAM A2 budget (calc.titration) at the mean
mass and the volume that gives the mean concentration, and the repeatability taken from the replicates
(s of c_i relative to the mean, divided by √n since the mean is reported).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from labd.calc.gum import GumResult
from labd.calc.titration import ATOMIC_WEIGHTS, Titration, parse_formula, standardise
from labd.drivers import Balance

from .context import RecordedReading, RunContext
from .events import Event
from .params import param
from .results import ResultTable, finite
from .steps import check_loads, record_ambient

NAME = "solution-standardisation"
VERSION = "1.1"
DESCRIPTION = "Standardisation of a solution by titration against a weighed primary standard"


@dataclass(frozen=True)
class Parameters:
    balance: str = param("balance", description="the balance used for weighing")
    formula: str = param("C8H5KO4", description="chemical formula of the primary standard")
    purity: float = param(1.0, gt=0.0, le=1.0, description="purity of the primary standard, as a mass fraction")
    purity_half_width: float = param(0.0005, ge=0.0, le=0.1, description="half-width of the purity (certificate)")
    target_mass: float = param(0.3888, unit="g", gt=0.0, le=100.0, description="mass of standard per replicate")
    vessel_mass: float = param(12.0, unit="g", gt=0.0, le=1000.0, description="mass of the weighing vessel (for the simulated technician)")
    replicates: int = param(3, ge=2, le=20, description="titrations")
    equivalents: int = param(1, ge=1, le=6, description="equivalents per mole (for the normality)")
    linearity_half_width: float = param(0.00015, unit="g", ge=0.0, le=1.0, description="half-width of the balance's linearity (certificate)")
    burette_half_width: float = param(0.03, unit="mL", ge=0.0, le=5.0, description="half-width of the burette tolerance (triangular)")
    volume_temperature_uncertainty: float = param(0.006, unit="mL", ge=0.0, le=5.0, description="standard uncertainty of the volume from temperature")
    volume_range: tuple[float, ...] = param((1.0, 50.0), unit="mL", gt=0.0, le=1000.0, min_items=2, max_items=2, description="range a titrated volume must lie in")
    solution: str = param("NaOH about 0.1 mol/L", description="the solution standardised, in words", amendable=True)

    def claims(self, ctx: RunContext) -> dict[str, frozenset[int] | None]:
        return {self.balance: None}

    def validate(self, ctx: RunContext) -> None:
        check_loads(ctx, self.balance, [self.vessel_mass + self.target_mass])
        if self.volume_range[0] >= self.volume_range[1]:
            raise ValueError("volume_range: the lower bound must be below the upper")
        if not isinstance(ctx.instruments.get(self.balance), Balance):
            raise ValueError(f"instrument {self.balance!r} is not a configured balance")
        parse_formula(self.formula)
        if self.replicates < 2:
            raise ValueError("at least two replicates (the repeatability is taken from them)")
        if not 0 < self.purity <= 1 or self.target_mass <= 0 or len(self.volume_range) != 2:
            raise ValueError("purity must be in (0, 1], target mass positive, volume_range two numbers")


def molar_mass(formula: str) -> float:
    return sum(n * ATOMIC_WEIGHTS[el][0] for el, n in parse_formula(formula).items())


@dataclass
class Outcome:
    parameters: Parameters
    replicates: list[dict]
    concentration: float
    result: GumResult

    def table(self) -> ResultTable:
        out = self.result.outputs["c"]
        rows = [[str(i + 1), f"{r['mass']:.4f}", f"{r['volume']:.2f}", f"{r['concentration']:.5f}"]
                for i, r in enumerate(self.replicates)]
        value, U = out.reported()
        return ResultTable(f"{self.parameters.solution}: c = {value} mol/L, U = {U} mol/L (k = {out.k:.2f})",
                           ["replicate", "m g", "V mL", "c mol/L"], rows)

    def to_json(self) -> dict:
        out = self.result.outputs["c"]
        n_out = self.result.outputs["N"]
        return {"replicates": self.replicates, "concentration": self.concentration,
                "standard_uncertainty": out.standard_uncertainty, "dof": finite(out.dof), "k": out.k,
                "expanded_uncertainty": out.expanded_uncertainty, "coverage": out.coverage,
                "normality": n_out.value, "normality_expanded_uncertainty": n_out.expanded_uncertainty,
                "budget": [{"name": c.name, "value": c.value, "standard_uncertainty": c.standard_uncertainty,
                            "sensitivity": c.sensitivity, "contribution": c.contribution}
                           for c in out.budget]}


async def run(ctx: RunContext, p: Parameters) -> Outcome:
    balance = ctx.instrument(p.balance, Balance)
    M = molar_mass(p.formula)
    low, high = p.volume_range
    async with ctx.safe({p.balance: balance}):
        await balance.open()
        await ctx.ask("prepare", f"Dry the primary standard ({p.formula}) and fill the burette with {p.solution}. "
                                 "Type 'done' when ready.")
        for i in range(p.replicates):
            if ctx.resumed(i) is not None:
                continue
            await ctx.checkpoint()
            await ctx.ask(f"vessel_{i + 1}", f"Replicate {i + 1}: put the empty weighing vessel on the pan. Type "
                                             "'done'.", action={"do": "load", "balance": p.balance,
                                                                "mass": p.vessel_mass})
            tare = await balance.tare()
            await ctx.record(RecordedReading(ctx.clock.now(), p.balance, "mass", tare.value, tare.unit, tare.raw,
                                             None, i, "tare"))
            await ctx.ask(f"weigh_{i + 1}", f"Add about {p.target_mass:g} g of {p.formula} to the vessel. Type "
                                            "'done'.", action={"do": "load", "balance": p.balance,
                                                               "mass": p.target_mass})
            r = await balance.weigh(stable=True)
            await ctx.record(RecordedReading(ctx.clock.now(), p.balance, "mass", r.value, r.unit, r.raw, None, i,
                                             "primary standard"))
            await ctx.ask(f"transfer_{i + 1}", "Transfer the standard quantitatively to the flask and take the "
                                               "vessel off the pan. Type 'done'.",
                          action={"do": "unload", "balance": p.balance})
            volume = await ctx.ask_number(
                f"volume_{i + 1}", f"Dissolve, titrate with {p.solution} to the end point and enter the titrant "
                                   f"volume in mL (replicate {i + 1}).", unit="mL", low=low, high=high,
                action={"do": "titrate", "mass": r.value, "purity": p.purity, "molar_mass": M,
                        "equivalents": p.equivalents})
            await ctx.record(RecordedReading(ctx.clock.now(), "operator", "volume", volume, "mL", str(volume), None,
                                             i, "titrant"))
            await ctx.complete(i, {"mass": r.value, "volume": volume})
            ctx.progress(Event.STEP, {"done": i + 1, "of": p.replicates, "label": f"replicate {i + 1}"})
        await record_ambient(ctx, None)
    reps = [dict(ctx.saved(i)) for i in range(p.replicates)]
    for rep in reps:
        rep["concentration"] = 1000 * rep["mass"] * p.purity / (M * rep["volume"])
    c = np.array([rep["concentration"] for rep in reps])
    mean_mass = float(np.mean([rep["mass"] for rep in reps]))
    titration = Titration(p.formula, mean_mass, p.purity, p.purity_half_width,
                          volume=1000 * mean_mass * p.purity / (M * float(c.mean())),
                          linearity_half_width=p.linearity_half_width,
                          volume_calibration_half_width=p.burette_half_width,
                          volume_temperature_uncertainty=p.volume_temperature_uncertainty,
                          repeatability=float(c.std(ddof=1) / c.mean() / math.sqrt(c.size)),
                          repeatability_dof=float(c.size - 1), equivalents=p.equivalents)
    result, _ = standardise(titration)
    return Outcome(p, reps, float(c.mean()), result)

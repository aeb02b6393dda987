"""A thermometer calibrated in resistance (`uut_reads = "resistance"`): the unit under test's resistance at each
reference temperature, its uncertainty with the temperature side carried through dR/dt, and its
Callendar–Van Dusen coefficients fitted to the points (calc/cvd.py) with their covariance, for the certificate.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from labd.calc.comparison import ComparisonPoint, ResistanceResult, evaluate_resistance
from labd.calc.cvd import CvdFit, fit

from .results import ResultTable, budget_json, decimals_of, finite


@dataclass
class ResistanceOutcome:
    parameters: Any
    points: list[ComparisonPoint]
    results: list[ResistanceResult]
    cvd: CvdFit

    def table(self) -> ResultTable:
        rows = []
        for r in self.results:
            value, U = r.reported()
            rows.append([f"{r.nominal:g}", f"{r.reference_mean:.4f}", value, U, f"{r.k:.2f}"])
        c = self.cvd.coefficients()
        title = (f"Resistance at the reference temperatures; Callendar–Van Dusen R0 = {c['R0']:.5f} Ω, "
                 f"A = {c['A']:.6e}, B = {c['B']:.4e}" + (f", C = {c['C']:.4e}" if self.cvd.fitted_c else ""))
        return ResultTable(title, ["nominal °C", "reference °C", "R Ω", "U Ω", "k"], rows)

    def to_json(self) -> dict:
        points = []
        for r in self.results:
            value, U = r.reported()
            points.append({"nominal": r.nominal, "reference": r.reference_mean, "reading": r.resistance,
                           "resistance": r.resistance, "temperature_standard_uncertainty": r.temperature_u,
                           "standard_uncertainty": r.budget.standard_uncertainty, "dof": finite(r.budget.dof),
                           "k": r.k, "expanded_uncertainty": r.expanded_uncertainty, "coverage": r.budget.coverage,
                           "reported": {"resistance": value, "expanded_uncertainty": U},
                           "budget": budget_json(r.budget)})
        coefficients, cov = self.cvd.coefficients(), self.cvd.covariance()
        u = np.sqrt(np.diag(cov))
        callendar, callendar_cov = self.cvd.callendar()
        # The coefficients hold over the calibrated range only; within it, a temperature computed from them
        # carries their own uncertainty (correlated: through the covariance), largest between the points.
        low, high = min(r.reference_mean for r in self.results), max(r.reference_mean for r in self.results)
        grid = np.linspace(low, high, 101)
        u_interp = max(self.cvd.temperature_uncertainty(float(t)) for t in grid)
        return {"points": points, "cvd": {
            "range": {"low": low, "high": high}, "interpolation_standard_uncertainty": u_interp,
            "coefficients": coefficients, "fitted_c": self.cvd.fitted_c,
            "standard_uncertainties": {k: float(v) for k, v in zip(coefficients, u)},
            "callendar": callendar,
            "callendar_standard_uncertainties": {k: float(v) for k, v in
                                                 zip(callendar, np.sqrt(np.diag(callendar_cov)))},
            "residual_sd": self.cvd.residual_sd, "dof": self.cvd.dof,
            "residuals": [float(e) for e in self.cvd.residuals]}}


def resistance_results(points: list[ComparisonPoint], readout_resistance: float) -> tuple[list[ResistanceResult],
                                                                                        CvdFit]:
    """Each point's resistance with its budget, and the Callendar–Van Dusen fit weighted by them."""
    t = [float(np.mean(p.reference)) + p.certificate_correction for p in points]
    r = [float(np.mean(p.unit_under_test)) for p in points]
    first = fit(t, r, u_resistance=1.0)                 # only for dR/dt at each point: weights do not matter
    slopes = [_slope(first, x) for x in t]
    results = [evaluate_resistance(p, s, readout_resistance) for p, s in zip(points, slopes)]
    final = fit(t, r, u_resistance=[max(x.resistance_u, 1e-12) for x in results],
                u_t=[x.temperature_u for x in results])
    return results, final


def _slope(f: CvdFit, t: float, h: float = 0.01) -> float:
    return (f.resistance(t + h) - f.resistance(t - h)) / (2 * h)


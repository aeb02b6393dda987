"""Calibration of a thermometer by comparison with a reference thermometer in a stable heat source.

Model per point: C = (t̄_ref + c_cert + δ_drift + δ_uniformity) − (t̄_uut + δ_res), where C is the correction to
add to the unit under test's indication. Every input enters with sensitivity ±1, so each component's
contribution is its standard uncertainty.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .budget import DEFAULT_COVERAGE, BudgetResult, Component, combine, rectangular, round_result


@dataclass(frozen=True)
class ComparisonPoint:
    nominal: float
    reference: tuple[float, ...]          # raw reference indications
    unit_under_test: tuple[float, ...]    # raw UUT indications
    certificate_correction: float
    certificate_uncertainty: float        # standard uncertainty of the certificate correction
    drift_allowance: float = 0.0          # half-width, rectangular
    uniformity: float = 0.0               # half-width of the source's axial/radial non-uniformity, rectangular
    uut_resolution: float = 0.0           # resolution of the UUT indication (half of it is the half-width)
    reference_resolution: float = 0.0


@dataclass(frozen=True)
class ComparisonResult:
    nominal: float
    reference_mean: float                 # corrected, i.e. the conventional true temperature
    uut_mean: float
    correction: float
    budget: BudgetResult

    @property
    def expanded_uncertainty(self) -> float:
        return self.budget.expanded_uncertainty

    @property
    def k(self) -> float:
        return self.budget.k

    def reported(self) -> tuple[str, str]:
        return round_result(self.correction, self.expanded_uncertainty)


def _type_a(name: str, values: np.ndarray, description: str) -> Component:
    n = len(values)
    if n < 2:
        raise ValueError(f"{name}: at least two readings are needed for a Type A evaluation")
    return Component(name, float(np.std(values, ddof=1) / math.sqrt(n)), 1.0, n - 1, description)


def evaluate(point: ComparisonPoint, coverage: float = DEFAULT_COVERAGE) -> ComparisonResult:
    ref = np.asarray(point.reference, dtype=float)
    uut = np.asarray(point.unit_under_test, dtype=float)
    ref_mean = float(ref.mean()) + point.certificate_correction
    uut_mean = float(uut.mean())
    components = [
        Component("reference certificate", point.certificate_uncertainty, 1.0, math.inf,
                  "calibration certificate of the reference (U/k)"),
        Component("reference drift", rectangular(point.drift_allowance), 1.0, math.inf,
                  "drift since calibration, rectangular", "rectangular"),
        _type_a("reference repeatability", ref, "s/√n of the reference readings"),
        Component("reference resolution", rectangular(point.reference_resolution / 2), 1.0, math.inf,
                  "resolution of the reference indication", "rectangular"),
        Component("source uniformity", rectangular(point.uniformity), 1.0, math.inf,
                  "axial and radial uniformity of the heat source", "rectangular"),
        _type_a("UUT repeatability", uut, "s/√n of the unit under test's readings"),
        Component("UUT resolution", rectangular(point.uut_resolution / 2), -1.0, math.inf,
                  "resolution of the unit under test", "rectangular"),
    ]
    return ComparisonResult(point.nominal, ref_mean, uut_mean, ref_mean - uut_mean, combine(components, coverage))

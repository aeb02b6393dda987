"""Calibration of a non-automatic weighing instrument (after EURAMET cg-18 v4.0, simplified for the lab's SOP).

Tests: repeatability (n loadings of one load, s), eccentricity (one load at the centre and the four quarters,
the largest deviation from the centre), and the error of indication E = I − m_ref at each test load, with
m_ref the conventional mass of the reference weights (nominal + certificate corrections).

Budget of E at each load (all sensitivities 1; cg-18 section 7):
  resolution at zero and at load    d/(2√3) each, rectangular
  repeatability                     s from the repeatability test, for one reading; ν = n − 1
  eccentricity                      |ΔI_ecc|max / (2 L_ecc √3) · I, rectangular (cg-18 7.1.1-10)
  reference mass                    Σ U_i/k_i over the pieces (correlated: added linearly, cg-18 7.2.1)
  drift of the weights              Σ U_i over the pieces as the half-width, rectangular (cg-18 7.2.3: D = U
                                    when no history of the weights is kept)
  air buoyancy                      b · m_ref, rectangular; b the relative half-width for weights in
                                    conventional mass in a lab within ±10 % of 1.2 kg/m³ (cg-18 7.2.2-5)
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .budget import DEFAULT_COVERAGE, BudgetResult, Component, combine, rectangular, round_result


@dataclass(frozen=True)
class TestLoad:
    nominal: float
    reference_mass: float            # conventional mass of the weights used
    reference_uncertainty: float     # standard, Σ U/k over the pieces
    drift_half_width: float          # Σ U over the pieces
    indication: float


@dataclass(frozen=True)
class LoadResult:
    nominal: float
    reference_mass: float
    indication: float
    error: float
    budget: BudgetResult

    @property
    def expanded_uncertainty(self) -> float:
        return self.budget.expanded_uncertainty

    def reported(self) -> tuple[str, str]:
        return round_result(self.error, self.expanded_uncertainty)


@dataclass(frozen=True)
class BalanceResult:
    repeatability_sd: float
    repeatability_n: int
    eccentricity_max: float          # largest |I_i − I_centre|
    eccentricity_load: float
    loads: tuple[LoadResult, ...]


def evaluate_balance(repeatability: Sequence[float], eccentricity: Sequence[float], eccentricity_load: float,
                     loads: Sequence[TestLoad], d: float, buoyancy_relative: float = 1e-6,
                     coverage: float = DEFAULT_COVERAGE) -> BalanceResult:
    rep = np.asarray(repeatability, float)
    if rep.size < 2:
        raise ValueError("the repeatability test needs at least two loadings")
    if len(eccentricity) < 2:
        raise ValueError("the eccentricity test needs the centre and at least one off-centre position")
    if d <= 0:
        raise ValueError("the scale interval d must be positive")
    s = float(rep.std(ddof=1))
    ecc = np.asarray(eccentricity, float)
    ecc_max = float(np.max(np.abs(ecc[1:] - ecc[0])))
    results = []
    for load in loads:
        components = [
            Component("resolution at zero", rectangular(d / 2), 1.0, math.inf, "d/2, rectangular", "rectangular"),
            Component("resolution at load", rectangular(d / 2), 1.0, math.inf, "d/2, rectangular", "rectangular"),
            Component("repeatability", s, 1.0, rep.size - 1, f"s of {rep.size} loadings, one reading"),
            Component("eccentricity", rectangular(ecc_max / (2 * eccentricity_load) * load.indication), 1.0,
                      math.inf, "largest off-centre deviation, scaled to the load", "rectangular"),
            Component("reference mass", load.reference_uncertainty, -1.0, math.inf, "certificates of the weights"),
            Component("weight drift", rectangular(load.drift_half_width), -1.0, math.inf,
                      "drift since calibration of the weights", "rectangular"),
            Component("air buoyancy", rectangular(buoyancy_relative * load.reference_mass), -1.0, math.inf,
                      "conventional mass, air density not measured", "rectangular"),
        ]
        budget = combine(components, coverage)
        results.append(LoadResult(load.nominal, load.reference_mass, load.indication,
                                  load.indication - load.reference_mass, budget))
    return BalanceResult(s, int(rep.size), ecc_max, eccentricity_load, tuple(results))

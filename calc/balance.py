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
  air buoyancy                      u_rel(δm_B) · m_ref from the air density (CIPM-2007) and the weights'
                                    density class (calc/air.py; cg-18 7.1.2)
  convection                        declared relative half-width · m_ref, rectangular (cg-18 7.1.2.3: after
                                    acclimatisation of the weights)
  zero                              the largest zero indication before a loading (return to zero, creep;
                                    cg-18 7.1.1), rectangular; E is taken from the indication less its zero

The uncertainty of a weighing result W over the range (cg-18 section 8, C.2.2): the errors are fitted by a
line through zero, E(R) = a·R, weighted by 1/u²(E); a reading R corrected with it has
u²(W) = α + β R², α = 2 (d/√12)² + s², β = (ecc/(2 L_ecc √3))² + u²(a); U(W) = 2 u(W). Uncorrected, the
global U_gl(W) = U(W) + |a R| (cg-18 8.4.2).
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
    zero: float = 0.0                # the indication just before the loading


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
class Weighing:
    """The uncertainty of a weighing result W = R − a·R over the range (cg-18 section 8)."""
    slope: float                     # a, of E(R) = a·R
    slope_uncertainty: float
    alpha: float                     # g²
    beta: float                      # 1 (relative², per g² of R²)

    def expanded(self, reading: float) -> float:
        return 2 * math.sqrt(self.alpha + self.beta * reading ** 2)

    def global_expanded(self, reading: float) -> float:
        return self.expanded(reading) + abs(self.slope * reading)


@dataclass(frozen=True)
class BalanceResult:
    repeatability_sd: float
    repeatability_n: int
    eccentricity_max: float          # largest |I_i − I_centre|
    eccentricity_load: float
    loads: tuple[LoadResult, ...]
    weighing: Weighing | None = None


def evaluate_balance(repeatability: Sequence[float], eccentricity: Sequence[float], eccentricity_load: float,
                     loads: Sequence[TestLoad], d: float, buoyancy_relative: float = 1e-6,
                     coverage: float = DEFAULT_COVERAGE, convection_relative: float = 0.0,
                     buoyancy_source: str = "declared relative uncertainty") -> BalanceResult:
    """`buoyancy_relative`: the relative standard uncertainty of the buoyancy correction (calc.air.buoyancy)."""
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
    zero = max((abs(load.zero) for load in loads), default=0.0)
    results = []
    for load in loads:
        indication = load.indication - load.zero
        components = [
            Component("resolution at zero", rectangular(d / 2), 1.0, math.inf, "d/2, rectangular", "rectangular"),
            Component("resolution at load", rectangular(d / 2), 1.0, math.inf, "d/2, rectangular", "rectangular"),
            Component("repeatability", s, 1.0, rep.size - 1, f"s of {rep.size} loadings, one reading"),
            Component("eccentricity", rectangular(ecc_max / (2 * eccentricity_load) * indication), 1.0,
                      math.inf, "largest off-centre deviation, scaled to the load", "rectangular"),
            Component("zero", rectangular(zero), 1.0, math.inf,
                      "largest zero indication before a loading (return to zero, creep)", "rectangular"),
            Component("reference mass", load.reference_uncertainty, -1.0, math.inf, "certificates of the weights"),
            Component("weight drift", rectangular(load.drift_half_width), -1.0, math.inf,
                      "drift since calibration of the weights", "rectangular"),
            Component("air buoyancy", buoyancy_relative * load.reference_mass, -1.0, math.inf, buoyancy_source),
            Component("convection", rectangular(convection_relative * load.reference_mass), -1.0, math.inf,
                      "declared after acclimatisation of the weights (cg-18 7.1.2.3)", "rectangular"),
        ]
        budget = combine(components, coverage)
        results.append(LoadResult(load.nominal, load.reference_mass, indication,
                                  indication - load.reference_mass, budget))
    return BalanceResult(s, int(rep.size), ecc_max, eccentricity_load, tuple(results),
                         weighing_over_range(results, d, s, ecc_max, eccentricity_load))


def weighing_over_range(loads: Sequence[LoadResult], d: float, s: float, ecc_max: float,
                        eccentricity_load: float) -> Weighing | None:
    """cg-18 C.2.2: E(R) = a·R by weighted least squares through zero, and u²(W) = α + β R²."""
    if not loads:
        return None
    return fit_weighing([x.indication for x in loads], [x.error for x in loads],
                        [x.budget.standard_uncertainty for x in loads], d, s, ecc_max, eccentricity_load)


def fit_weighing(indications: Sequence[float], errors: Sequence[float], uncertainties: Sequence[float], d: float,
                 s: float, ecc_max: float, eccentricity_load: float) -> Weighing:
    """The fit of `weighing_over_range` from the points themselves (R_j, E_j, u(E_j)), as `labd calc weighing`
    takes them from a file."""
    r, e = np.asarray(indications, float), np.asarray(errors, float)
    u = np.asarray(uncertainties, float)
    if r.size == 0 or r.size != e.size or r.size != u.size:
        raise ValueError("one error and one uncertainty for each indication, at least one point")
    if not np.all(u > 0) or not np.any(r != 0):
        raise ValueError("every u(E) must be > 0 and some indication non-zero")
    if not eccentricity_load > 0:
        raise ValueError("the eccentricity test load must be > 0")
    w = 1 / u ** 2
    a = float(np.sum(w * e * r) / np.sum(w * r * r))
    u_a = float(1 / math.sqrt(np.sum(w * r * r)))
    alpha = 2 * (d / math.sqrt(12)) ** 2 + s ** 2
    beta = (ecc_max / (2 * eccentricity_load * math.sqrt(3))) ** 2 + u_a ** 2
    return Weighing(a, u_a, alpha, beta)

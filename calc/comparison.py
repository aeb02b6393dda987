"""Calibration of a thermometer by comparison with a reference thermometer in a stable heat source (EURAMET
cg-8 / cg-13 for the heat source's characterisation).

Model per point: C = (t̄_ref + c_cert + δ_interp + δ_drift + δ_readout + δ_res,ref) + (δ_axial + δ_radial +
δ_stability + δ_loading + δ_immersion + δ_hysteresis) − (t̄_uut + δ_res,uut), where C is the correction to add
to the unit under test's indication. Every input enters with sensitivity ±1, so each component's contribution
is its standard uncertainty. With a falling series the correction is the mean of the rising and the falling
one, and the hysteresis is half their difference (rectangular); without, a declared hysteresis is used.
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
    uniformity: float = 0.0               # half-width of the source's specified uniformity (no characterisation)
    uut_resolution: float = 0.0           # resolution of the UUT indication (half of it is the half-width)
    reference_resolution: float = 0.0
    # Half-widths (rectangular) of the further effects, with where each comes from:
    interpolation: float = 0.0            # between certificate points (linear against quadratic)
    readout: float = 0.0                  # of the reference's readout; 0 when its certificate covers the readout
    readout_covered: bool = False
    axial: float = 0.0                    # from the source's characterisation (report `characterised`)
    radial: float = 0.0
    source_stability: float = 0.0
    loading: float = 0.0
    characterised: str = ""               # the characterisation report; "" = none, the specification is used
    immersion: float = 0.0                # from the immersion test (stem conduction)
    hysteresis: float = 0.0               # declared; replaced by the measured one with a falling series
    immersion_source: str = ""            # how `immersion` was found; "" = the lab's declared value
    immersion_change: float | None = None # at the point of a withdrawal test: the correction's change measured


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


def _rect(name: str, half_width: float, source: str, sensitivity: float = 1.0) -> Component:
    return Component(name, rectangular(half_width), sensitivity, math.inf, source, "rectangular")


def evaluate(point: ComparisonPoint, coverage: float = DEFAULT_COVERAGE,
             falling: ComparisonPoint | None = None) -> ComparisonResult:
    """The correction and its budget at one set point; with `falling`, the same point approached from above."""
    ref = np.asarray(point.reference, dtype=float)
    uut = np.asarray(point.unit_under_test, dtype=float)
    ref_mean = float(ref.mean()) + point.certificate_correction
    uut_mean = float(uut.mean())
    hysteresis, how = point.hysteresis, "declared (rising series only)"
    if falling is not None:
        f_ref = float(np.mean(falling.reference)) + falling.certificate_correction
        f_uut = float(np.mean(falling.unit_under_test))
        rising_c, falling_c = ref_mean - uut_mean, f_ref - f_uut
        hysteresis, how = abs(rising_c - falling_c) / 2, "half the difference of the rising and falling series"
        ref_mean, uut_mean = (ref_mean + f_ref) / 2, (uut_mean + f_uut) / 2
    source = f"characterisation {point.characterised}" if point.characterised else None
    if source:
        block = [_rect("axial uniformity", point.axial, f"{source}: axial"),
                 _rect("radial uniformity", point.radial, f"{source}: radial"),
                 _rect("source stability", point.source_stability, f"{source}: stability over the reading time"),
                 _rect("source loading", point.loading, f"{source}: loading by the probes")]
    else:
        spec = "the source's specification (no characterisation in the register)"
        block = [_rect("axial uniformity", point.uniformity, spec),
                 _rect("radial uniformity", point.uniformity, spec),
                 _rect("source stability", 0.0, "in the repeatability (no characterisation in the register)"),
                 _rect("source loading", 0.0, "not characterised")]
    components = [
        Component("reference certificate", point.certificate_uncertainty, 1.0, math.inf,
                  "calibration certificate of the reference (U/k)"),
        _rect("certificate interpolation", point.interpolation,
              "linear against quadratic interpolation between the certificate's points"),
        _rect("reference drift", point.drift_allowance, "drift since calibration (register)"),
        _rect("reference readout", point.readout, "the certificate covers probe and readout" if point.readout_covered
              else "the readout's specification"),
        _type_a("reference repeatability", ref, "s/√n of the reference readings"),
        _rect("reference resolution", point.reference_resolution / 2, "resolution of the reference indication"),
        *block,
        _rect("immersion", point.immersion, point.immersion_source or "immersion test: stem conduction (declared)"),
        _rect("hysteresis", hysteresis, how),
        _type_a("UUT repeatability", uut, "s/√n of the unit under test's readings"),
        _rect("UUT resolution", point.uut_resolution / 2, "resolution of the unit under test", -1.0),
    ]
    return ComparisonResult(point.nominal, ref_mean, uut_mean, ref_mean - uut_mean, combine(components, coverage))


@dataclass(frozen=True)
class ResistanceResult:
    """A point of a thermometer read in resistance: the reference temperature, the UUT's resistance there, and
    the uncertainty of that resistance, with the temperature-side effects carried through dR/dt."""
    nominal: float
    reference_mean: float                 # °C, corrected
    resistance: float                     # Ω, mean
    temperature_u: float                  # °C, standard: everything on the reference side
    resistance_u: float                   # Ω, standard: the UUT's repeatability and the readout's resistance
    budget: BudgetResult                  # of R at t_ref, in Ω

    @property
    def expanded_uncertainty(self) -> float:
        return self.budget.expanded_uncertainty

    @property
    def k(self) -> float:
        return self.budget.k

    def reported(self) -> tuple[str, str]:
        return round_result(self.resistance, self.expanded_uncertainty)


def evaluate_resistance(point: ComparisonPoint, slope: float, readout_resistance: float = 0.0,
                        coverage: float = DEFAULT_COVERAGE) -> ResistanceResult:
    """The UUT's resistance at the reference temperature. `slope` is dR/dt (Ω/°C) of the UUT there (from the
    Callendar–Van Dusen fit of all points): every temperature-side component enters with that sensitivity;
    `readout_resistance` is the half-width (rectangular) of the readout's resistance measurement."""
    side = evaluate(point, coverage)            # the temperature side's budget, UUT terms left out below
    temperature_parts = [c for c in side.budget.components if not c.name.startswith("UUT")]
    uut = np.asarray(point.unit_under_test, dtype=float)
    components = [Component(c.name, c.standard_uncertainty, slope * c.sensitivity, c.dof, c.description,
                            c.distribution) for c in temperature_parts]
    components += [_type_a("UUT repeatability", uut, "s/√n of the unit under test's resistance readings"),
                   _rect("UUT readout resistance", readout_resistance, "the readout's specification in Ω"),
                   _rect("UUT resolution", point.uut_resolution / 2, "resolution of the resistance reading")]
    budget = combine(components, coverage)
    u_t = math.sqrt(sum(c.standard_uncertainty ** 2 * c.sensitivity ** 2 for c in temperature_parts))
    u_r = math.sqrt(sum(c.contribution ** 2 for c in components[len(temperature_parts):]))
    return ResistanceResult(point.nominal, side.reference_mean, float(uut.mean()), u_t, u_r, budget)

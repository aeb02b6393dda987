"""Statistics of intermediate checks: control charts, drift, stability of a working standard, and the next
calibration date.

Control chart: an individuals (Shewhart X) chart. Centre line and σ are taken from the data (σ from the mean
moving range, MR̄/1.128, which is robust to a drift) unless the lab fixes them from an earlier period.
Limits at ±2σ (warning) and ±3σ (action). Run rules (Western Electric): 1 point beyond 3σ; 2 of 3 successive
beyond 2σ on one side; 4 of 5 beyond 1σ on one side; 8 successive on one side of the centre line.

Drift: least-squares line through (time, value); the slope with its standard uncertainty and whether it is
significant at 95 % (|b| > t(0.975, n−2) u(b)).

Next calibration: the date when the predicted deviation from the calibrated value, plus its expanded
uncertainty, reaches the tolerance (the drift is extrapolated only when significant), capped by the maximum
interval the lab allows; without significant drift the maximum interval is recommended.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from scipy import stats

from .fit import polyfit

D2 = 1.128    # d2 for moving ranges of two


@dataclass(frozen=True)
class Violation:
    rule: str
    index: int         # the point at which the rule fires (0-based)


@dataclass(frozen=True)
class ControlChart:
    centre: float
    sigma: float
    warning: tuple[float, float]
    action: tuple[float, float]
    violations: tuple[Violation, ...]

    @property
    def in_control(self) -> bool:
        return not self.violations


def control_chart(values: Sequence[float], centre: float | None = None, sigma: float | None = None) -> ControlChart:
    x = np.asarray(values, float)
    if x.size < 2:
        raise ValueError("a control chart needs at least two values")
    c = float(x.mean()) if centre is None else float(centre)
    s = float(np.mean(np.abs(np.diff(x))) / D2) if sigma is None else float(sigma)
    if not s > 0:
        raise ValueError("the chart's σ is zero: every value is the same; give sigma from an earlier period")
    z = (x - c) / s
    found: list[Violation] = []

    def window_rule(name: str, size: int, need: int, level: float) -> None:
        for i in range(x.size):
            lo = max(0, i - size + 1)
            w = z[lo: i + 1]
            if (w > level).sum() >= need and z[i] > level or (w < -level).sum() >= need and z[i] < -level:
                found.append(Violation(name, i))

    for i, v in enumerate(z):
        if abs(v) > 3:
            found.append(Violation("1 point beyond 3σ", i))
    window_rule("2 of 3 beyond 2σ on one side", 3, 2, 2)
    window_rule("4 of 5 beyond 1σ on one side", 5, 4, 1)
    for i in range(7, x.size):
        w = z[i - 7: i + 1]
        if np.all(w > 0) or np.all(w < 0):
            found.append(Violation("8 successive on one side", i))
    return ControlChart(c, s, (c - 2 * s, c + 2 * s), (c - 3 * s, c + 3 * s),
                        tuple(sorted(found, key=lambda v: (v.index, v.rule))))


@dataclass(frozen=True)
class Drift:
    slope: float                   # per unit of time (per day when times are days)
    slope_uncertainty: float
    intercept: float               # value at time 0
    dof: int
    significant: bool
    residual_sd: float

    def predict(self, t: float) -> float:
        return self.intercept + self.slope * t


def drift(times: Sequence[float], values: Sequence[float]) -> tuple[Drift, np.ndarray]:
    fit = polyfit(times, values, 1)
    b, ub = float(fit.coefficients[1]), float(fit.standard_uncertainties[1])
    t_crit = float(stats.t.ppf(0.975, fit.dof))
    return Drift(b, ub, float(fit.coefficients[0]), fit.dof, abs(b) > t_crit * ub, fit.residual_sd), fit.covariance


@dataclass(frozen=True)
class Recommendation:
    next_calibration: date
    interval_days: int
    reason: str


def next_calibration(times_days: Sequence[float], deviations: Sequence[float], tolerance: float,
                     calibrated_on: date, max_interval_days: int = 730, k: float = 2.0,
                     expanded_at_calibration: float = 0.0) -> Recommendation:
    """`deviations` are the check results relative to the calibrated value, at `times_days` after
    `calibrated_on`. `tolerance` is the largest deviation the lab accepts (e.g. the MPE)."""
    if tolerance <= 0:
        raise ValueError("tolerance must be positive")
    d, cov = drift(times_days, deviations)
    t_last = float(max(times_days))
    if not d.significant:
        return Recommendation(calibrated_on + timedelta(days=max_interval_days), max_interval_days,
                              "no significant drift: the maximum interval")
    horizon = np.arange(math.ceil(t_last), max_interval_days + 1, dtype=float)
    g = np.stack([np.ones_like(horizon), horizon])
    pred = d.intercept + d.slope * horizon
    u = np.sqrt(np.einsum("in,ij,jn->n", g, cov, g) + (expanded_at_calibration / k) ** 2)
    reach = np.nonzero(np.abs(pred) + k * u >= tolerance)[0]
    if reach.size == 0:
        return Recommendation(calibrated_on + timedelta(days=max_interval_days), max_interval_days,
                              "the drift stays within tolerance up to the maximum interval")
    days = int(horizon[reach[0]])
    if days <= t_last:
        return Recommendation(calibrated_on + timedelta(days=days), days,
                              "the drift already reaches the tolerance: calibrate now")
    return Recommendation(calibrated_on + timedelta(days=days), days,
                          f"drift {d.slope:.3g}/day reaches the tolerance (with k={k:g} uncertainty) after {days} days")


@dataclass(frozen=True)
class Stability:
    n: int
    mean: float
    sd: float
    max_deviation: float           # largest |x_i − reference|
    en: float                      # of the mean against the reference value
    passed: bool
    dof: float = math.inf          # ν_eff of the mean's difference from the reference
    k: float = 2.0                 # t_p(ν_eff) at 95.45 %


def working_standard_stability(values: Sequence[float], reference: float, reference_expanded: float,
                               criterion: float, reference_k: float = 2.0) -> Stability:
    """Intermediate check of a working standard against a check standard on different days. It passes when
    every result lies within `criterion` of the reference value (the certificate value) and the mean is
    consistent with it: |E_n| ≤ 1 with U = k u, u² = (U_ref/k_ref)² + s²/n, and k = t_95.45(ν_eff) from
    Welch–Satterthwaite with ν = n − 1 for the day-to-day s (GUM G.4.1) and ∞ for the certificate's."""
    from .budget import coverage_factor, welch_satterthwaite
    x = np.asarray(values, float)
    if x.size < 2:
        raise ValueError("a stability evaluation needs at least two checks")
    if not reference_k > 0:
        raise ValueError("the reference's coverage factor must be > 0")
    mean, sd = float(x.mean()), float(x.std(ddof=1))
    max_dev = float(np.max(np.abs(x - reference)))
    u_ref, u_mean = reference_expanded / reference_k, sd / math.sqrt(x.size)
    dof = welch_satterthwaite([(u_ref, math.inf), (u_mean, x.size - 1)])
    k = coverage_factor(dof)
    u_comb = k * math.hypot(u_ref, u_mean)
    en = (mean - reference) / u_comb if u_comb > 0 else math.inf * np.sign(mean - reference)
    return Stability(x.size, mean, sd, max_dev, float(en), max_dev <= criterion and abs(en) <= 1, dof, k)

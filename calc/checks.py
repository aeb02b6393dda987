"""Statistics of intermediate checks: control charts, drift, stability of a working standard, and the next
calibration date.

Control chart: an individuals (Shewhart X) chart. Centre line and σ are taken from the data (σ from the mean
moving range, MR̄/1.128, which is robust to a drift) unless the lab fixes them from an earlier period.
Limits at ±2σ (warning) and ±3σ (action). Run rules (Western Electric): 1 point beyond 3σ; 2 of 3 successive
beyond 2σ on one side; 4 of 5 beyond 1σ on one side; 8 successive on one side of the centre line.

Drift: least-squares line through (time, value); the slope with its standard uncertainty and whether it is
significant at 95 % (|b| > t(0.975, n−2) u(b)).

Next calibration: the date when the predicted deviation from the calibrated value, plus its 95.45 %
prediction interval, reaches the tolerance (the drift is extrapolated only when significant), capped by the
maximum interval the lab allows; a check out of tolerance, or a constant deviation that with its uncertainty
reaches the tolerance, recommends calibration now. Verdicts follow a stated decision rule (ILAC-G8).
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

    def to_json(self) -> dict:
        return {"centre": self.centre, "sigma": self.sigma, "warning": self.warning, "action": self.action,
                "violations": [{"rule": v.rule, "index": v.index} for v in self.violations]}


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
    autocorrelation: float = 0.0   # lag-1, of the residuals, when the test allowed for it

    def predict(self, t: float) -> float:
        return self.intercept + self.slope * t

    def to_json(self) -> dict:
        return {"slope": self.slope, "standard_uncertainty": self.slope_uncertainty, "significant": self.significant}


def drift(times: Sequence[float], values: Sequence[float], autocorrelated: bool = False
          ) -> tuple[Drift, np.ndarray]:
    """The least-squares line and whether its slope is significant at 95 %.

    `autocorrelated`: readings taken close together (a stability run) are not independent, and ordinary least
    squares then understates u(slope). With the lag-1 autocorrelation r₁ of the residuals the variance is
    inflated by (1 + r₁)/(1 − r₁) and the test uses n_eff − 2 degrees of freedom, n_eff = n (1 − r₁)/(1 + r₁)
    (the AR(1) adjustment of Santer et al., J. Geophys. Res. 105 (2000) 7337–7356); r₁ ≤ 0 changes nothing."""
    fit = polyfit(times, values, 1)
    b, ub = float(fit.coefficients[1]), float(fit.standard_uncertainties[1])
    cov, dof, r1 = fit.covariance, fit.dof, 0.0
    if autocorrelated:
        e = fit.residuals
        ss = float(np.sum(e * e))
        r1 = float(np.sum(e[:-1] * e[1:]) / ss) if ss > 0 else 0.0
        if r1 > 0:
            inflation = (1 + r1) / (1 - r1) if r1 < 1 else math.inf
            n_eff = len(e) / inflation
            ub, cov = ub * math.sqrt(inflation), cov * inflation
            dof = max(int(math.floor(n_eff)) - 2, 1)
    t_crit = float(stats.t.ppf(0.975, dof))
    return Drift(b, ub, float(fit.coefficients[0]), dof, abs(b) > t_crit * ub, fit.residual_sd, r1), cov


def warm_up(values: Sequence[float]) -> int:
    """How many leading readings belong to a warm-up transient: the truncation d ≤ n/2 that minimises the
    marginal standard error Σ_{i≥d} (x_i − x̄_d)² / (n − d)² (MSER; White, Simulation 69 (1997) 323–334, as
    used to cut the initial transient of a steady-state series). Stationary data give d near 0."""
    x = np.asarray(values, float)
    n = x.size
    if n < 6:
        return 0
    y = x - x.mean()                              # centred: the suffix sums keep their digits
    s1 = np.cumsum(y[::-1])[::-1]                 # Σ_{i≥d} y_i, for every d at once (a week at 1 s is 6e5)
    s2 = np.cumsum((y * y)[::-1])[::-1]
    d = np.arange(n // 2 + 1)
    m = n - d
    score = np.maximum(s2[d] - s1[d] ** 2 / m, 0.0) / m ** 2
    return int(np.argmin(score))


@dataclass(frozen=True)
class Decision:
    """A conformity statement under a stated decision rule (ISO/IEC 17025 7.1.3, 7.8.6; ILAC-G8:09/2019)."""
    rule: str                      # "simple" or "guarded"
    deviation: float
    expanded_uncertainty: float    # U of the deviation, k = 2
    tolerance: float
    acceptance_limit: float        # T − w: the largest |deviation| accepted
    passed: bool

    @property
    def conformance_probability(self) -> float:
        """The probability that the true deviation lies within ±T, for a normal PDF centred on the deviation with
        u = U/2 (JCGM 106:2012 7.3.2: p_c = Φ((T_U − y)/u) − Φ((T_L − y)/u)); 1 for U = 0 inside the tolerance.
        Whatever the rule, 1 − p_c is the risk that this item is out of tolerance (at guarded acceptance's
        limit 1 − Φ(2) ≈ 2.3 %, ILAC-G8 4.2.2's "below 2.5 %"; at simple acceptance's limit 50 %)."""
        u = self.expanded_uncertainty / 2
        if u == 0:
            return 1.0 if abs(self.deviation) <= self.tolerance else 0.0
        return float(stats.norm.cdf((self.tolerance - self.deviation) / u)
                     - stats.norm.cdf((-self.tolerance - self.deviation) / u))

    @property
    def statement(self) -> str:
        return rule_statement(self.rule, self.acceptance_limit)

    def to_json(self) -> dict:
        return {"rule": self.rule, "statement": self.statement, "deviation": self.deviation,
                "expanded_uncertainty": self.expanded_uncertainty, "tolerance": self.tolerance,
                "acceptance_limit": self.acceptance_limit, "passed": self.passed,
                "conformance_probability": self.conformance_probability}


RULES = ("simple", "guarded")


def rule_statement(rule: str, acceptance_limit: float | None = None) -> str:
    """The decision rule in words, as a report states it (ISO/IEC 17025 7.8.6.2)."""
    if rule == "simple":
        return ("simple acceptance (ILAC-G8 4.2.1): accepted when the deviation lies within the tolerance; "
                "the risk of a false acceptance is shared and reaches 50 % at the limit")
    limit = "" if acceptance_limit is None else f" (|d| ≤ {acceptance_limit:.6g})"
    return (f"guarded acceptance (ILAC-G8 4.2.2), guard band w = U: accepted when the deviation lies within "
            f"the tolerance less U{limit}; the risk of a false acceptance stays below 2.5 %")


def decide(deviation: float, expanded_uncertainty: float, tolerance: float, rule: str = "simple") -> Decision:
    """Pass or fail of `deviation` against ±`tolerance` with its U (k = 2), by ILAC-G8's simple acceptance
    (w = 0) or guarded acceptance with w = U (binary statements)."""
    if rule not in RULES:
        raise ValueError(f"decision rule {rule!r}: one of {', '.join(RULES)}")
    if not tolerance > 0 or not expanded_uncertainty >= 0:
        raise ValueError("tolerance must be > 0 and U ≥ 0")
    limit = tolerance if rule == "simple" else tolerance - expanded_uncertainty
    return Decision(rule, deviation, expanded_uncertainty, tolerance, limit, limit > 0 and abs(deviation) <= limit)


@dataclass(frozen=True)
class Recommendation:
    next_calibration: date
    interval_days: int
    reason: str

    def to_json(self) -> dict:
        return {"next_calibration": self.next_calibration.isoformat(), "interval_days": self.interval_days,
                "reason": self.reason}


def staircase(current_days: int, passed: bool, longer: float = 1.25, shorter: float = 0.5, min_days: int = 30,
              max_days: int = 730) -> int:
    """ILAC-G24:2022 method 1 (automatic or "staircase" adjustment): after a check within tolerance the interval
    is lengthened by `longer`, after one out of tolerance shortened by `shorter`, within [min_days, max_days]."""
    if current_days < 1 or not 0 < shorter < 1 < longer:
        raise ValueError("the staircase needs an interval ≥ 1 day, shorter < 1 < longer")
    return int(min(max(round(current_days * (longer if passed else shorter)), min_days), max_days))


def _t(dof: int) -> float:
    """k for a 95.45 % prediction interval with `dof` degrees of freedom (GUM G.3)."""
    return float(stats.t.ppf(0.97725, dof)) if dof >= 1 else math.inf


def next_calibration(times_days: Sequence[float], deviations: Sequence[float], tolerance: float,
                     calibrated_on: date, max_interval_days: int = 730, k: float | None = None,
                     expanded_at_calibration: float = 0.0, out_of_tolerance: bool = False,
                     today_days: float | None = None) -> Recommendation:
    """The recommended next calibration from intermediate checks (ILAC-G24:2022 6.3, method 2: control chart,
    calendar time): the first day at which the deviation predicted for a future check, with its 95.45 %
    prediction interval, reaches the tolerance, capped by the maximum interval.

    `deviations` are check results relative to the reference value, at `times_days` after `calibrated_on`.
    The prediction interval of a new check is t(ν)·√(u²(fit) + s² + u²(cal)): the fitted line's own
    uncertainty, the residual scatter s a single future check shows, and the standard uncertainty of the
    calibration (U/2, which the check cannot see), with ν = n − 2 (a line) or n − 1 (no significant drift: the
    mean). `out_of_tolerance` (the latest check failed its decision rule) recommends adjustment or calibration
    now, whatever the trend. `k` fixes the coverage factor instead of t(ν) (kept for comparisons)."""
    if tolerance <= 0:
        raise ValueError("tolerance must be positive")
    t_arr, y = np.asarray(times_days, float), np.asarray(deviations, float)
    now = float(max(times_days) if today_days is None else today_days)
    u_cal = expanded_at_calibration / 2
    if out_of_tolerance:
        days = max(int(now), 0)
        return Recommendation(calibrated_on + timedelta(days=days), days,
                              "out of tolerance: adjust or recalibrate now")
    d, cov = drift(times_days, deviations)
    if not d.significant:
        n = y.size
        mean, s = float(y.mean()), float(y.std(ddof=1))
        u = math.sqrt(s * s * (1 + 1 / n) + u_cal ** 2)
        if abs(mean) + (k or _t(n - 1)) * u >= tolerance:
            days = max(int(now), 0)
            return Recommendation(calibrated_on + timedelta(days=days), days,
                                  "the deviation with its uncertainty already reaches the tolerance: calibrate now")
        return Recommendation(calibrated_on + timedelta(days=max_interval_days), max_interval_days,
                              "no significant drift: the maximum interval")
    horizon = np.arange(math.ceil(float(t_arr.max())), max_interval_days + 1, dtype=float)
    g = np.stack([np.ones_like(horizon), horizon])
    pred = d.intercept + d.slope * horizon
    u = np.sqrt(np.einsum("in,ij,jn->n", g, cov, g) + d.residual_sd ** 2 + u_cal ** 2)
    factor = k or _t(d.dof)
    reach = np.nonzero(np.abs(pred) + factor * u >= tolerance)[0]
    if reach.size == 0:
        return Recommendation(calibrated_on + timedelta(days=max_interval_days), max_interval_days,
                              "the drift stays within tolerance up to the maximum interval")
    days = int(horizon[reach[0]])
    if days <= now:
        return Recommendation(calibrated_on + timedelta(days=days), days,
                              "the drift already reaches the tolerance: calibrate now")
    return Recommendation(calibrated_on + timedelta(days=days), days,
                          f"drift {d.slope:.3g}/day reaches the tolerance (with k={factor:.3g} uncertainty) after "
                          f"{days} days")


INTERVAL_METHODS = ("control-chart", "staircase")


def check_chart(deviations: Sequence[float], u_check_standard: float, expanded_at_calibration: float
                ) -> ControlChart:
    """The control chart of an instrument's checks, centred on the reference value (0: a correct instrument
    reads the check standard's value) with σ = √(u²(check standard) + (U_cal/2)²), the scatter a check of a
    correctly calibrated instrument shows. So a constant bias shows, which a chart centred on the data's own
    mean would hide."""
    sigma = math.hypot(u_check_standard, expanded_at_calibration / 2)
    return control_chart(deviations, centre=0.0, sigma=sigma)


def review_interval(method: str, days: Sequence[float], deviations: Sequence[float], tolerance: float,
                    calibrated_on: date, max_interval_days: int, latest_passed: bool,
                    expanded_at_calibration: float = 0.0, current_interval_days: int | None = None
                    ) -> tuple[Recommendation | None, Drift | None]:
    """The next calibration after a check (ILAC-G24:2022 clause 6), and the checks' drift when there are three
    days of them. A latest check that failed its decision rule asks for adjustment or calibration now,
    whatever the method. Otherwise method 2 (6.3, control chart) extrapolates the drift of the checks
    (`next_calibration`); method 1 (6.2, staircase) lengthens `current_interval_days` after a check within
    tolerance. With fewer than three days the control chart has no recommendation yet (None)."""
    if method not in INTERVAL_METHODS:
        raise ValueError(f"interval method {method!r}: one of {', '.join(INTERVAL_METHODS)}")
    if len(days) != len(deviations) or not deviations:
        raise ValueError(f"days and deviations must be lists of the same length ({len(days)} and "
                         f"{len(deviations)} given)")
    rec: Recommendation | None = None
    if not latest_passed:
        rec = next_calibration(days, deviations, tolerance, calibrated_on, max_interval_days, out_of_tolerance=True)
    d: Drift | None = None
    if len(deviations) >= 3 and len(set(days)) >= 3:
        d, _ = drift(days, deviations)
        if method == "control-chart" and rec is None:
            rec = next_calibration(days, deviations, tolerance, calibrated_on, max_interval_days,
                                   expanded_at_calibration=expanded_at_calibration)
    if method == "staircase" and latest_passed:
        if current_interval_days is None:
            raise ValueError("the staircase needs the current interval (current_interval_days)")
        interval = staircase(current_interval_days, True, max_days=max_interval_days)
        reason = (f"staircase (ILAC-G24 method 1): within tolerance, the interval of {current_interval_days} "
                  f"days lengthened to {interval} days")
        # The staircase sees only pass or fail. When the checks' own drift reaches the tolerance sooner, say so:
        # the lab keeps its method, but nobody should learn it from the next failed check.
        if d is not None and d.significant:
            drifting = next_calibration(days, deviations, tolerance, calibrated_on, max_interval_days,
                                        expanded_at_calibration=expanded_at_calibration)
            if drifting.interval_days < interval:
                reason += (f"; but the checks' drift reaches the tolerance after {drifting.interval_days} days "
                           f"({drifting.next_calibration.isoformat()}, method 2)")
        rec = Recommendation(calibrated_on + timedelta(days=interval), interval, reason)
    return rec, d


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
    standard_uncertainty: float = 0.0   # u of the mean's difference: √((U_ref/k_ref)² + s²/n)


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
    u = math.hypot(u_ref, u_mean)
    en = (mean - reference) / (k * u) if u > 0 else math.inf * np.sign(mean - reference)
    return Stability(x.size, mean, sd, max_dev, float(en), max_dev <= criterion and abs(en) <= 1, dof, k, u)

"""Callendar–Van Dusen: a platinum resistance thermometer's R(t) fitted from calibration points (IEC 60751:2022
clause 4.2; ASTM E1137):

    R(t) = R0 (1 + A t + B t²)                       for t ≥ 0 °C
    R(t) = R0 (1 + A t + B t² + C (t − 100 °C) t³)   for t < 0 °C

The model is linear in a = (R0, R0·A, R0·B, R0·C), so the fit is linear least squares on the design
[1, τ, τ², (τ − 1) τ³ · (t < 0)] with τ = t / 100 °C, which keeps the columns of like size (t⁴ reaches 5e11 at
850 °C); R0, A, B, C and their covariance follow from a through the exact Jacobian. C is fitted when a point
lies below 0 °C (or as asked). Weights: with u(R) (and u(t), carried into R through dR/dt, GUM 5.1.3 for an
errors-in-variables line) the covariance is (XᵀWX)⁻¹ and the Birge ratio shows a misfit; without, it is
s²(XᵀX)⁻¹ with s² = Σr²/(n − p) as in GUM H.3.

Callendar's own form, which several readouts take instead (Hart/Fluke 1502A, 1504, 1560: R0, ALPHA, DELTA,
BETA), follows from A, B, C exactly: α = A + 100 B, δ = −10⁴ B / α, β = −10⁸ C / α (with t/100 °C as the
variable; the conversion as the Fluke 1560 User's Guide states it), its covariance through the same Jacobian.

A temperature interpolated from a measured resistance is the root of R(t) = R (Newton from the linear guess);
its uncertainty combines the coefficients' covariance, u(R) of that measurement, and nothing else: the
readout's and the bath's shares belong to the budget that uses it.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

NAMES = ("R0", "A", "B", "C")
T_MIN, T_MAX = -200.0, 850.0                  # °C: the range IEC 60751 gives the equation for
# A measured point may lie a little beyond the equation's range (a reference reading 850.02 °C at an 850 °C set
# point); none lies below absolute zero or above 1000 °C, where a number is a typing or unit error.
PLAUSIBLE = (-273.15, 1000.0)
_SCALE = np.array([1.0, 1e2, 1e4, 1e8])      # a_j = R0 · coefficient_j · scale_j


def _rows(t: np.ndarray, with_c: bool) -> np.ndarray:
    tau = t / 100.0
    columns = [np.ones_like(tau), tau, tau ** 2]
    if with_c:
        columns.append(np.where(t < 0, (tau - 1) * tau ** 3, 0.0))
    return np.stack(columns, axis=-1)


def _slope(t: np.ndarray, a: np.ndarray) -> np.ndarray:
    """dR/dt of the scaled model with coefficients a, per °C."""
    tau = t / 100.0
    d = a[1] + 2 * a[2] * tau
    if a.size > 3:
        d = d + np.where(t < 0, a[3] * (4 * tau ** 3 - 3 * tau ** 2), 0.0)
    return d / 100.0


@dataclass(frozen=True)
class CvdFit:
    a: np.ndarray                  # scaled linear coefficients
    a_covariance: np.ndarray
    residual_sd: float             # s (unweighted) or the Birge ratio (weighted)
    dof: int
    weighted: bool
    residuals: np.ndarray          # R − R(t), Ω

    @property
    def fitted_c(self) -> bool:
        return self.a.size == 4

    def coefficients(self) -> dict[str, float]:
        a = np.append(self.a, 0.0) if not self.fitted_c else self.a
        return {n: float(a[0] if j == 0 else a[j] / (a[0] * _SCALE[j])) for j, n in enumerate(NAMES)}

    def covariance(self) -> np.ndarray:
        """Of (R0, A, B, C); C's row and column are zero when C was not fitted."""
        p = self.a.size
        jac = np.zeros((4, p))
        jac[0, 0] = 1.0
        for j in range(1, p):
            jac[j, 0] = -self.a[j] / (self.a[0] ** 2 * _SCALE[j])
            jac[j, j] = 1.0 / (self.a[0] * _SCALE[j])
        return jac @ self.a_covariance @ jac.T

    def callendar(self) -> tuple[dict[str, float], np.ndarray]:
        """(R0, alpha, delta, beta) and their covariance; beta is 0 when C was not fitted."""
        c = self.coefficients()
        a_, b_, c_ = c["A"], c["B"], c["C"]
        alpha = a_ + 100 * b_
        jac = np.array([
            [1.0, 0.0, 0.0, 0.0],
            [0.0, 1.0, 100.0, 0.0],
            [0.0, 1e4 * b_ / alpha ** 2, -1e4 / alpha + 1e6 * b_ / alpha ** 2, 0.0],
            [0.0, 1e8 * c_ / alpha ** 2, 1e10 * c_ / alpha ** 2, -1e8 / alpha],
        ])
        # + 0.0 turns the −0.0 of an unfitted C (−1e8 · 0 / α) into 0.0, which is how a certificate prints it
        values = {"R0": c["R0"], "alpha": alpha, "delta": -1e4 * b_ / alpha + 0.0, "beta": -1e8 * c_ / alpha + 0.0}
        return values, jac @ self.covariance() @ jac.T

    def resistance(self, t: float) -> float:
        return float(_rows(np.array([t], float), self.fitted_c)[0] @ self.a)

    def temperature(self, resistance: float, u_resistance: float = 0.0) -> tuple[float, float]:
        """t with R(t) = `resistance`, and its standard uncertainty from the fit and from u(R)."""
        c = self.coefficients()
        t = (resistance / c["R0"] - 1) / c["A"]
        for _ in range(50):
            step = (self.resistance(t) - resistance) / float(_slope(np.array([t]), self.a)[0])
            t -= step
            if abs(step) < 1e-12:
                break
        return t, self.temperature_uncertainty(t, u_resistance)

    def temperature_uncertainty(self, t: float, u_resistance: float = 0.0) -> float:
        """u of the temperature t computed from a resistance: from the coefficients' covariance and u(R)."""
        slope = float(_slope(np.array([t]), self.a)[0])
        g = _rows(np.array([t]), self.fitted_c)[0] / slope          # ∂t/∂a = −(∂R/∂a)/(∂R/∂t), sign irrelevant
        return math.sqrt(float(g @ self.a_covariance @ g) + (u_resistance / slope) ** 2)


def fit(t: Sequence[float], resistance: Sequence[float], u_resistance: float | Sequence[float] | None = None,
        u_t: float | Sequence[float] | None = None, with_c: bool | None = None) -> CvdFit:
    """u_resistance and u_t: one standard uncertainty for every point, or one per point."""
    ts, rs = np.asarray(t, float), np.asarray(resistance, float)
    if ts.ndim != 1 or ts.shape != rs.shape:
        raise ValueError(f"t and R must be lists of the same length ({ts.size} and {rs.size} given)")
    if not (np.all(np.isfinite(ts)) and np.all(np.isfinite(rs)) and np.all(rs > 0)):
        raise ValueError("every t must be finite and every R finite and positive")
    outside = ts[(ts < PLAUSIBLE[0]) | (ts > PLAUSIBLE[1])]
    if outside.size:
        raise ValueError(f"{outside[0]:g} °C is no temperature a platinum resistance thermometer is calibrated at "
                         f"(the equation is defined from {T_MIN:g} °C to {T_MAX:g} °C, IEC 60751)")
    below = bool(np.any(ts < 0))
    with_c = below if with_c is None else with_c
    if with_c and not below:
        raise ValueError("C applies below 0 °C only: fitting it needs a point below 0 °C")
    p = 4 if with_c else 3
    if np.unique(ts).size < p:
        raise ValueError(f"fitting {', '.join(NAMES[:p])} needs at least {p} distinct temperatures; "
                         f"{np.unique(ts).size} given")
    weighted = u_resistance is not None or u_t is not None
    if not weighted and ts.size <= p:
        raise ValueError(f"{ts.size} points for {p} coefficients: give u_R (and u_t) or more points, so the "
                         f"coefficients' uncertainty can be estimated")
    ur = np.broadcast_to(np.asarray(u_resistance if u_resistance is not None else 0.0, float), ts.shape)
    ut = np.broadcast_to(np.asarray(u_t if u_t is not None else 0.0, float), ts.shape)
    if np.any(ur < 0) or np.any(ut < 0):
        raise ValueError("uncertainties must be ≥ 0")
    design = _rows(ts, with_c)
    a = np.linalg.lstsq(design, rs, rcond=None)[0]
    w = np.ones_like(rs)
    for _ in range(3 if weighted else 0):     # u(t) enters through dR/dt, which depends on the fit
        u_eff = np.sqrt(ur ** 2 + (_slope(ts, a) * ut) ** 2)
        if not np.all(u_eff > 0):
            raise ValueError("every point needs u_R > 0 or u_t > 0 for a weighted fit")
        w = 1 / u_eff
        q, r = np.linalg.qr(design * w[:, None])
        a = np.linalg.solve(r, q.T @ (rs * w))
    residuals = rs - design @ a
    dof = ts.size - p
    r_inv = np.linalg.inv(np.linalg.qr(design * w[:, None])[1])
    unscaled = r_inv @ r_inv.T
    chi2 = float(np.sum((residuals * w) ** 2))
    if weighted:
        return CvdFit(a, unscaled, math.sqrt(chi2 / dof) if dof > 0 else 0.0, dof, True, residuals)
    s2 = chi2 / dof
    return CvdFit(a, s2 * unscaled, math.sqrt(s2), dof, False, residuals)

"""Polynomial calibration curves by least squares, with the covariance of the coefficients.

Ordinary least squares (no u(y) given): V(β) = s² (XᵀX)⁻¹ with s² = Σr²/(n − p), as in GUM H.3. Weighted least
squares with known u(y_i): weights 1/u_i², V(β) = (XᵀWX)⁻¹, and the residual standard deviation is reported as
the Birge ratio √(χ²/(n − p)) so that a misfit shows. The fit is in x − x0 (GUM H.3 uses t − t0) to keep the
normal equations well conditioned; QR is used rather than forming XᵀX.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Prediction:
    x: float
    value: float
    standard_uncertainty: float


@dataclass(frozen=True)
class Fit:
    degree: int
    x0: float
    coefficients: np.ndarray          # β_0 + β_1 (x − x0) + …
    covariance: np.ndarray
    residual_sd: float
    dof: int
    weighted: bool
    residuals: np.ndarray

    @property
    def standard_uncertainties(self) -> np.ndarray:
        return np.sqrt(np.diag(self.covariance))

    @property
    def correlation(self) -> np.ndarray:
        u = self.standard_uncertainties
        return self.covariance / np.outer(u, u)

    def _row(self, x: float) -> np.ndarray:
        return (x - self.x0) ** np.arange(self.degree + 1)

    def predict(self, x: float) -> Prediction:
        g = self._row(x)
        return Prediction(float(x), float(g @ self.coefficients), float(math.sqrt(g @ self.covariance @ g)))


def polyfit(x: Sequence[float], y: Sequence[float], degree: int = 1, u_y: Sequence[float] | None = None,
            x0: float = 0.0) -> Fit:
    xs, ys = np.asarray(x, float), np.asarray(y, float)
    return _polyfit(xs, ys, degree, u_y, x0)


def _polyfit(x: np.ndarray, y: np.ndarray, degree: int, u_y: Sequence[float] | None, x0: float) -> Fit:
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"x and y must be lists of the same length ({x.size} and {y.size} given)")
    if not isinstance(degree, int) or degree < 0:
        raise ValueError("degree must be a whole number ≥ 0")
    p = degree + 1
    if x.size <= p:
        raise ValueError(f"a degree-{degree} fit needs more than {p} points to estimate its uncertainty; "
                         f"{x.size} given")
    if np.unique(x).size < p:
        raise ValueError(f"a degree-{degree} fit needs at least {p} distinct x values")
    design = (x - x0)[:, None] ** np.arange(p)
    if u_y is not None:
        u = np.asarray(u_y, float)
        if u.shape != y.shape or not np.all(u > 0):
            raise ValueError("u_y must give a positive uncertainty for every point")
        w = 1 / u
    else:
        w = np.ones_like(y)
    q, r = np.linalg.qr(design * w[:, None])
    beta = np.linalg.solve(r, q.T @ (y * w))
    residuals = y - design @ beta
    dof = x.size - p
    chi2 = float(np.sum((residuals * w) ** 2))
    r_inv = np.linalg.inv(r)
    unscaled = r_inv @ r_inv.T
    if u_y is None:
        s2 = chi2 / dof
        return Fit(degree, x0, beta, s2 * unscaled, math.sqrt(s2), dof, False, residuals)
    return Fit(degree, x0, beta, unscaled, math.sqrt(chi2 / dof), dof, True, residuals)


def interpolate_table(points: Sequence[float], corrections: Sequence[float], uncertainties: Sequence[float],
                      at: float) -> tuple[float, float]:
    """Correction at `at` by linear interpolation of a certificate table, with its standard uncertainty taken
    as the larger of the two neighbouring points' (interpolation adds no information). Refuses extrapolation."""
    pts = np.asarray(points, float)
    order = np.argsort(pts)
    pts, corr, unc = pts[order], np.asarray(corrections, float)[order], np.asarray(uncertainties, float)[order]
    if not pts[0] <= at <= pts[-1]:
        raise ValueError(f"{at:g} is outside the certificate's range {pts[0]:g} … {pts[-1]:g}")
    i = int(np.searchsorted(pts, at, side="right")) - 1
    if i >= pts.size - 1 or pts[i] == at:
        return float(corr[i]), float(unc[i])
    f = (at - pts[i]) / (pts[i + 1] - pts[i])
    return float(corr[i] + f * (corr[i + 1] - corr[i])), float(max(unc[i], unc[i + 1]))

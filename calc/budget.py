"""Combining an uncertainty budget per JCGM 100 (GUM) for uncorrelated inputs.

Each component carries its standard uncertainty u(x_i), sensitivity coefficient c_i and degrees of freedom
ν_i. The combined standard uncertainty is u_c = sqrt(Σ (c_i u_i)²) (GUM 5.1.2), the effective degrees of
freedom come from Welch–Satterthwaite (GUM G.4.1, truncated to the integer below), and the coverage factor
from Student's t at the chosen coverage probability (95.45 % by default, GUM Table G.2).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext

from scipy import stats

DEFAULT_COVERAGE = 0.9545


@dataclass(frozen=True)
class Component:
    name: str
    standard_uncertainty: float
    sensitivity: float = 1.0
    dof: float = math.inf
    description: str = ""
    distribution: str = "normal"

    @property
    def contribution(self) -> float:
        """|c_i| u(x_i), the component's share of u_c before squaring."""
        return abs(self.sensitivity) * self.standard_uncertainty


@dataclass(frozen=True)
class BudgetResult:
    components: tuple[Component, ...]
    standard_uncertainty: float
    dof: float
    k: float
    coverage: float

    @property
    def expanded_uncertainty(self) -> float:
        return self.k * self.standard_uncertainty

    def share(self, name: str) -> float:
        """Fraction of u_c² due to one component."""
        total = self.standard_uncertainty ** 2
        comp = next(c for c in self.components if c.name == name)
        return comp.contribution ** 2 / total if total else 0.0


def rectangular(half_width: float) -> float:
    return half_width / math.sqrt(3)


def triangular(half_width: float) -> float:
    return half_width / math.sqrt(6)


def arcsine(half_width: float) -> float:
    return half_width / math.sqrt(2)


def welch_satterthwaite(contributions: list[tuple[float, float]]) -> float:
    """ν_eff = u_c⁴ / Σ (u_i⁴ / ν_i) for (u_i = |c_i| u(x_i), ν_i) pairs; infinite when every ν_i is."""
    uc2 = sum(u * u for u, _ in contributions)
    denominator = sum(u**4 / nu for u, nu in contributions if math.isfinite(nu) and u > 0)
    if denominator == 0:
        return math.inf
    return uc2 * uc2 / denominator


def coverage_factor(dof: float, coverage: float = DEFAULT_COVERAGE) -> float:
    """k = t_p(ν) with ν truncated to the integer below (GUM G.4.1 note); normal quantile when ν is infinite."""
    if not 0 < coverage < 1:
        raise ValueError(f"coverage probability must be between 0 and 1, not {coverage}")
    if math.isnan(dof):
        raise ValueError("effective degrees of freedom not a number")
    # Beyond 1e7 (or infinite) t and the normal agree to 1e-7 relative; t.ppf would need an integer ν that no
    # longer fits (ν ≈ 1.8e19 crashed it), so the normal quantile is used.
    if dof > 1e7:
        return float(stats.norm.ppf(0.5 + coverage / 2))
    nu = math.floor(dof * (1 + 1e-9))     # 3.9999999999 from rounding noise in the sums is 4
    if nu < 1:
        raise ValueError(f"effective degrees of freedom {dof:g} below 1: no coverage factor exists")
    return float(stats.t.ppf(0.5 + coverage / 2, nu))


def combine(components: list[Component], coverage: float = DEFAULT_COVERAGE) -> BudgetResult:
    if not components:
        raise ValueError("an uncertainty budget needs at least one component")
    for c in components:
        if not (c.standard_uncertainty >= 0 and math.isfinite(c.standard_uncertainty)):
            raise ValueError(f"component {c.name!r}: standard uncertainty must be finite and ≥ 0")
        if not c.dof > 0:
            raise ValueError(f"component {c.name!r}: degrees of freedom must be > 0")
    contributions = [(c.contribution, c.dof) for c in components]
    uc = math.sqrt(sum(u * u for u, _ in contributions))
    dof = welch_satterthwaite(contributions)
    return BudgetResult(tuple(components), uc, dof, coverage_factor(dof, coverage), coverage)


def round_result(value: float, expanded: float, digits: int = 2) -> tuple[str, str]:
    """The value and U as reported (EA-4/02 M:2022 §5; GUM 7.2.6): U to `digits` significant digits, the value to
    the same decimal place, both rounded in decimal arithmetic from the unrounded numbers (a float's shortest
    repr, so 0.1235 is 0.1235 and not 0.12349999…), half up.

    U is rounded up instead when rounding to nearest would understate it by more than 5 % (GUM 7.2.6 allows
    rounding up). When rounding carries U into a new digit (0.0995 → 0.10), the value follows U's new last
    digit. Magnitudes that would need more than nine decimals, or numbers of 10¹⁵ and more, are written in
    scientific notation, each with its own exponent (1.2346e-11, 1.2e-14)."""
    if expanded <= 0 or not math.isfinite(expanded):
        raise ValueError("expanded uncertainty must be positive and finite")
    if not math.isfinite(value):
        raise ValueError("the value must be finite")
    with localcontext() as ctx:
        ctx.prec = 1000                       # enough for any double to its last decimal place
        u = Decimal(repr(float(expanded)))
        quantum = Decimal(1).scaleb(u.adjusted() - digits + 1)
        rounded = u.quantize(quantum, ROUND_HALF_UP)
        if rounded < u * Decimal("0.95"):
            rounded += quantum
        if rounded.adjusted() > u.adjusted():           # 0.0995 → 0.100 → 0.10: still `digits` digits
            quantum = Decimal(1).scaleb(rounded.adjusted() - digits + 1)
            rounded = rounded.quantize(quantum, ROUND_HALF_UP)
        v = Decimal(repr(float(value))).quantize(quantum, ROUND_HALF_UP)
        place = quantum.adjusted()
        if place >= -9 and max(abs(v), rounded) < Decimal("1e15"):
            return _plain(v, place), _plain(rounded, place)
        return _scientific(v, place), _scientific(rounded, place)


def _plain(x: Decimal, place: int) -> str:
    text = f"{x:.{max(-place, 0)}f}"
    return "0" + text[2:] if text.startswith("-0") and not any(c in "123456789" for c in text) else text


def _scientific(x: Decimal, place: int) -> str:
    exponent = x.adjusted() if x != 0 else place
    return f"{x:.{max(exponent - place, 0)}e}"


def decimals_of(reported: str) -> int:
    """Decimal places of a reported number (e.g. of U as rounded), to show the other columns alike."""
    mantissa, _, exponent = reported.lower().partition("e")
    places = len(mantissa.split(".")[1]) if "." in mantissa else 0
    return max(places - int(exponent or 0), 0)

"""Performance scores for inter-laboratory comparisons, proficiency tests and personnel tests.

ISO 13528:2015 §9 and ISO/IEC 17043: z = (x − x_pt)/σ_pt; z′ = (x − x_pt)/√(σ_pt² + u²(x_pt));
ζ = (x − x_pt)/√(u²(x) + u²(x_pt)); E_n = (x − x_pt)/√(U²(x) + U²(x_pt)). Verdicts: |z|, |z′|, |ζ| ≤ 2
satisfactory, 2 < |·| < 3 questionable (warning signal), ≥ 3 unsatisfactory (action signal); |E_n| ≤ 1
satisfactory, otherwise unsatisfactory.

Without an assigned value, Algorithm A (ISO 13528:2015 Annex C.3) gives the robust mean x* and robust standard
deviation s*; then x_pt = x*, σ_pt = s* unless given, and u(x_pt) = 1.25 s*/√p (§7.7.3).

Stopping rule of Algorithm A: ISO 13528 stops "when there is no change in the third significant figure" of x*
and s*; that rule stops at a point that depends on the starting values and can leave s* a few per cent from
the fixed point. The default here iterates to the fixed point (relative change below 1e-12, at most 1000
iterations); `stop="third-figure"` reproduces the standard's rule for comparison with a report that used it.

Constants: ISO 13528 prints 1.483 (MADe) and 1.134 (the correction of the winsorised standard deviation), the
roundings of 1/Φ⁻¹(3/4) = 1.4826 and 1/√β(1.5) = 1.1334 of Huber's proposal 2, which Algorithm A is (the AMC's
"H15"). `constants="iso"` (the default) uses the printed ones, as the lab's reports must; `constants="huber"` uses
the exact ones, to reproduce Huber estimates published to more digits than the standard's constants carry
(the AMC copper-in-flour reference case). Their fixed points differ by a fraction of a per cent in s*.
"""
from __future__ import annotations

from typing import Any

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

EN_K_DEFAULT = 2.0    # U = 2u when a participant reports only a standard uncertainty
_K = 1.5              # winsorising at 1.5 s*


def _huber_beta(k: float) -> float:
    inside = 2 * norm.cdf(k) - 1
    return float(inside + k * k * (1 - inside) - 2 * k * norm.pdf(k))


# (factor on the median absolute deviation, factor on the winsorised standard deviation)
CONSTANTS = {"iso": (1.483, 1.134),
             "huber": (float(1 / norm.ppf(0.75)), float(1 / math.sqrt(_huber_beta(_K))))}


@dataclass(frozen=True)
class RobustResult:
    mean: float
    sd: float
    iterations: int
    stop: str
    constants: str = "iso"


def _third_figure_same(a: float, b: float) -> bool:
    if a == b:
        return True
    if a == 0 or b == 0:
        return False
    return float(f"{a:.3g}") == float(f"{b:.3g}")


def algorithm_a(values: Sequence[float], stop: str = "converged", max_iterations: int = 1000,
                constants: str = "iso") -> RobustResult:
    x = np.asarray(values, float)
    if x.size < 3:
        raise ValueError(f"Algorithm A needs at least 3 results; {x.size} given")
    if stop not in ("converged", "third-figure"):
        raise ValueError("stop must be 'converged' or 'third-figure'")
    if constants not in CONSTANTS:
        raise ValueError(f"constants must be one of {', '.join(CONSTANTS)}")
    c_mad, c_sd = CONSTANTS[constants]
    xs = float(np.median(x))
    ss = c_mad * float(np.median(np.abs(x - xs)))
    if ss == 0:
        raise ValueError("more than half of the results are equal, so Algorithm A's starting s* is zero: give "
                         "sd_pt (σ_pt) and an assigned value instead")
    for it in range(1, max_iterations + 1):
        delta = _K * ss
        w = np.clip(x, xs - delta, xs + delta)
        new_x = float(np.mean(w))
        new_s = c_sd * float(np.std(w, ddof=1))
        if stop == "third-figure":
            done = _third_figure_same(new_x, xs) and _third_figure_same(new_s, ss)
        else:
            done = abs(new_x - xs) <= 1e-12 * max(abs(new_x), ss) and abs(new_s - ss) <= 1e-12 * new_s
        xs, ss = new_x, new_s
        if done:
            return RobustResult(xs, ss, it, stop, constants)
    raise ValueError(f"Algorithm A did not converge in {max_iterations} iterations")


@dataclass(frozen=True)
class Participant:
    participant: str
    value: float
    uncertainty: float | None = None        # standard
    expanded: float | None = None
    k: float | None = None

    @property
    def standard(self) -> float | None:
        if self.uncertainty is not None:
            return self.uncertainty
        if self.expanded is not None and self.k:
            return self.expanded / self.k
        return None

    @property
    def expanded_u(self) -> float | None:
        if self.expanded is not None:
            return self.expanded
        return None if self.uncertainty is None else EN_K_DEFAULT * self.uncertainty


def verdict_z(score: float | None) -> str | None:
    if score is None:
        return None
    a = abs(score)
    return "satisfactory" if a <= 2 else "questionable" if a < 3 else "unsatisfactory"


def verdict_en(score: float | None) -> str | None:
    if score is None:
        return None
    return "satisfactory" if abs(score) <= 1 else "unsatisfactory"


@dataclass(frozen=True)
class Assigned:
    value: float
    uncertainty: float | None = None        # standard u(x_pt)
    expanded: float | None = None           # U(x_pt), for E_n
    sd_pt: float | None = None


def score(results: Sequence[Participant], assigned: Assigned | None = None, stop: str = "converged",
          constants: str = "iso") -> dict:
    if not results:
        raise ValueError("no results to score")
    robust = None
    if assigned is None:
        robust = algorithm_a([r.value for r in results], stop, constants=constants)
        p = len(results)
        u_robust = 1.25 * robust.sd / math.sqrt(p)
        assigned = Assigned(robust.mean, u_robust, 2 * u_robust, robust.sd)
    sd_pt: float | None = assigned.sd_pt if assigned.sd_pt is not None else (robust.sd if robust else None)
    u_xpt: float | None = assigned.uncertainty if assigned.uncertainty is not None else \
        (assigned.expanded / 2 if assigned.expanded is not None else None)
    U_xpt = assigned.expanded if assigned.expanded is not None else \
        (EN_K_DEFAULT * assigned.uncertainty if assigned.uncertainty is not None else 0.0)
    rows = []
    for r in results:
        d = r.value - assigned.value
        z = d / sd_pt if sd_pt else None
        z_prime = d / math.sqrt(sd_pt ** 2 + u_xpt ** 2) if sd_pt and u_xpt is not None else None
        u = r.standard
        zeta = d / math.sqrt(u ** 2 + (u_xpt or 0.0) ** 2) if u is not None and (u or u_xpt) else None
        U = r.expanded_u
        en = d / math.sqrt(U ** 2 + U_xpt ** 2) if U is not None and (U or U_xpt) else None
        rows.append({"participant": r.participant, "value": r.value, "difference": d,
                     "z": z, "z_verdict": verdict_z(z), "z_prime": z_prime, "z_prime_verdict": verdict_z(z_prime),
                     "zeta": zeta, "zeta_verdict": verdict_z(zeta), "En": en, "En_verdict": verdict_en(en)})
    out: dict[str, Any] = {"assigned_value": assigned.value, "assigned_uncertainty": u_xpt, "sd_pt": sd_pt, "participants": rows}
    if robust is not None:
        out.update(robust_sd=robust.sd, algorithm_a={"iterations": robust.iterations, "stop": robust.stop,
                                                   "constants": robust.constants})
    return out

"""Propagation of distributions by Monte Carlo (JCGM 101:2008, GUM Supplement 1).

Inputs are sampled from the distribution each input declares (6.4): normal; scaled and shifted t with ν
degrees of freedom and scale u (6.4.9, as for Type A inputs); rectangular; triangular; arcsine (U-shaped,
6.4.6). Correlated inputs must be normal or t-less normal: they are drawn jointly from a multivariate normal
(6.4.8); JCGM 101 gives no general rule for correlated non-Gaussian inputs, so they are refused.

Coverage intervals (7.7): probabilistically symmetric from the order statistics, and shortest. The adaptive
procedure (7.9) adds batches of M = max(10⁴, ⌈100/(1−p)⌉) trials until twice the standard deviation of the
batch estimates of y, u(y) and both interval ends is below the numerical tolerance δ of u(y) to two
significant digits. Clause 8 compares the GUM interval with the Monte Carlo one.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .expression import Model
from .gum import Input, input_covariance

MAX_TRIALS = 50_000_000


@dataclass(frozen=True)
class McOutput:
    name: str
    trials: int
    value: float
    standard_uncertainty: float
    interval_symmetric: tuple[float, float]
    interval_shortest: tuple[float, float]
    coverage: float


def sample_inputs(inputs: Sequence[Input], correlations: Mapping[tuple[str, str], float], trials: int,
                  rng: np.random.Generator) -> dict[str, np.ndarray]:
    draws: dict[str, np.ndarray] = {}
    correlated = sorted({n for pair, r in correlations.items() if r != 0 for n in pair})
    if correlated:
        group = [i for i in inputs if i.name in correlated]
        odd = [i.name for i in group if i.distribution != "normal"]
        if odd:
            raise ValueError(f"Monte Carlo with correlated inputs needs them to be normal; {', '.join(odd)} are not "
                             "(JCGM 101 6.4.8 covers the multivariate normal only)")
        cov = input_covariance(group, {k: v for k, v in correlations.items() if set(k) <= set(correlated)})
        z = rng.multivariate_normal(np.zeros(len(group)), cov, size=trials, method="eigh")
        for j, i in enumerate(group):
            draws[i.name] = i.value + z[:, j]
    for i in inputs:
        if i.name in draws:
            continue
        u, x = i.standard_uncertainty, i.value
        if u == 0:
            draws[i.name] = np.full(trials, x)
        elif i.distribution == "normal":
            draws[i.name] = x + u * rng.standard_normal(trials)
        elif i.distribution == "t":
            draws[i.name] = x + u * rng.standard_t(i.dof, trials)
        elif i.distribution == "rectangular":
            draws[i.name] = x + i.half_width * (2 * rng.random(trials) - 1)
        elif i.distribution == "triangular":
            draws[i.name] = x + i.half_width * (rng.random(trials) + rng.random(trials) - 1)
        elif i.distribution == "arcsine":
            draws[i.name] = x + i.half_width * np.sin(2 * np.pi * rng.random(trials))
    return draws


def _intervals(sorted_y: np.ndarray, p: float) -> tuple[tuple[float, float], tuple[float, float]]:
    m = sorted_y.size
    q = int(p * m + 0.5)                                    # JCGM 101 7.7.1: q = pM rounded
    r = int((m - q) / 2 + 0.5)                              # 7.7.2: r = (M − q)/2 for the symmetric interval
    r = min(max(r, 1), m - q)
    symmetric = (float(sorted_y[r - 1]), float(sorted_y[r + q - 1]))   # [y_(r), y_(r+q)], 1-based
    widths = sorted_y[q:] - sorted_y[: m - q]                # 7.7.3: the shortest [y_(r), y_(r+q)]
    s = int(np.argmin(widths))
    return symmetric, (float(sorted_y[s]), float(sorted_y[s + q]))


def _summary(name: str, y: np.ndarray, p: float) -> McOutput:
    y = np.sort(y)
    if not np.all(np.isfinite(y)):
        raise ValueError(f"Monte Carlo: the model gives non-finite values of {name} for some draws (its domain "
                         "is narrower than the input distributions)")
    sym, short = _intervals(y, p)
    return McOutput(name, y.size, float(y.mean()), float(y.std(ddof=1)), sym, short, p)


def run(model: Model, inputs: Sequence[Input], correlations: Mapping[tuple[str, str], float] | None = None,
        trials: int | None = 1_000_000, coverage: float = 0.9545, seed: int | None = None,
        adaptive_digits: int = 2) -> dict[str, McOutput]:
    """Fixed `trials`, or adaptive (JCGM 101 7.9) when `trials` is None."""
    correlations = dict(correlations or {})
    by_name = {i.name: i for i in inputs}
    ordered = [by_name[n] for n in model.inputs]
    rng = np.random.default_rng(seed)

    def batch(m: int) -> dict[str, np.ndarray]:
        with np.errstate(all="ignore"):
            out = model.evaluate(sample_inputs(ordered, correlations, m, rng))
        return {k: np.broadcast_to(np.asarray(v, float), (m,)) for k, v in out.items()}

    if trials is not None:
        if not 1 / (1 - coverage) <= trials <= MAX_TRIALS:
            raise ValueError(f"Monte Carlo trials must be between {math.ceil(1 / (1 - coverage))} and {MAX_TRIALS}")
        return {k: _summary(k, v, coverage) for k, v in batch(trials).items()}

    m = max(10_000, math.ceil(100 / (1 - coverage)))
    chunks: dict[str, list[np.ndarray]] = {k: [] for k in model.outputs}
    stats: dict[str, list[tuple[float, float, float, float]]] = {k: [] for k in model.outputs}
    while True:
        for k, v in batch(m).items():
            chunks[k].append(np.array(v))
            s = _summary(k, v, coverage)
            stats[k].append((s.value, s.standard_uncertainty, *s.interval_symmetric))
        h = len(next(iter(stats.values())))
        if h >= 2 and all(_stable(np.array(st), adaptive_digits) for st in stats.values()):
            break
        if (h + 1) * m > MAX_TRIALS:
            break
    return {k: _summary(k, np.concatenate(v), coverage) for k, v in chunks.items()}


def numerical_tolerance(u: float, digits: int = 2) -> float:
    """δ = ½·10^ℓ where u = c·10^ℓ with c an integer of `digits` digits (JCGM 101 7.9.2)."""
    if u <= 0:
        return 0.0
    ell = math.floor(math.log10(u)) - (digits - 1)
    return 0.5 * 10.0 ** ell


def _stable(batches: np.ndarray, digits: int) -> bool:
    h = batches.shape[0]
    sd_of_mean = batches.std(axis=0, ddof=1) / math.sqrt(h)
    delta = numerical_tolerance(float(batches[:, 1].mean()), digits)
    return bool(np.all(2 * sd_of_mean <= delta))


def validate_gum(y: float, expanded: float, mc: McOutput, u: float, digits: int = 2) -> dict:
    """JCGM 101 clause 8: the GUM interval y ± U is validated when both ends agree with the Monte Carlo
    probabilistically symmetric interval within δ, the numerical tolerance of the GUM's u(y) to `digits`
    significant digits (8.1 b, 7.9.2). δ comes from the GUM result, not from Monte Carlo's: a model with a pole
    gives a huge Monte Carlo u, and δ taken from it would accept any GUM interval."""
    delta = numerical_tolerance(u, digits)
    low, high = mc.interval_symmetric
    d_low, d_high = abs(y - expanded - low), abs(y + expanded - high)
    return {"delta": delta, "d_low": d_low, "d_high": d_high, "validated": d_low <= delta and d_high <= delta}

"""Law of propagation of uncertainty (JCGM 100, GUM 5.1 and 5.2) for a model with one or more outputs.

Inputs are Type A (from readings: mean, s/√n, ν = n − 1) or Type B (a standard uncertainty, an expanded one
with its k, or a half-width with a rectangular, triangular or arcsine distribution). Correlated inputs enter
through u(x_i, x_j) = u_i u_j r_ij (GUM 5.2.2); outputs that share inputs get their covariance from J V J^T.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .budget import DEFAULT_COVERAGE, coverage_factor, round_result, welch_satterthwaite
from .expression import CONSTANTS, Model, sensitivities

DIVISORS = {"rectangular": math.sqrt(3), "triangular": math.sqrt(6), "arcsine": math.sqrt(2)}
DISTRIBUTIONS = ("normal", "t", *DIVISORS)


@dataclass(frozen=True)
class Input:
    name: str
    value: float
    standard_uncertainty: float
    dof: float = math.inf
    distribution: str = "normal"           # for Monte Carlo: normal, t, rectangular, triangular, arcsine
    kind: str = "B"                        # "A" from readings, "B" otherwise
    readings: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if not (math.isfinite(self.value)):
            raise ValueError(f"input {self.name}: value must be finite")
        if not (self.standard_uncertainty >= 0 and math.isfinite(self.standard_uncertainty)):
            raise ValueError(f"input {self.name}: uncertainty must be finite and ≥ 0")
        if not self.dof > 0:
            raise ValueError(f"input {self.name}: degrees of freedom must be > 0")
        if self.distribution not in DISTRIBUTIONS:
            raise ValueError(f"input {self.name}: distribution must be one of {', '.join(DISTRIBUTIONS)}")
        if self.distribution == "t" and not math.isfinite(self.dof):
            raise ValueError(f"input {self.name}: a t distribution needs finite degrees of freedom")

    @property
    def half_width(self) -> float:
        return self.standard_uncertainty * DIVISORS[self.distribution]

    @classmethod
    def from_readings(cls, name: str, readings: Sequence[float], distribution: str = "normal") -> Input:
        """Type A (GUM 4.2): the mean, s/√n and ν = n − 1."""
        x = np.asarray(readings, dtype=float)
        if x.size < 2:
            raise ValueError(f"input {name}: Type A needs at least two readings")
        mean = math.fsum(x) / x.size
        s = math.sqrt(math.fsum((x - mean) ** 2) / (x.size - 1))
        return cls(name, mean, s / math.sqrt(x.size), x.size - 1, distribution, "A", tuple(float(v) for v in x))

    @classmethod
    def from_expanded(cls, name: str, value: float, expanded: float, k: float, dof: float = math.inf) -> Input:
        if not k > 0:
            raise ValueError(f"input {name}: coverage factor k must be > 0")
        return cls(name, value, expanded / k, dof)

    @classmethod
    def from_half_width(cls, name: str, value: float, half_width: float, distribution: str,
                        dof: float = math.inf) -> Input:
        if distribution not in DIVISORS:
            raise ValueError(f"input {name}: a half-width needs a distribution among {', '.join(DIVISORS)}")
        return cls(name, value, half_width / DIVISORS[distribution], dof, distribution)


def correlation_from_readings(a: Input, b: Input) -> float:
    """r(x̄_a, x̄_b) from simultaneous readings (GUM 5.2.3, eq. 17)."""
    if not a.readings or len(a.readings) != len(b.readings):
        raise ValueError(f"correlation of {a.name} and {b.name} from readings needs the same number of "
                         "simultaneous readings for both")
    x, y = np.asarray(a.readings), np.asarray(b.readings)
    dx, dy = x - x.mean(), y - y.mean()
    return float(math.fsum(dx * dy) / math.sqrt(math.fsum(dx * dx) * math.fsum(dy * dy)))


@dataclass(frozen=True)
class Contribution:
    name: str
    value: float
    standard_uncertainty: float
    sensitivity: float
    contribution: float          # |c_i| u(x_i)
    share: float                 # (c_i u_i)² / u_c²: the part of the variance, when inputs are uncorrelated
    dof: float
    distribution: str
    kind: str


@dataclass(frozen=True)
class OutputResult:
    name: str
    value: float
    standard_uncertainty: float
    dof: float
    k: float
    coverage: float
    budget: tuple[Contribution, ...]
    notes: tuple[str, ...] = ()

    @property
    def expanded_uncertainty(self) -> float:
        return self.k * self.standard_uncertainty

    def reported(self) -> tuple[str, str]:
        return round_result(self.value, self.expanded_uncertainty) if self.expanded_uncertainty > 0 \
            else (f"{self.value:g}", "0")


@dataclass(frozen=True)
class GumResult:
    outputs: dict[str, OutputResult]
    covariance: np.ndarray                  # of the outputs
    correlation: np.ndarray
    input_correlation: dict[tuple[str, str], float] = field(default_factory=dict)

    def __getitem__(self, name: str) -> OutputResult:
        return self.outputs[name]


def input_covariance(inputs: Sequence[Input], correlations: Mapping[tuple[str, str], float]) -> np.ndarray:
    names = [i.name for i in inputs]
    u = np.array([i.standard_uncertainty for i in inputs])
    r = np.eye(len(inputs))
    for (a, b), rho in correlations.items():
        for n in (a, b):
            if n not in names:
                raise ValueError(f"correlation names {n!r}, which is not an input of the model")
        if a == b:
            raise ValueError(f"correlation of {a} with itself")
        if not -1 <= rho <= 1:
            raise ValueError(f"correlation r({a}, {b}) = {rho} outside [-1, 1]")
        i, j = names.index(a), names.index(b)
        r[i, j] = r[j, i] = rho
    if correlations and np.linalg.eigvalsh(r).min() < -1e-12:
        raise ValueError("the correlation coefficients given are not consistent (the matrix is not positive "
                         "semi-definite)")
    return r * np.outer(u, u)


def effective_dof(inputs: Sequence[Input], c: np.ndarray, cov_x: np.ndarray,
                  correlations: Mapping[tuple[str, str], float], uc: float) -> tuple[float, str]:
    """ν_eff of one output, and a note when a rule beyond plain Welch–Satterthwaite was needed.

    Welch–Satterthwaite (GUM G.4.1) with the numerator u_c⁴ taken from the full covariance. Correlated inputs
    whose ν are all infinite add nothing to the denominator, so W-S holds as it stands (as in GTC). Correlated
    inputs with a finite ν are taken together as one component — the variance c_gᵀ V_g c_g of the group,
    covariances included — with the group's ν; that is Willink's generalisation of W-S (Metrologia 44 (2007)
    340–349) when the group's estimates come from one set of n simultaneous readings (ν = n − 1 for each); when
    their ν differ, the group takes the smallest, which can only lower ν_eff (conservative)."""
    names = [i.name for i in inputs]
    index = {n: j for j, n in enumerate(names)}
    group = list(range(len(inputs)))               # union–find over the pairs that are correlated and contribute

    def root(j: int) -> int:
        while group[j] != j:
            group[j] = group[group[j]]
            j = group[j]
        return j
    for (a, b), rho in correlations.items():
        i, j = index[a], index[b]
        if rho != 0 and c[i] != 0 and c[j] != 0:
            group[root(i)] = root(j)
    members: dict[int, list[int]] = {}
    for j in range(len(inputs)):
        members.setdefault(root(j), []).append(j)
    denominator, generalised = 0.0, []
    for g in members.values():
        nu = min(inputs[j].dof for j in g)
        if not math.isfinite(nu):
            continue
        variance = float(c[g] @ cov_x[np.ix_(g, g)] @ c[g])
        denominator += variance ** 2 / nu
        if len(g) > 1:
            generalised.append("–".join(names[j] for j in g))
    if denominator <= 0 or uc == 0:
        return math.inf, ""
    note = ("correlated inputs with finite ν (" + ", ".join(generalised) + ") enter Welch–Satterthwaite as one "
            "component each, with the smallest ν of the group (Willink 2007); check the interval with Monte Carlo"
            ) if generalised else ""
    return uc ** 4 / denominator, note


def propagate(model: Model, inputs: Sequence[Input], correlations: Mapping[tuple[str, str], float] | None = None,
              coverage: float = DEFAULT_COVERAGE) -> GumResult:
    correlations = dict(correlations or {})
    by_name = {i.name: i for i in inputs}
    missing = [n for n in model.inputs if n not in by_name]
    if missing:
        raise ValueError(f"the model uses {', '.join(missing)} but no such input is defined")
    reserved = [n for n in by_name if n in CONSTANTS]
    if reserved:
        raise ValueError(f"input name(s) {', '.join(reserved)} are reserved: in a model they are the constants "
                         f"{', '.join(f'{n} = {CONSTANTS[n]:.6g}' for n in reserved)}; rename the input(s)")
    unused = [n for n in by_name if n not in model.inputs]
    if unused:
        raise ValueError(f"input(s) {', '.join(unused)} do not appear in the model")
    ordered = [by_name[n] for n in model.inputs]
    values, jac = sensitivities(model, {i.name: i.value for i in ordered})
    cov_x = input_covariance(ordered, correlations)
    cov_y = jac @ cov_x @ jac.T
    u_y = np.sqrt(np.clip(np.diag(cov_y), 0, None))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr_y = np.where(np.outer(u_y, u_y) > 0, cov_y / np.outer(u_y, u_y), 0.0)
    np.fill_diagonal(corr_y, 1.0)
    outputs = {}
    for o, name in enumerate(model.outputs):
        c = jac[o]
        contrib = np.abs(c) * cov_x.diagonal() ** 0.5
        uc = float(u_y[o])
        dof, note = effective_dof(ordered, c, cov_x, correlations, uc)
        notes = [note] if note else []
        k = coverage_factor(dof, coverage) if uc > 0 else 0.0
        budget = tuple(Contribution(i.name, i.value, i.standard_uncertainty, float(c[j]), float(contrib[j]),
                                    float(contrib[j] ** 2 / uc ** 2) if uc > 0 else 0.0, i.dof, i.distribution,
                                    i.kind) for j, i in enumerate(ordered))
        outputs[name] = OutputResult(name, float(values[name]), uc, dof, k, coverage, budget, tuple(notes))
    return GumResult(outputs, cov_y, corr_y, correlations)


def propagate_batch(model: Model, values: Mapping[str, np.ndarray], uncertainties: Mapping[str, np.ndarray],
                    dofs: Mapping[str, float] | None = None, coverage: float = DEFAULT_COVERAGE
                    ) -> dict[str, np.ndarray]:
    """Many budgets of one single-output model at once (one per reading), uncorrelated inputs.

    Returns arrays: value, standard_uncertainty, dof, k, expanded_uncertainty."""
    from scipy import stats

    y, jac = sensitivities(model, values)
    name = model.outputs[0]
    u = np.stack([np.broadcast_to(np.asarray(uncertainties[n], float), y[name].shape) for n in model.inputs])
    contrib = np.abs(jac[0]) * u
    uc = np.sqrt(np.sum(contrib ** 2, axis=0))
    nus = np.array([(dofs or {}).get(n, math.inf) for n in model.inputs], dtype=float)
    finite = np.isfinite(nus)
    den = np.sum(contrib[finite] ** 4 / nus[finite].reshape(-1, *([1] * uc.ndim)), axis=0) if finite.any() \
        else np.zeros_like(uc)
    with np.errstate(divide="ignore", invalid="ignore"):
        dof = np.where(den > 0, uc ** 4 / den, np.inf)
    low = np.asarray(dof < 1)
    if low.any():     # as the single path does: no coverage factor exists (GUM G.4.1)
        raise ValueError(f"effective degrees of freedom below 1 for {int(low.sum())} of {low.size} budgets "
                         f"(smallest {float(np.min(dof)):g}): no coverage factor exists")
    p = 0.5 + coverage / 2
    # ν beyond 1e7: t and normal agree to 1e-7 relative, and t.ppf is not reliable for huge ν
    k = np.where(dof > 1e7, stats.norm.ppf(p), stats.t.ppf(p, np.clip(np.floor(dof), 1, 1e7)))
    return {"value": y[name], "standard_uncertainty": uc, "dof": dof, "k": k, "expanded_uncertainty": k * uc}

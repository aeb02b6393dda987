"""Summary statistics to the accuracy NIST StRD certifies (univariate: mean, standard deviation, lag-1
autocorrelation). Two passes with exactly rounded sums (math.fsum): the deviations are formed from the mean
first, so a large common offset (NumAcc 3 and 4) costs no digits."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    n: int
    mean: float
    sd: float                       # n − 1 in the denominator
    autocorrelation_lag1: float | None
    minimum: float
    maximum: float

    @property
    def standard_error(self) -> float:
        return self.sd / math.sqrt(self.n)


def describe(values: Sequence[float]) -> Summary:
    x = [float(v) for v in values]
    n = len(x)
    if n < 2:
        raise ValueError(f"statistics need at least two values; {n} given")
    if not all(math.isfinite(v) for v in x):
        raise ValueError("every value must be a finite number")
    mean = math.fsum(x) / n
    mean += math.fsum(v - mean for v in x) / n       # one correction step: the mean to the last bit
    d = [v - mean for v in x]
    ss = math.fsum(v * v for v in d)
    sd = math.sqrt(ss / (n - 1))
    # NIST StRD definition: r1 = Σ (x_i − x̄)(x_{i+1} − x̄) / Σ (x_i − x̄)²
    r1 = math.fsum(d[i] * d[i + 1] for i in range(n - 1)) / ss if ss > 0 else None
    return Summary(n, mean, sd, r1, min(x), max(x))


def log_relative_error(value: float, certified: float) -> float:
    """LRE = −log10(|x − c| / |c|), the number of agreeing digits (NIST StRD)."""
    if value == certified:
        return 15.0
    if certified == 0:
        return -math.log10(abs(value))
    return -math.log10(abs(value - certified) / abs(certified))

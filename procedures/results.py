"""What every procedure's outcome offers the CLI, the daemon and the record: a results table and JSON."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

from labd.calc.budget import BudgetResult, decimals_of  # noqa: F401  (procedures format with it)


@dataclass(frozen=True)
class ResultTable:
    title: str
    columns: list[str]
    rows: list[list[str]]


class Outcome(Protocol):
    def table(self) -> ResultTable: ...
    def to_json(self) -> Any: ...


def finite(x: float) -> float | None:
    """JSON has no infinity: an infinite number of degrees of freedom is written as null."""
    return None if x is None or math.isinf(x) else x


def budget_json(b: BudgetResult) -> list[dict[str, Any]]:
    """Each component with its source, distribution, sensitivity and ν (issue 16: the budget is checkable)."""
    return [{"name": c.name, "standard_uncertainty": c.standard_uncertainty, "sensitivity": c.sensitivity,
             "contribution": c.contribution, "dof": finite(c.dof), "distribution": c.distribution,
             "source": c.description} for c in b.components]



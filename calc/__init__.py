"""Uncertainty and statistics. Public API grows with issue 3; today: combining a GUM budget."""
from .budget import (DEFAULT_COVERAGE, BudgetResult, Component, arcsine, combine, coverage_factor, rectangular,
                     round_result, triangular, welch_satterthwaite)

__all__ = ["DEFAULT_COVERAGE", "BudgetResult", "Component", "arcsine", "combine", "coverage_factor", "rectangular",
           "round_result", "triangular", "welch_satterthwaite"]

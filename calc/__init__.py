"""Uncertainty and statistics: GUM budgets and Monte Carlo, calibration curves, comparison scores, check
statistics and titration. Procedures call these functions; `labd calc` and `labd validate` call
`calc.commands`, which reads the same things from files."""
from .budget import (DEFAULT_COVERAGE, BudgetResult, Component, arcsine, combine, coverage_factor, rectangular,
                     round_result, triangular, welch_satterthwaite)
from .checks import ControlChart, Drift, Recommendation, Stability, control_chart, drift, next_calibration, \
    working_standard_stability
from .expression import ExpressionError, Model, parse, sensitivities
from .fit import Fit, Prediction, interpolate_table, polyfit
from .gum import GumResult, Input, OutputResult, correlation_from_readings, propagate, propagate_batch
from .montecarlo import McOutput, run as monte_carlo, validate_gum
from .scores import Assigned, Participant, algorithm_a, score
from .stats import Summary, describe
from .titration import Titration, parse_formula, standardise

__all__ = [
    "DEFAULT_COVERAGE", "Assigned", "BudgetResult", "Component", "ControlChart", "Drift", "ExpressionError", "Fit",
    "GumResult", "Input", "McOutput", "Model", "OutputResult", "Participant", "Prediction", "Recommendation",
    "Stability", "Summary", "Titration", "algorithm_a", "arcsine", "combine", "control_chart",
    "correlation_from_readings", "coverage_factor", "describe", "drift", "interpolate_table", "monte_carlo",
    "next_calibration", "parse", "parse_formula", "polyfit", "propagate", "propagate_batch", "rectangular",
    "round_result", "score", "sensitivities", "standardise", "triangular", "validate_gum", "welch_satterthwaite",
    "working_standard_stability",
]

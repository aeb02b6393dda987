"""GUM combination checked against published numbers (shared/reference-cases: GUM Table G.2, GUM H.1)."""
from __future__ import annotations

import math

import pytest

from labd.calc import Component, combine, coverage_factor, rectangular, round_result

# JCGM 100:2008 Table G.2, t_p(ν) for p = 95.45 % (also EA-4/02 Table E.1).
G2 = {1: 13.97, 2: 4.53, 3: 3.31, 4: 2.87, 5: 2.65, 6: 2.52, 7: 2.43, 8: 2.37, 9: 2.32, 10: 2.28, 11: 2.25,
      12: 2.23, 13: 2.21, 14: 2.20, 15: 2.18, 16: 2.17, 17: 2.16, 18: 2.15, 19: 2.14, 20: 2.13, 25: 2.11,
      30: 2.09, 35: 2.07, 40: 2.06, 45: 2.06, 50: 2.05}


@pytest.mark.parametrize("nu, k", sorted(G2.items()))
def test_coverage_factor_matches_gum_table_g2(nu, k):
    assert round(coverage_factor(nu), 2) == k


def test_coverage_factor_edges():
    assert round(coverage_factor(100), 3) == 2.025
    assert round(coverage_factor(math.inf), 2) == 2.00
    assert round(coverage_factor(16.75, 0.99), 2) == 2.92   # ν truncated to 16 (GUM G.4.1)
    assert round(coverage_factor(5, 0.9973), 2) == 5.51
    with pytest.raises(ValueError):
        coverage_factor(0.5)


def test_gum_h1_end_gauge_budget():
    # GUM H.1, Table H.1: contributions |c_i| u(x_i) in nm with their degrees of freedom.
    budget = [Component("l_s", 25, dof=18), Component("d", 9.7, dof=25.6), Component("delta_alpha", 2.9, dof=50),
              Component("delta_theta", 16.6, dof=2), Component("alpha_s", 0.0), Component("theta", 0.0)]
    result = combine(budget, coverage=0.99)
    assert round(result.standard_uncertainty) == 32          # u_c = 32 nm
    assert math.floor(result.dof) == 16                       # ν_eff = 16
    assert round(result.k, 2) == 2.92
    assert 92 <= result.expanded_uncertainty <= 93            # U99 = 93 nm (92.5 from the unrounded u_c)
    assert result.share("l_s") == pytest.approx(625 / result.standard_uncertainty**2)


def test_type_b_divisors():
    assert rectangular(2e-6) == pytest.approx(1.1547e-6, rel=1e-4)     # GUM H.1: α_s ±2e-6 → 1.2e-6


@pytest.mark.parametrize("value, U, expected", [
    (0.14736, 0.023412, ("0.147", "0.023")),
    (100.02154, 0.0157, ("100.022", "0.016")),
    (25.31, 1.04, ("25.3", "1.0")),          # 1.0 understates 1.04 by under 5 %: ordinary rounding
    (25.31, 0.01049, ("25.310", "0.010")),
    (-3.14159, 0.00251, ("-3.1416", "0.0025")),
])
def test_round_result(value, U, expected):
    assert round_result(value, U) == expected
    assert float(round_result(value, U)[1]) >= U * 0.95

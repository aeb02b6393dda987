"""The engine defects of issue 16, item 1: each of these failed before its fix (the numbers in the comments are
what the engine gave then)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from labd.calc import montecarlo
from labd.calc.budget import coverage_factor, decimals_of, round_result
from labd.calc.checks import working_standard_stability
from labd.calc.commands import COMMANDS
from labd.calc.expression import parse
from labd.calc.gum import Input, propagate, propagate_batch


def test_correlated_inputs_with_infinite_dof_leave_welch_satterthwaite_as_it_is():
    # a and b at r = 0.5 with ν = ∞; c from two readings carries under 0.01 % of the variance. W-S holds
    # (the correlated pair adds nothing to its denominator), as GTC computes: k = 2.00. It gave ν = 1, k = 13.97.
    result = propagate(parse("y = a + b + c"), [Input("a", 0, 1), Input("b", 0, 1),
                                                Input.from_readings("c", [0.001, 0.0015])], {("a", "b"): 0.5})["y"]
    assert result.standard_uncertainty == pytest.approx(math.sqrt(3), rel=1e-6)
    assert result.dof > 1e12 and result.k == pytest.approx(2.0, abs=1e-3)
    assert result.expanded_uncertainty == pytest.approx(3.4641, abs=1e-3)


def test_correlated_inputs_with_finite_dof_enter_as_one_component_with_their_dof():
    # a and b from the same nine-day series (ν = 8), r = 0.5: their group's variance is 1 + 1 + 2·0.5 = 3 with
    # ν = 8 (Willink 2007); c is independent with u² = 3 and ν = ∞: ν_eff = 6²/(3²/8) = 32. It gave ν = 8.
    result = propagate(parse("y = a + b + c"), [Input("a", 0, 1, 8), Input("b", 0, 1, 8),
                                                Input("c", 0, math.sqrt(3))], {("a", "b"): 0.5})["y"]
    assert result.dof == pytest.approx(32)
    assert result.k == pytest.approx(stats.t.ppf(0.97725, 32))
    assert "Willink" in result.notes[0]


def test_a_huge_effective_dof_gives_the_normal_k_in_both_paths(tmp_path):
    # ν_eff ≈ 4e20 crashed `labd calc budget` with a traceback (t.ppf of an integer past 2⁶³).
    budget = tmp_path / "budget.toml"
    budget.write_text('[model]\nname = "y"\nexpression = "y = a + b"\n[inputs.a]\nvalue = 1\nuncertainty = 1\n'
                      '[inputs.b]\nvalue = 1\nuncertainty = 1e-5\ndof = 4\n')
    out = COMMANDS["budget"](budget)
    assert out["k"] == pytest.approx(stats.norm.ppf(0.97725))
    json.dumps(out)
    batch = propagate_batch(parse("y = a + b"), {"a": np.array([1.0]), "b": np.array([1.0])},
                            {"a": np.array([1.0]), "b": np.array([1e-5])}, {"b": 4})
    assert batch["k"][0] == pytest.approx(stats.norm.ppf(0.97725))
    assert coverage_factor(1.8e19) == pytest.approx(2.0, abs=1e-5)


def test_the_batch_path_refuses_an_effective_dof_below_one_as_the_single_path_does():
    model = parse("y = a")
    with pytest.raises(ValueError, match="below 1"):
        propagate(model, [Input("a", 1, 1, 0.5)])
    with pytest.raises(ValueError, match="below 1"):      # it turned ν = 0.5 into 1 silently
        propagate_batch(model, {"a": np.array([1.0, 2.0])}, {"a": np.array([1.0, 1.0])}, {"a": 0.5})


@pytest.mark.parametrize("value, expanded, reported", [
    (1.2345, 0.0995, ("1.23", "0.10")),         # was ("1.235", "0.100"): U carried into a new digit
    (0.1235, 0.012, ("0.124", "0.012")),        # was 0.123: 0.1235 is 0.12349999… as a binary float
    (2.5, 0.25, ("2.50", "0.25")),
    (-0.0004, 0.012, ("0.000", "0.012")),       # no "-0.000"
    (12345.678, 23.4, ("12346", "23")),
    (100.0, 0.0104, ("100.000", "0.010")),
    (1.23456789e-11, 1.23e-14, ("1.2346e-11", "1.2e-14")),   # was 0.000000000012346 and 0.000000000000012
])
def test_reported_numbers_are_rounded_in_decimal_from_the_unrounded_u(value, expanded, reported):
    assert round_result(value, expanded) == reported


def test_decimals_of_reads_scientific_notation():
    assert decimals_of("0.0012") == 4 and decimals_of("1.2e-14") == 15 and decimals_of("23") == 0


def test_an_input_named_like_a_constant_is_said_to_be_reserved():
    # It said "input(s) e do not appear in the model" for a model that plainly uses e.
    with pytest.raises(ValueError, match="reserved.*e = 2.71828"):
        propagate(parse("y = e * x"), [Input("e", 1, 0.1), Input("x", 1, 0.1)])


def test_monte_carlo_does_not_validate_a_gum_interval_across_a_pole():
    # y = 1/x with x = 1 ± 0.3: the GUM gives u = 0.3; Monte Carlo's u is enormous (x crosses 0), and δ taken
    # from it accepted the GUM interval ("validated"). δ from the GUM's u refuses it (JCGM 101 8.1).
    model, inputs = parse("y = 1/x"), [Input("x", 1, 0.3)]
    gum = propagate(model, inputs)["y"]
    mc = montecarlo.run(model, inputs, trials=200_000, seed=3)["y"]
    assert mc.standard_uncertainty > 10 * gum.standard_uncertainty
    check = montecarlo.validate_gum(gum.value, gum.expanded_uncertainty, mc, gum.standard_uncertainty)
    assert check["delta"] == pytest.approx(0.005) and not check["validated"]


def test_the_titrations_repeatability_from_its_own_replicates_has_n_minus_1_dof(tmp_path):
    # Three replicates carrying most of the variance: ν_eff = 2 / share² (W-S with ν_R = 2, the rest ν = ∞).
    # It gave ν = ∞ and k = 2.00.
    spec = tmp_path / "titration.toml"
    spec.write_text('[standard]\nformula = "KC8H5O4"\nmass = 0.3888\npurity = 1.0\npurity_half_width = 0.0005\n'
                    'linearity_half_width = 0.00015\n[titrant]\nvolumes = [18.60, 18.64, 18.70]\n'
                    'calibration_half_width = 0.03\n')
    out = COMMANDS["titration"](spec)["molarity"]
    share = next(c["share"] for c in out["budget"] if c["name"] == "R")
    assert share > 0.5
    assert out["dof"] == pytest.approx(2 / share ** 2, rel=1e-6)
    assert out["k"] == pytest.approx(stats.t.ppf(0.97725, math.floor(out["dof"])))


def test_the_working_standard_check_takes_k_from_the_day_to_day_dof():
    # Ten days: s/√10 has ν = 9. With a negligible certificate U, k = t(9) = 2.32, not 2; it gave 2.
    values = [0.01, 0.0, -0.01, 0.02, 0.0, 0.01, -0.01, 0.0, 0.01, 0.0]
    s = working_standard_stability(values, 0.0, 1e-9, 0.05)
    assert s.dof == pytest.approx(9, rel=1e-6) and s.k == pytest.approx(stats.t.ppf(0.97725, 9))
    u = np.std(values, ddof=1) / math.sqrt(10)
    assert s.en == pytest.approx(np.mean(values) / (s.k * u), rel=1e-6)
    # A certificate U that dominates leaves ν large and k near 2.
    assert working_standard_stability(values, 0.0, 0.05, 0.05).k == pytest.approx(2.0, abs=0.01)


# --- checks that judge right (issue 16, item 3) ---------------------------------------------------------------

def test_decision_rules_of_ilac_g8():
    from labd.calc.checks import decide
    simple = decide(0.00045, 0.0001, 0.0005, "simple")
    guarded = decide(0.00045, 0.0001, 0.0005, "guarded")
    assert simple.passed and not guarded.passed
    assert guarded.acceptance_limit == pytest.approx(0.0004) and "ILAC-G8" in guarded.statement
    assert not decide(-0.0006, 0.0001, 0.0005).passed
    with pytest.raises(ValueError, match="decision rule"):
        decide(0, 0, 1, "lenient")


def test_a_constant_bias_beyond_tolerance_is_not_given_the_maximum_interval():
    from datetime import date
    from labd.calc.checks import next_calibration
    days, bias = [1, 2, 3, 4, 5, 6, 7], [0.0008, 0.00081, 0.00079, 0.0008, 0.00081, 0.00079, 0.0008]
    # It said "no significant drift: the maximum interval" (365 d) for every check at +0.8 mg against 0.5 mg.
    rec = next_calibration(days, bias, 0.0005, date(2026, 1, 1), 365)
    assert rec.interval_days <= 7 and "calibrate now" in rec.reason
    flagged = next_calibration(days, bias, 0.0005, date(2026, 1, 1), 365, out_of_tolerance=True)
    assert flagged.reason == "out of tolerance: adjust or recalibrate now"


def test_the_prediction_interval_uses_t_of_n_minus_2_the_residual_scatter_and_the_calibration():
    from datetime import date
    from labd.calc.checks import drift, next_calibration
    t = np.arange(0, 181, 30.0)
    y = 0.002 * t / 30 + np.array([3e-4, -3e-4] * 3 + [3e-4])
    d, cov = drift(t, y)
    rec = next_calibration(t, y, 0.02, date(2026, 1, 1), 730, expanded_at_calibration=0.002)
    day = rec.interval_days
    g = np.array([1.0, day])
    u = math.sqrt(g @ cov @ g + d.residual_sd ** 2 + 0.001 ** 2)
    assert abs(d.predict(day)) + stats.t.ppf(0.97725, 5) * u >= 0.02           # reached on that day
    g = np.array([1.0, day - 1])
    u = math.sqrt(g @ cov @ g + d.residual_sd ** 2 + 0.001 ** 2)
    assert abs(d.predict(day - 1)) + stats.t.ppf(0.97725, 5) * u < 0.02        # and not the day before
    old = next_calibration(t, y, 0.02, date(2026, 1, 1), 730, k=2.0)      # k = 2, no calibration U: later
    assert old.interval_days > day


def test_the_warm_up_transient_is_cut_and_a_steady_series_keeps_its_readings():
    from labd.calc.checks import warm_up
    rng = np.random.default_rng(4)
    t = np.arange(240)
    settling = 50 - 0.02 * np.exp(-t / 8) + rng.normal(0, 0.0008, t.size)      # τ = 8 readings
    cut = warm_up(settling)
    assert 15 <= cut <= 60
    steady = 50 + rng.normal(0, 0.0008, t.size)
    assert warm_up(steady) <= 12
    assert warm_up(np.full(20, 50.0)) == 0


def test_the_drift_test_allows_for_autocorrelated_readings():
    from labd.calc.checks import drift
    rng = np.random.default_rng(11)
    false_alarms = [0, 0]
    for _ in range(200):      # AR(1), φ = 0.8, no drift at all
        e = np.zeros(200)
        for i in range(1, 200):
            e[i] = 0.8 * e[i - 1] + rng.normal(0, 0.001)
        hours = np.arange(200) / 60
        false_alarms[0] += drift(hours, e)[0].significant
        false_alarms[1] += drift(hours, e, autocorrelated=True)[0].significant
    assert false_alarms[0] > 60             # ordinary least squares calls most of these series drifting
    assert false_alarms[1] < 30             # near the 5 % it should be (the AR(1) adjustment is approximate)


# --- balance per EURAMET cg-18 (issue 16, item 2) ----------------------------------------------------------------

def test_air_density_by_cipm_2007():
    from labd.calc.air import air_density, air_density_uncertainty
    # Dry air at 20 °C and 101 325 Pa: p M_a /(Z R T) with Z ≈ 0.9996 gives 1.2046 kg/m³; humid air is lighter.
    assert air_density(20.0, 0.0, 101325.0) == pytest.approx(1.2046, abs=1e-4)
    assert air_density(20.0, 0.5, 101325.0) < air_density(20.0, 0.0, 101325.0)
    assert air_density(28.0, 0.7, 101000.0) == pytest.approx(1.157, abs=2e-3)        # a Samarinda afternoon
    u = air_density_uncertainty(20.0, 0.5, 101325.0, 0.0, 0.0, 0.0)
    assert u == pytest.approx(22e-6 * air_density(20.0, 0.5, 101325.0))             # the formula's own
    with pytest.raises(ValueError, match="outside the formula's range"):
        air_density(20.0, 1.5, 101325.0)


def test_buoyancy_of_e2_weights_is_far_below_the_old_fixed_bound():
    from labd.calc.air import BOUND, buoyancy
    _, measured = buoyancy(1.157, 0.006, "E2", 100.0)
    _, bound = buoyancy(*BOUND, "E2", 100.0)
    old = 1e-6 / math.sqrt(3)                 # the fixed relative half-width it used, as a standard uncertainty
    assert measured < bound < old / 3
    assert buoyancy(1.157, 0.006, "F2", 100.0)[1] > measured                       # wider density limits


def test_the_staircase_lengthens_after_a_pass_and_shortens_after_a_failure():
    from labd.calc.checks import staircase
    assert staircase(365, True) == 456 and staircase(365, False) == 182
    assert staircase(700, True) == 730 and staircase(40, False) == 30          # within its bounds
    with pytest.raises(ValueError):
        staircase(365, True, longer=0.9)

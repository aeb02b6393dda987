"""calc engine: the model parser is safe and its derivatives exact; propagation, Monte Carlo, fits, scores,
checks and titration against hand calculations."""
from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from labd.calc import montecarlo
from labd.calc.checks import control_chart, drift, next_calibration, working_standard_stability
from labd.calc.expression import ExpressionError, parse, sensitivities
from labd.calc.fit import interpolate_table, polyfit
from labd.calc.gum import Input, propagate, propagate_batch
from labd.calc.scores import Assigned, Participant, algorithm_a, score
from labd.calc.stats import describe
from labd.calc.titration import parse_formula


@pytest.mark.parametrize("text", [
    "__import__('os').system('true')", "x.real", "x[0]", "lambda: 1", "x if y else z", "f(x)", "'a' + x",
    "x < y", "open('f')", "sqrt(x, y)", "sqrt(x=1)", "x = 1; import os", "[x]", "x @ y", "x // y", "True + x",
])
def test_parser_refuses_anything_but_arithmetic(text):
    with pytest.raises(ExpressionError):
        parse(text)


def test_parser_names_the_position_of_the_fault():
    with pytest.raises(ExpressionError, match=r"line 2, column 5: .*unknown function 'foo'"):
        parse("a = x + 1\ny = foo(a)")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="xyz+-*/^().,=; \n0123456789eE_sqrtlogabc'[]", max_size=40))
def test_any_text_parses_or_gives_expression_error(text):
    try:
        m = parse(text)
    except ExpressionError:
        return
    with np.errstate(all="ignore"):
        m.evaluate({n: 1.5 for n in m.inputs})


def test_complex_step_derivatives_are_exact():
    m = parse("y = a*exp(b)/sqrt(c) + log(a)*sin(b)^2 - abs(c - 10) + a^-2")
    a, b, c = 2.3, 0.7, 4.1
    _, jac = sensitivities(m, {"a": a, "b": b, "c": c})
    expected = [math.exp(b) / math.sqrt(c) + math.sin(b) ** 2 / a - 2 * a ** -3,
                a * math.exp(b) / math.sqrt(c) + math.log(a) * 2 * math.sin(b) * math.cos(b),
                -0.5 * a * math.exp(b) * c ** -1.5 + 1]
    order = [m.inputs.index(n) for n in "abc"]
    assert jac[0][order] == pytest.approx(expected, rel=1e-13)


def test_model_with_no_finite_value_is_refused():
    with pytest.raises(ExpressionError, match="no finite real value"):
        propagate(parse("y = log(x)"), [Input("x", -1.0, 0.1)])


def test_correlation_changes_the_combined_uncertainty():
    m = parse("y = a - b")
    ins = [Input("a", 1.0, 0.3), Input("b", 0.5, 0.4)]
    assert propagate(m, ins)["y"].standard_uncertainty == pytest.approx(0.5)
    # u² = 0.09 + 0.16 − 2·0.3·0.4·0.5 = 0.13
    assert propagate(m, ins, {("a", "b"): 0.5})["y"].standard_uncertainty == pytest.approx(math.sqrt(0.13))
    with pytest.raises(ValueError, match="not an input"):
        propagate(m, ins, {("a", "c"): 0.5})


def test_batch_budgets_agree_with_single_ones():
    m = parse("y = r*(1 + alpha*(t - 20))")
    rng = np.random.default_rng(3)
    r, t = rng.normal(100, 1, 50), rng.normal(25, 2, 50)
    batch = propagate_batch(m, {"r": r, "alpha": np.full(50, 3.9e-3), "t": t},
                            {"r": np.full(50, 0.01), "alpha": np.full(50, 1e-5), "t": np.full(50, 0.05)},
                            {"r": 9.0})
    for i in (0, 17, 49):
        one = propagate(m, [Input("r", r[i], 0.01, 9), Input("alpha", 3.9e-3, 1e-5), Input("t", t[i], 0.05)])["y"]
        assert batch["value"][i] == pytest.approx(one.value)
        assert batch["standard_uncertainty"][i] == pytest.approx(one.standard_uncertainty)
        assert batch["k"][i] == pytest.approx(one.k)


def test_monte_carlo_sampling_matches_each_distribution():
    rng = np.random.default_rng(0)
    inputs = [Input("n", 1, 0.2), Input.from_half_width("r", 0, 1, "rectangular"),
              Input.from_half_width("t", 0, 1, "triangular"), Input.from_half_width("a", 0, 1, "arcsine"),
              Input("s", 0, 0.5, 6, "t")]
    draws = montecarlo.sample_inputs(inputs, {}, 400_000, rng)
    for i in inputs[:4]:
        assert draws[i.name].std() == pytest.approx(i.standard_uncertainty, rel=0.01)
    assert draws["s"].std() == pytest.approx(0.5 * math.sqrt(6 / 4), rel=0.02)   # scaled t: s·√(ν/(ν−2))
    assert abs(draws["r"]).max() <= 1 and abs(draws["a"]).max() <= 1


def test_monte_carlo_refuses_correlated_non_normal_inputs():
    m = parse("y = a + b")
    with pytest.raises(ValueError, match="correlated inputs needs them to be normal"):
        montecarlo.run(m, [Input.from_half_width("a", 0, 1, "rectangular"), Input("b", 0, 1)],
                       {("a", "b"): 0.3}, trials=1000)


def test_monte_carlo_shortest_interval_of_an_asymmetric_output():
    # y = x² with x ~ N(0, 1): the shortest 95 % interval starts at 0; the symmetric one does not.
    out = montecarlo.run(parse("y = x^2"), [Input("x", 0, 1)], trials=200_000, coverage=0.95, seed=2)["y"]
    assert out.interval_shortest[0] == pytest.approx(0, abs=1e-3)
    assert out.interval_shortest[1] == pytest.approx(3.841, rel=0.02)   # χ²₁ 95 % quantile
    assert out.interval_symmetric[0] > 0.0005


def test_gum_validation_by_monte_carlo_fails_for_a_strongly_nonlinear_model():
    m, ins = parse("y = x^2"), [Input("x", 0.1, 1)]
    guf = propagate(m, ins)["y"]
    mc = montecarlo.run(m, ins, trials=100_000, seed=1)["y"]
    assert not montecarlo.validate_gum(guf.value, guf.expanded_uncertainty, mc, guf.standard_uncertainty)["validated"]


def test_weighted_fit_with_known_uncertainties_recovers_a_line():
    x = np.linspace(0, 100, 11)
    u = np.full(11, 0.01)
    y = 0.5 + 0.01 * x
    f = polyfit(x, y, 1, u)
    assert f.coefficients == pytest.approx([0.5, 0.01])
    # Known-variance covariance: for a line, u(b1)² = σ²/Σ(x − x̄)²
    assert f.standard_uncertainties[1] == pytest.approx(0.01 / math.sqrt(np.sum((x - x.mean()) ** 2)))
    with pytest.raises(ValueError, match="more than 2 points"):
        polyfit([1, 2], [1, 2], 1)


def test_certificate_table_interpolation_refuses_extrapolation():
    assert interpolate_table([0, 100], [0.01, 0.03], [0.02, 0.03], 50) == pytest.approx((0.02, 0.03))
    with pytest.raises(ValueError, match="outside"):
        interpolate_table([0, 100], [0.01, 0.03], [0.02, 0.03], 120)


def test_statistics_keep_their_digits_with_a_large_offset():
    base = [1.2] + [1.1, 1.3] * 500
    s = describe([v + 1e7 for v in base])
    assert s.sd == pytest.approx(0.1, rel=1e-8)
    assert s.mean == pytest.approx(10000001.2, rel=1e-15)


def test_algorithm_a_is_the_fixed_point_of_the_iteration_and_resists_outliers():
    rng = np.random.default_rng(5)
    clean = rng.normal(10.0, 0.1, 20)
    x = np.append(clean, [13.0, 25.0])
    r = algorithm_a(x)
    # One more step by hand (ISO 13528 C.3.1): winsorise at x* ± 1.5 s*, x* = mean, s* = 1.134 sd.
    w = np.clip(x, r.mean - 1.5 * r.sd, r.mean + 1.5 * r.sd)
    assert np.mean(w) == pytest.approx(r.mean, rel=1e-10)
    assert 1.134 * np.std(w, ddof=1) == pytest.approx(r.sd, rel=1e-10)
    assert abs(r.mean - clean.mean()) < 0.05 and r.sd < 0.2       # the two outliers barely move it
    assert np.mean(x) - clean.mean() > 0.5                         # whereas the plain mean moves a lot
    third = algorithm_a(x, stop="third-figure")
    assert third.iterations < r.iterations and float(f"{third.mean:.3g}") == float(f"{r.mean:.3g}")
    with pytest.raises(ValueError, match="more than half"):
        algorithm_a([5, 5, 5, 5, 9])


def test_algorithm_a_constants_are_the_standards_roundings_of_hubers():
    from labd.calc.scores import CONSTANTS
    assert CONSTANTS["iso"] == (1.483, 1.134)
    mad, sd = CONSTANTS["huber"]
    assert mad == pytest.approx(1.482602, abs=1e-6) and sd == pytest.approx(1.133393, abs=1e-6)
    x = [2.9, 3.1, 3.4, 3.7, 2.8, 2.5, 2.4, 5.28, 28.95, 3.5]
    iso, huber = algorithm_a(x), algorithm_a(x, constants="huber")
    assert huber.constants == "huber" and huber.sd != iso.sd
    assert huber.sd == pytest.approx(iso.sd, rel=5e-3)   # a fraction of a per cent
    with pytest.raises(ValueError, match="constants"):
        algorithm_a(x, constants="amc")


def test_scores_without_assigned_value_use_algorithm_a():
    results = [Participant(f"L{i}", v, 0.1) for i, v in enumerate([10.1, 9.9, 10.0, 10.2, 9.8, 12.5])]
    out = score(results)
    assert out["assigned_value"] == pytest.approx(algorithm_a([r.value for r in results]).mean)
    outlier = out["participants"][-1]
    assert outlier["z_verdict"] == "unsatisfactory" and outlier["En_verdict"] == "unsatisfactory"
    out = score(results, Assigned(10.0, 0.05, None, 0.2))
    assert out["participants"][0]["z"] == pytest.approx(0.5)


def test_control_chart_run_rules():
    x = [0.1, -0.2, 0.05, -0.1, 0.2, 0.0, -0.05, 0.1, 0.15, -0.1]
    chart = control_chart(x, centre=0, sigma=0.1)
    assert chart.in_control
    shifted = x + [0.15, 0.12, 0.18, 0.11, 0.14, 0.16, 0.13, 0.17]
    rules = {v.rule for v in control_chart(shifted, centre=0, sigma=0.1).violations}
    assert "8 successive on one side" in rules and "4 of 5 beyond 1σ on one side" in rules
    assert {v.rule for v in control_chart(x + [0.35], 0, 0.1).violations} == {"1 point beyond 3σ"}


def test_drift_and_next_calibration():
    t = np.arange(0, 181, 30.0)
    dev = 0.002 * t / 30           # 0.002 per month, exactly linear
    d, _ = drift(t, dev + np.array([1e-4, -1e-4] * 3 + [1e-4]))
    assert d.significant and d.slope == pytest.approx(0.002 / 30, rel=0.05)
    rec = next_calibration(t, dev + np.array([1e-4, -1e-4] * 3 + [1e-4]), tolerance=0.02,
                           calibrated_on=date(2026, 1, 1), max_interval_days=730)
    assert 200 < rec.interval_days < 300   # 0.02 / (0.002/30) = 300 days, minus the uncertainty margin
    flat = next_calibration(t, np.array([1e-4, -1e-4] * 3 + [1e-4]), 0.02, date(2026, 1, 1), 365)
    assert flat.interval_days == 365 and "no significant drift" in flat.reason


def test_working_standard_stability_verdict():
    good = working_standard_stability([0.01, 0.0, -0.01, 0.02, 0.0, 0.01, -0.01, 0.0, 0.01, 0.0], 0.0, 0.05, 0.05)
    assert good.passed
    bad = working_standard_stability([0.01, 0.0, 0.08, 0.02, 0.0, 0.01, -0.01, 0.0, 0.01, 0.0], 0.0, 0.05, 0.05)
    assert not bad.passed and bad.max_deviation == pytest.approx(0.08)


def test_formula_parser():
    assert parse_formula("C8H5KO4") == {"C": 8, "H": 5, "K": 1, "O": 4}
    assert parse_formula("(NH4)2SO4") == {"N": 2, "H": 8, "S": 1, "O": 4}
    for bad in ("C8H5KO4)", "(NH4", "c8", "2H"):
        with pytest.raises(ValueError):
            parse_formula(bad)

"""`labd calc …` and `labd validate` as a metrologist runs them: JSON shapes, readable errors, the report."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from labd.calc.validation import CASES_DIR, lookup, run_cases
from labd.daemon.cli import main

REPO = Path(__file__).resolve().parent.parent


def labd(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def write(tmp_path: Path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


BUDGET = """
[model]
expression = "P = V^2/(R + dR)"
name = "P"
unit = "W"

[inputs.V]
readings = [10.01, 10.03, 9.98, 10.00, 10.02]

[inputs.R]
value = 100.0
expanded = 0.02
k = 2

[inputs.dR]
value = 0
half_width = 0.01
distribution = "rectangular"
"""


def test_budget_json_has_the_documented_fields(tmp_path):
    f = write(tmp_path, "b.toml", BUDGET)
    res = labd("calc", "budget", f, "--json", "--mc", "20000", "--seed", "1")
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    for key in ("value", "standard_uncertainty", "dof", "k", "expanded_uncertainty", "coverage", "budget", "mc"):
        assert key in d
    assert d["coverage"] == 0.9545 and d["dof"] == pytest.approx(4 * (d["standard_uncertainty"] /
                                                                      lookup(d, "budget[V].contribution")) ** 4, rel=0.2)
    v = lookup(d, "budget[V]")
    assert set(v) >= {"name", "value", "standard_uncertainty", "sensitivity", "contribution", "dof"}
    assert v["sensitivity"] == pytest.approx(2 * v["value"] / 100.0, rel=1e-9)
    assert lookup(d, "budget[R].standard_uncertainty") == pytest.approx(0.01)
    assert set(d["mc"]) >= {"trials", "value", "standard_uncertainty", "interval_symmetric", "interval_shortest"}
    assert d["mc"]["trials"] == 20000


def test_budget_table_is_readable(tmp_path):
    res = labd("calc", "budget", write(tmp_path, "b.toml", BUDGET))
    assert res.exit_code == 0
    assert "reported: P = (" in res.output and "W" in res.output


@pytest.mark.parametrize("edit, key, reason", [
    (lambda t: t.replace("k = 2\n", ""), "inputs.R", "expanded needs its coverage factor k"),
    (lambda t: t.replace('distribution = "rectangular"', 'distribution = "square"'), "inputs.dR.distribution", ""),
    (lambda t: t.replace("(R + dR)", "(R + dR) + os.system"), "model.expression", "not allowed"),
    (lambda t: t.replace("(R + dR)", "(R + dR) + dX"), "inputs", "dX"),
    (lambda t: t.replace("readings = [10.01", "readngs = [10.01"), "inputs.V", "unknown key"),
    (lambda t: t + "\n[[correlations]]\na = 'V'\nb = 'Q'\nr = 0.5\n", "correlations[0]", "'Q' is not an input"),
    (lambda t: t + "\n[[correlations]]\na = 'V'\nb = 'R'\nr = 1.5\n", "correlations.0.r", "[-1, 1]"),
    (lambda t: t.replace("[model]", "[model"), "", "not valid TOML"),
])
def test_bad_budget_files_name_the_key_at_fault(tmp_path, edit, key, reason):
    f = write(tmp_path, "bad.toml", edit(BUDGET))
    res = CliRunner().invoke(main, ["calc", "budget", f])
    assert res.exit_code == 1
    assert "Traceback" not in res.output
    assert f"bad.toml: {key}" in res.output and reason in res.output


def test_fit_stats_scores_and_titration_json(tmp_path):
    fit = write(tmp_path, "fit.toml", "[data]\nx = [0, 1, 2, 3, 4]\ny = [0.1, 1.1, 1.9, 3.2, 3.9]\n"
                                     "[fit]\ndegree = 1\n[predict]\nat = [2.5]\n")
    d = json.loads(labd("calc", "fit", fit, "--json").output)
    assert set(d) >= {"coefficients", "standard_uncertainties", "correlation", "residual_sd", "dof", "predictions"}
    assert d["predictions"][0]["x"] == 2.5 and d["dof"] == 3

    values = write(tmp_path, "v.txt", "# comment\n1\n2\n3\n4\n")
    d = json.loads(labd("calc", "stats", values, "--json").output)
    assert d["n"] == 4 and d["mean"] == 2.5 and d["autocorrelation_lag1"] == pytest.approx(0.25)
    bad = write(tmp_path, "bad.txt", "1\n2\nthree\n")
    res = CliRunner().invoke(main, ["calc", "stats", bad])
    assert res.exit_code == 1 and "bad.txt: line 3: not a number: 'three'" in res.output

    sc = write(tmp_path, "s.toml", "".join(f"[[results]]\nparticipant = 'L{i}'\nvalue = {v}\nuncertainty = 0.1\n"
                                           for i, v in enumerate([10.1, 9.9, 10.0, 10.2, 9.8, 12.5])))
    d = json.loads(labd("calc", "scores", sc, "--json").output)
    assert "robust_sd" in d and d["participants"][5]["z_verdict"] == "unsatisfactory"

    titr = write(tmp_path, "t.toml", "[standard]\nformula = 'Na2CO3'\nmass = 0.2650\npurity = 0.9995\n"
                                     "purity_half_width = 0.0005\nequivalents = 2\n"
                                     "[titrant]\nvolumes = [24.95, 25.02, 24.98]\ncalibration_half_width = 0.03\n")
    d = json.loads(labd("calc", "titration", titr, "--json").output)
    # c = 1000·m·P/(M·V), M(Na2CO3) = 105.988 g/mol; normality is twice the molarity
    assert d["molarity"]["value"] == pytest.approx(1000 * 0.2650 * 0.9995 / (105.9884 * 24.98333), rel=1e-5)
    assert d["normality"]["value"] == pytest.approx(2 * d["molarity"]["value"])
    res = CliRunner().invoke(main, ["calc", "titration", write(tmp_path, "t2.toml", "[standard]\nformula = 'XeF2'\n"
                                    "mass = 0.1\npurity = 1\n[titrant]\nvolume = 10\n")])
    assert res.exit_code == 1 and "no atomic weight for Xe" in res.output


def test_every_shipped_reference_case_passes():
    report = run_cases()
    failed = [(c["id"], k["path"], k.get("actual"), k.get("error")) for c in report["cases"] for k in c["checks"]
              if not k["passed"]]
    assert not failed
    assert len(report["cases"]) >= 9 and report["checks"] >= 90


def test_validate_fails_when_a_published_number_is_not_reproduced(tmp_path):
    cases = tmp_path / "cases"
    shutil.copytree(CASES_DIR / "gum-h1-end-gauge", cases / "gum-h1-end-gauge")
    case = cases / "gum-h1-end-gauge" / "case.toml"
    case.write_text(case.read_text().replace("value = 2.92, tolerance = 0.005", "value = 2.90, tolerance = 0.005"))
    out = tmp_path / "report"
    res = subprocess.run([sys.executable, "-m", "labd", "validate", "--cases", str(cases), "--out", str(out)],
                         cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 1
    assert "FAIL" in res.stdout
    report = json.loads((out / "validation-report.json").read_text())
    assert not report["passed"] and report["failed"] == 1
    assert len(report["software"]["calc_sha256"]) == 64
    assert "FAIL" in (out / "validation-report.html").read_text()


def test_conformity_states_each_verdict_under_its_rule_and_refuses_a_bad_file(tmp_path):
    """ILAC-G8 simple acceptance and guard band w = U on the same item: one rule accepts what the other
    refuses, and the probability of conformity says why."""
    item = "items = [ { name = 'x', deviation = 0.9, expanded_uncertainty = 0.2, tolerance = 1.0 } ]\n"
    simple = json.loads(labd("calc", "conformity", write(tmp_path, "s.toml", "rule = 'simple'\n" + item),
                             "--json").output)
    guarded = json.loads(labd("calc", "conformity", write(tmp_path, "g.toml", "rule = 'guarded'\n" + item),
                              "--json").output)
    assert simple["items"][0]["passed"] and not guarded["items"][0]["passed"]
    assert simple["items"][0]["conformance_probability"] == pytest.approx(0.841345, abs=5e-7)
    assert simple["items"][0]["false_acceptance_risk"] == pytest.approx(0.158655, abs=5e-7)
    assert guarded["items"][0]["false_acceptance_risk"] is None and "guard band w = U" in guarded["statement"]
    res = CliRunner().invoke(main, ["calc", "conformity", write(tmp_path, "b.toml", "rule = 'strict'\n" + item)])
    assert res.exit_code == 1 and "Traceback" not in res.output and "b.toml: rule" in res.output
    res = CliRunner().invoke(main, ["calc", "conformity", write(tmp_path, "c.toml", "rule = 'simple'\n" +
                                                               item.replace("1.0 }", "0 }"))])
    assert res.exit_code == 1 and "tolerance" in res.output


def test_weighing_gives_u_of_w_over_the_range_and_names_a_bad_point(tmp_path):
    text = ("d = 0.0001\ns = 0.00005\neccentricity = 0.0002\neccentricity_load = 100.0\n"
            "loads = [ { indication = 100.0, error = 0.0002, u = 0.0001 } ]\n[at]\nR = [0.0, 200.0]\n")
    d = json.loads(labd("calc", "weighing", write(tmp_path, "w.toml", text), "--json").output)
    assert d["slope"] == pytest.approx(2e-6) and d["slope_uncertainty"] == pytest.approx(1e-6)
    at0, at200 = d["at"]
    assert at0["expanded_uncertainty"] == pytest.approx(2 * (2 * (1e-4 / 12 ** 0.5) ** 2 + 25e-10) ** 0.5)
    assert at200["global_expanded_uncertainty"] == pytest.approx(at200["expanded_uncertainty"] + 4e-4)
    res = CliRunner().invoke(main, ["calc", "weighing", write(tmp_path, "b.toml", text.replace("u = 0.0001",
                                                                                             "u = 0"))])
    assert res.exit_code == 1 and "Traceback" not in res.output and "b.toml" in res.output and "u" in res.output


INTERVAL = """
method = "control-chart"
tolerance = 0.5
calibrated_on = 2026-01-05
calibration_expanded_uncertainty = 0.1
check_standard_uncertainty = 0.02
[checks]
days = [0, 30, 60, 90, 120, 150]
deviations = [0.02, 0.05, 0.07, 0.11, 0.12, 0.16]
expanded_uncertainty = 0.06
"""


def test_interval_json_is_the_equipment_checks_review_and_bad_files_get_one_line(tmp_path):
    """`labd calc interval` runs calc.checks.review_interval, the code the equipment check runs: the drifting
    checks give a date before the maximum interval, the staircase lengthens the interval, a failed latest
    check asks for calibration now; each bad file is named with its key and reason."""
    d = json.loads(labd("calc", "interval", write(tmp_path, "i.toml", INTERVAL), "--json").output)
    assert set(d) == {"method", "decision", "control_chart", "drift_per_day", "recommendation"}
    assert d["drift_per_day"]["significant"] and d["recommendation"]["interval_days"] == 363
    assert d["control_chart"]["centre"] == 0.0 and not d["control_chart"]["in_control"]
    stair = json.loads(labd("calc", "interval", write(tmp_path, "s.toml", INTERVAL.replace(
        '"control-chart"', '"staircase"\ncurrent_interval_days = 200')), "--json").output)
    assert stair["recommendation"]["interval_days"] == 250 and "drift" not in stair["recommendation"]["reason"]
    longer = json.loads(labd("calc", "interval", write(tmp_path, "l.toml", INTERVAL.replace(
        '"control-chart"', '"staircase"\ncurrent_interval_days = 365')), "--json").output)
    # The staircase keeps its 456 days but names the sooner date the checks' drift gives (method 2: 363 days).
    assert longer["recommendation"]["interval_days"] == 456
    assert "drift reaches the tolerance after 363 days" in longer["recommendation"]["reason"]
    failed = json.loads(labd("calc", "interval", write(tmp_path, "f.toml", INTERVAL.replace("0.12, 0.16]", "0.12, 0.56]")),
                             "--json").output)
    assert not failed["decision"]["passed"]
    assert failed["recommendation"] == {"next_calibration": "2026-06-04", "interval_days": 150,
                                        "reason": "out of tolerance: adjust or recalibrate now"}
    for name, text, words in [
        ("len.toml", INTERVAL.replace("days = [0, 30,", "days = [30,"), "same length"),
        ("stair.toml", INTERVAL.replace('"control-chart"', '"staircase"'), "current_interval_days"),
        ("method.toml", INTERVAL.replace('"control-chart"', '"calendar"'), "method"),
        ("date.toml", INTERVAL.replace("2026-01-05", '"last spring"'), "calibrated_on"),
        ("tol.toml", INTERVAL.replace("tolerance = 0.5", "tolerance = -0.5"), "tolerance"),
        ("before.toml", INTERVAL.replace("days = [0, 30,", "days = [-3, 30,"), "none may be negative"),
    ]:
        res = CliRunner().invoke(main, ["calc", "interval", write(tmp_path, name, text)])
        assert res.exit_code == 1, name
        assert "Traceback" not in res.output and name in res.output and words in res.output, res.output
        assert len(res.output.strip().splitlines()) == 1, res.output


def test_standard_check_takes_k_from_t_of_nu_eff_and_refuses_one_day(tmp_path):
    text = ("values = [0.012, -0.006, 0.009, 0.001, 0.015, -0.004, 0.007, 0.003, -0.002, 0.010]\n"
            "reference_expanded_uncertainty = 0.004\ncriterion = 0.020\n")
    d = json.loads(labd("calc", "standard-check", write(tmp_path, "w.toml", text), "--json").output)
    assert d["k"] == pytest.approx(2.09333, abs=1e-5) and d["dof"] == pytest.approx(28.46, abs=0.01)
    assert d["passed"] and d["en"] == pytest.approx(0.0045 / d["expanded_uncertainty"])
    res = CliRunner().invoke(main, ["calc", "standard-check",
                                    write(tmp_path, "one.toml", text.replace("[0.012, -0.006,", "[0.012] #"))])
    assert res.exit_code == 1 and "Traceback" not in res.output and "one.toml: values" in res.output


def test_validate_compares_a_text_result_word_for_word(tmp_path):
    cases = tmp_path / "cases"
    shutil.copytree(CASES_DIR / "ilac-g24-interval-methods", cases / "g24")
    case = cases / "g24" / "case.toml"
    case.write_text(case.read_text().replace('value = "2027-01-03"', 'value = "2027-01-04"'))
    report = run_cases(cases)
    wrong = [k for c in report["cases"] for k in c["checks"] if not k["passed"]]
    assert [k["path"] for k in wrong] == ["recommendation.next_calibration"]
    assert wrong[0]["actual"] == "2027-01-03"


@pytest.mark.parametrize("name, text, words", [
    # nan and inf are valid TOML floats: refused at the key, before any calculation sees them
    ("nan.toml", "d = 0.0001\ns = 0.00005\neccentricity = 0.0002\neccentricity_load = 100.0\n"
                 "loads = [ { indication = 100.0, error = nan, u = 0.0001 } ]\n", "nan.toml: loads.0.error: "),
    ("inf.toml", "values = [0.01, inf]\nreference_expanded_uncertainty = 0.004\ncriterion = 0.02\n",
     "inf.toml: values.1: "),
    # numbers the schema allows but floating point cannot square: one line, not an OverflowError traceback
    ("huge.toml", "d = 0.0001\ns = 1e308\neccentricity = 0.0002\neccentricity_load = 100.0\n"
                  "loads = [ { indication = 100.0, error = 0.0002, u = 0.0001 } ]\n", "too large for floating point"),
    ("far.toml", "[data]\nt = [0.0, 100.0, 200.0, 1e308]\nR = [100.0, 138.5, 175.8, 200.0]\n",
     "no temperature a platinum resistance thermometer is calibrated at"),
])
def test_numbers_no_calculation_can_carry_are_refused_in_one_line(tmp_path, name, text, words):
    command = {"nan.toml": "weighing", "inf.toml": "standard-check", "huge.toml": "weighing", "far.toml": "cvd"}[name]
    res = CliRunner().invoke(main, ["calc", command, write(tmp_path, name, text)])
    assert res.exit_code == 1
    assert "Traceback" not in res.output and words in res.output, res.output
    assert len(res.output.strip().splitlines()) == 1, res.output


def test_an_infinite_dof_may_be_written_as_tomls_inf_but_not_nan(tmp_path):
    text = ('[model]\nexpression = "y = a + b"\n[inputs.a]\nvalue = 1.0\nuncertainty = 0.1\ndof = inf\n'
            '[inputs.b]\nvalue = 2.0\nuncertainty = 0.1\ndof = "inf"\n')
    d = json.loads(labd("calc", "budget", write(tmp_path, "inf.toml", text), "--json").output)
    assert d["dof"] is None and d["k"] == pytest.approx(2.0, abs=1e-5)
    res = CliRunner().invoke(main, ["calc", "budget", write(tmp_path, "nan.toml", text.replace('"inf"', "nan"))])
    assert res.exit_code == 1 and "nan.toml: inputs.b.dof: " in res.output and "finite" in res.output

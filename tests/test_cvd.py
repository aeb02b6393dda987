"""Callendar–Van Dusen fits (issue 16, item 4): exact recovery from exact data, C only below 0 °C, weights and
the uncertainty of an interpolated temperature, and the CLI's JSON. The IEC 60751 table itself is a reference
case of `labd validate` (calc/reference_cases/iec60751-pt100-table)."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from labd.calc.cvd import fit

from .conftest import REPO

IEC = {"R0": 100.0, "A": 3.9083e-3, "B": -5.775e-7, "C": -4.183e-12}


def resistance(t, R0=100.0, A=IEC["A"], B=IEC["B"], C=IEC["C"]):
    t = np.asarray(t, float)
    return R0 * (1 + A * t + B * t ** 2 + np.where(t < 0, C * (t - 100) * t ** 3, 0.0))


def test_exact_points_give_the_coefficients_back():
    t = [-200, -100, -50, 0, 100, 200, 420, 660]
    f = fit(t, resistance(t))
    for name, value in IEC.items():
        assert f.coefficients()[name] == pytest.approx(value, rel=1e-8)
    t100, u = f.temperature(float(resistance([100.0])[0]))
    assert t100 == pytest.approx(100.0, abs=1e-9) and u < 1e-9


def test_c_is_fitted_only_below_zero():
    t = [0.0, 50.0, 100.0, 200.0, 300.0]
    f = fit(t, resistance(t))
    assert not f.fitted_c and f.coefficients()["C"] == 0.0
    assert f.coefficients()["B"] == pytest.approx(IEC["B"], rel=1e-9)
    with pytest.raises(ValueError, match="needs a point below 0 °C"):
        fit(t, resistance(t), with_c=True)
    with pytest.raises(ValueError, match="give u_R"):
        fit([0.0, 100.0, 200.0], resistance([0.0, 100.0, 200.0]))


def test_a_weighted_fit_covers_the_true_coefficients_and_its_temperatures_have_the_right_spread():
    rng = np.random.default_rng(7)
    t = np.array([-80.0, -40.0, 0.0, 0.0, 50.0, 100.0, 150.0, 200.0, 250.0, 300.0])
    u_r = 0.002
    misses, temperatures = 0, []
    for _ in range(200):
        f = fit(t, resistance(t) + rng.normal(0, u_r, t.size), u_resistance=u_r)
        c, u = f.coefficients(), np.sqrt(np.diag(f.covariance()))
        misses += abs(c["A"] - IEC["A"]) > 2 * u[1]
        temperatures.append(f.temperature(float(resistance([150.0])[0]))[0])
    assert misses < 200 * 0.1                       # about 4.6 % expected outside ±2u
    predicted_u = f.temperature(float(resistance([150.0])[0]))[1]
    assert np.std(temperatures, ddof=1) == pytest.approx(predicted_u, rel=0.2)


def test_callendars_alpha_delta_beta_are_iecs_and_their_covariance_is_the_conversions():
    t = [-200, -100, -50, 0, 100, 200, 420, 660]
    exact, _ = fit(t, resistance(t)).callendar()
    # The IEC 60751 values as readouts' manuals print them (Fluke 1560: 0.00385055, 1.4998, 0.109).
    assert exact["alpha"] == pytest.approx(0.00385055, rel=1e-9)
    assert exact["delta"] == pytest.approx(1.49979, abs=1e-5)
    assert exact["beta"] == pytest.approx(0.108634, abs=1e-6)
    # The covariance through the Jacobian against a Monte Carlo of the conversion from A, B, C.
    rng = np.random.default_rng(3)
    noisy = fit(t, resistance(t) + rng.normal(0, 0.002, len(t)), u_resistance=0.002)
    values, cov = noisy.callendar()
    draws = rng.multivariate_normal([noisy.coefficients()[k] for k in ("R0", "A", "B", "C")], noisy.covariance(),
                                    200_000)
    alpha = draws[:, 1] + 100 * draws[:, 2]
    mc = np.stack([draws[:, 0], alpha, -1e4 * draws[:, 2] / alpha, -1e8 * draws[:, 3] / alpha])
    assert np.sqrt(np.diag(cov)) == pytest.approx(np.std(mc, axis=1), rel=0.02)
    assert values["beta"] == pytest.approx(float(np.mean(mc[3])), abs=0.05 * np.sqrt(cov[3, 3]))


def test_beta_without_c_is_a_plain_zero_not_minus_zero():
    # −10⁸ · C / α with C = 0 is −0.0 in floating point; a certificate (and the JSON) must say 0.
    values, _ = fit([0.0, 100.0, 200.0], [100.0, 138.50, 175.83], u_resistance=0.0029).callendar()
    assert values["beta"] == 0.0
    assert math.copysign(1.0, values["beta"]) == 1.0


def test_u_of_t_enters_through_the_slope():
    t = [0.0, 100.0, 200.0, 300.0]
    only_r = fit(t, resistance(t), u_resistance=0.001)
    with_t = fit(t, resistance(t), u_resistance=0.001, u_t=0.01)
    assert np.sqrt(with_t.covariance()[1, 1]) > 3 * np.sqrt(only_r.covariance()[1, 1])


def test_labd_calc_cvd_gives_the_documented_json(tmp_path):
    spec = tmp_path / "cvd.toml"
    t = [-50.0, 0.0, 100.0, 200.0, 300.0]
    spec.write_text(f"[data]\nt = {t}\nR = {[round(float(r), 5) for r in resistance(t)]}\nu_R = 0.00001\n"
                    "[interpolate]\nR = [119.397]\nu_R = 0.001\n")
    out = subprocess.run([sys.executable, "-m", "labd", "calc", "cvd", str(spec), "--json"], cwd=REPO,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data["coefficients"]) == {"R0", "A", "B", "C"} == set(data["standard_uncertainties"])
    assert data["correlation"]["names"] == ["R0", "A", "B", "C"] and data["fitted_c"]
    assert data["coefficients"]["A"] == pytest.approx(IEC["A"], rel=1e-5)
    (row,) = data["interpolations"]
    assert row["t"] == pytest.approx(50.0, abs=0.01) and row["standard_uncertainty"] > 0.002
    assert row["extrapolated"] is False
    # Beyond the points (300 °C) the value is flagged; far beyond the equation's range (850 °C) it is refused.
    spec.write_text(spec.read_text().replace("R = [119.397]", "R = [280.98]"))
    far = json.loads(subprocess.run([sys.executable, "-m", "labd", "calc", "cvd", str(spec), "--json"], cwd=REPO,
                                    capture_output=True, text=True).stdout)
    assert far["interpolations"][0]["t"] == pytest.approx(500.0, abs=0.5) and far["interpolations"][0]["extrapolated"]
    spec.write_text(spec.read_text().replace("R = [280.98]", "R = [900.0]"))
    beyond = subprocess.run([sys.executable, "-m", "labd", "calc", "cvd", str(spec)], cwd=REPO, capture_output=True,
                            text=True)
    assert beyond.returncode == 1 and "interpolate.R: 900 Ω gives" in beyond.stderr and "outside" in beyond.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("[data]\nt = [0, 100]\nR = [100]\n")
    refused = subprocess.run([sys.executable, "-m", "labd", "calc", "cvd", str(bad)], cwd=REPO,
                             capture_output=True, text=True)
    assert refused.returncode == 1 and "same length" in refused.stderr and "Traceback" not in refused.stderr


def test_labd_calc_air_refuses_a_humidity_above_100_percent_in_one_line(tmp_path):
    spec = tmp_path / "air.toml"
    spec.write_text("temperature = 20.0\nhumidity = 150.0\npressure = 1013.25\n")
    out = subprocess.run([sys.executable, "-m", "labd", "calc", "air", str(spec)], cwd=REPO, capture_output=True,
                         text=True)
    assert out.returncode == 1 and "humidity" in out.stderr and "Traceback" not in out.stderr

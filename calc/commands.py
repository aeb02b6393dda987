"""What `labd calc …` computes, from a file to a JSON-ready dict. The CLI renders these dicts and
`labd validate` checks them, so the validation runs exactly the code paths the CLI runs."""
from __future__ import annotations

import functools
import math
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

from . import montecarlo
from .expression import ExpressionError, parse
from .air import air_density, air_density_uncertainty
from .cvd import PLAUSIBLE, T_MAX, T_MIN, fit as cvd_fit
from .balance import fit_weighing
from .checks import check_chart, decide, review_interval, rule_statement, warm_up, working_standard_stability
from .files import (AirFile, BudgetFile, CalcFileError, ConformityFile, CvdFile, FitFile, IntervalFile, ScoresFile,
                    StandardCheckFile, TitrationFile, WeighingFile, load)
from .fit import polyfit
from .gum import GumResult, Input, OutputResult, correlation_from_readings, propagate
from .scores import Assigned, Participant, score
from .stats import describe
from .titration import Titration, standardise


def _num(x: float | None) -> float | None:
    """JSON has no infinity: an infinite ν is written as null."""
    return None if x is None or not math.isfinite(x) else float(x)


def _output_dict(o: OutputResult, unit: str = "") -> dict:
    value, expanded = o.reported()
    return {
        "name": o.name, "unit": unit, "value": o.value, "standard_uncertainty": o.standard_uncertainty,
        "dof": _num(o.dof), "k": o.k, "expanded_uncertainty": o.expanded_uncertainty, "coverage": o.coverage,
        "reported": {"value": value, "expanded_uncertainty": expanded},
        "budget": [{"name": c.name, "value": c.value, "standard_uncertainty": c.standard_uncertainty,
                    "sensitivity": c.sensitivity, "contribution": c.contribution, "share": c.share,
                    "dof": _num(c.dof), "distribution": c.distribution, "type": c.kind} for c in o.budget],
        "notes": list(o.notes),
    }


def _result_dict(result: GumResult, unit: str = "") -> dict:
    if len(result.outputs) == 1:
        return _output_dict(next(iter(result.outputs.values())), unit)
    names = list(result.outputs)
    return {"outputs": {n: _output_dict(o, unit) for n, o in result.outputs.items()},
            "correlation": {"names": names, "matrix": result.correlation.tolist()}}


T = TypeVar("T")


def _given(value: T | None, key: str) -> T:
    """A value the file's schema requires in this form of input (a ValueError naming the key otherwise)."""
    if value is None:
        raise ValueError(f"{key} is required here")
    return value


def _inputs(path: Path, spec: BudgetFile) -> tuple[list[Input], dict[tuple[str, str], float]]:
    inputs = []
    for name, s in spec.inputs.items():
        try:
            if s.readings is not None:
                inp = Input.from_readings(name, s.readings, s.distribution or "normal")
            elif s.expanded is not None:
                inp = Input.from_expanded(name, _given(s.value, "value"), s.expanded, _given(s.k, "k"), s.nu)
            elif s.half_width is not None:
                inp = Input.from_half_width(name, _given(s.value, "value"), s.half_width,
                                            _given(s.distribution, "distribution"), s.nu)
            else:
                inp = Input(name, _given(s.value, "value"), _given(s.uncertainty, "uncertainty"), s.nu,
                            s.distribution or "normal")
        except ValueError as exc:
            raise CalcFileError(path, f"inputs.{name}", str(exc)) from None
        inputs.append(inp)
    by_name = {i.name: i for i in inputs}
    correlations = {}
    for n, c in enumerate(spec.correlations):
        for end in (c.a, c.b):
            if end not in by_name:
                raise CalcFileError(path, f"correlations[{n}]", f"{end!r} is not an input")
        try:
            r = correlation_from_readings(by_name[c.a], by_name[c.b]) if c.r == "readings" else c.r
        except ValueError as exc:
            raise CalcFileError(path, f"correlations[{n}].r", str(exc)) from None
        correlations[(c.a, c.b)] = r
    return inputs, correlations


def budget(path: Path | str, mc: int | None = None, adaptive: bool = False, seed: int | None = None) -> dict:
    path = Path(path)
    spec: BudgetFile = load(path, BudgetFile)
    try:
        model = parse(spec.model.expression, spec.model.outputs, spec.model.name or "y")
    except ExpressionError as exc:
        raise CalcFileError(path, "model.expression", str(exc)) from None
    inputs, correlations = _inputs(path, spec)
    try:
        result = propagate(model, inputs, correlations, spec.options.coverage)
    except ExpressionError as exc:
        raise CalcFileError(path, "model.expression", str(exc)) from None
    except ValueError as exc:
        raise CalcFileError(path, "inputs", str(exc)) from None
    out = _result_dict(result, spec.model.unit)
    out["model"] = {"expression": spec.model.expression, "inputs": list(model.inputs),
                    "outputs": list(model.outputs)}
    trials = mc if mc is not None else spec.options.mc
    if trials or adaptive:
        try:
            sims = montecarlo.run(model, inputs, correlations, None if adaptive else trials,
                                  spec.options.coverage, seed if seed is not None else spec.options.seed)
        except ValueError as exc:
            raise CalcFileError(path, "inputs", str(exc)) from None
        mcs = {}
        for name, s in sims.items():
            o = result.outputs[name]
            mcs[name] = {"trials": s.trials, "value": s.value, "standard_uncertainty": s.standard_uncertainty,
                         "interval_symmetric": list(s.interval_symmetric),
                         "interval_shortest": list(s.interval_shortest), "coverage": s.coverage,
                         "gum_validation": montecarlo.validate_gum(o.value, o.expanded_uncertainty, s,
                                                                   o.standard_uncertainty)}
        if len(mcs) == 1:
            out["mc"] = next(iter(mcs.values()))
        else:
            for name, m in mcs.items():
                out["outputs"][name]["mc"] = m
    return out


def fit(path: Path | str) -> dict:
    path = Path(path)
    spec: FitFile = load(path, FitFile)
    try:
        f = polyfit(spec.data.x, spec.data.y, spec.fit.degree, spec.data.u_y, spec.fit.x0)
    except ValueError as exc:
        raise CalcFileError(path, "data", str(exc)) from None
    return {"degree": f.degree, "x0": f.x0, "weighted": f.weighted, "coefficients": f.coefficients.tolist(),
            "standard_uncertainties": f.standard_uncertainties.tolist(), "correlation": f.correlation.tolist(),
            "residual_sd": f.residual_sd, "dof": f.dof, "residuals": f.residuals.tolist(),
            "predictions": [vars(f.predict(x)) for x in spec.predict.at]}


def read_values(path: Path) -> list[float]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CalcFileError(path, "", f"not a text file in UTF-8 (byte {exc.start})") from None
    if path.suffix == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise CalcFileError(path, "", f"not valid TOML: {exc}") from None
        if not isinstance(data.get("values"), list):
            raise CalcFileError(path, "values", "required: a list of numbers")
        try:
            return [float(v) for v in data["values"]]
        except (TypeError, ValueError):
            raise CalcFileError(path, "values", "every value must be a number") from None
    values = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            values.append(float(line))
        except ValueError:
            raise CalcFileError(path, f"line {n}", f"not a number: {line!r}") from None
    return values


def stats(path: Path | str) -> dict:
    path = Path(path)
    if not path.exists():
        raise CalcFileError(path, "", "no such file")
    values = read_values(path)
    try:
        s = describe(values)
    except ValueError as exc:
        raise CalcFileError(path, "values", str(exc)) from None
    # MSER's truncation: how many leading values a steady-state analysis leaves out as a warm-up (the stability
    # run does; calc/checks.py `warm_up`)
    return {"n": s.n, "mean": s.mean, "sd": s.sd, "autocorrelation_lag1": s.autocorrelation_lag1,
            "standard_error": s.standard_error, "min": s.minimum, "max": s.maximum,
            "mser_truncation": warm_up(values)}


def scores(path: Path | str) -> dict:
    path = Path(path)
    spec: ScoresFile = load(path, ScoresFile)
    rows = [Participant(r.participant, r.value, r.uncertainty, r.expanded, r.k) for r in spec.results]
    assigned = None
    if spec.assigned is not None:
        a = spec.assigned
        u = a.uncertainty if a.uncertainty is not None else (
            a.expanded / a.k if a.expanded is not None and a.k is not None else None)
        assigned = Assigned(a.value, u, a.expanded, a.sd_pt)
    try:
        return score(rows, assigned, spec.options.algorithm_a_stop, spec.options.algorithm_a_constants)
    except ValueError as exc:
        raise CalcFileError(path, "results", str(exc)) from None


def titration(path: Path | str) -> dict:
    path = Path(path)
    spec: TitrationFile = load(path, TitrationFile)
    s, t = spec.standard, spec.titrant
    if t.volumes is not None and t.repeatability is None:     # from the replicates: ν = n − 1 (GUM 4.2.6)
        v = np.asarray(t.volumes)
        volume, repeat = float(v.mean()), float(v.std(ddof=1) / v.mean() / math.sqrt(v.size))
        repeat_dof = t.repeatability_dof or float(v.size - 1)
    else:
        volume = float(np.mean(t.volumes)) if t.volumes is not None else _given(t.volume, "titrant.volume")
        repeat, repeat_dof = t.repeatability or 0.0, t.repeatability_dof or math.inf
    try:
        result, extra = standardise(Titration(
            s.formula, s.mass, s.purity, s.purity_half_width, volume, s.linearity_half_width, s.mass_uncertainty,
            t.calibration_half_width, t.temperature_uncertainty, repeat, s.equivalents,
            dict(spec.atomic_weights), repeat_dof), spec.options.coverage)
    except ValueError as exc:
        raise CalcFileError(path, "standard", str(exc)) from None
    out = {"molarity": _output_dict(result["c"], "mol/L"), "normality": _output_dict(result["N"], "eq/L"),
           "volume": volume, "repeatability": repeat, **extra}
    out["correlation"] = {"names": ["c", "N"], "matrix": result.correlation.tolist()}
    return out


def cvd(path: Path | str) -> dict:
    """Callendar–Van Dusen coefficients from calibration points (calc/cvd.py)."""
    path = Path(path)
    spec: CvdFile = load(path, CvdFile)
    d = spec.data
    try:
        f = cvd_fit(d.t, d.R, d.u_R, d.u_t, None if spec.options.c == "auto" else spec.options.c)
    except ValueError as exc:
        raise CalcFileError(path, "data", str(exc)) from None
    coefficients, cov = f.coefficients(), f.covariance()
    u = np.sqrt(np.diag(cov))
    names = list(coefficients)[: 4 if f.fitted_c else 3]
    n = len(names)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov[:n, :n] / np.outer(u[:n], u[:n])
    interpolations = []
    for r in spec.interpolate.R:
        try:
            t, ut = f.temperature(r, spec.interpolate.u_R)
        except (ValueError, ZeroDivisionError, FloatingPointError) as exc:
            raise CalcFileError(path, "interpolate.R", f"{r:g} Ω: {exc}") from None
        if not PLAUSIBLE[0] <= t <= PLAUSIBLE[1]:
            raise CalcFileError(path, "interpolate.R", f"{r:g} Ω gives {t:.6g} °C, far outside the Callendar–Van "
                                                       f"Dusen equation's range, {T_MIN:g} °C to {T_MAX:g} °C")
        # Outside the calibrated points the coefficients extrapolate: the uncertainty grows fast and nothing
        # measured supports the value, so the result says so (a certificate gives its range of validity).
        extrapolated = not min(d.t) <= t <= max(d.t)
        interpolations.append({"R": r, "t": t, "standard_uncertainty": ut, "extrapolated": extrapolated})
    callendar, callendar_cov = f.callendar()
    return {"coefficients": coefficients, "fitted_c": f.fitted_c,
            "standard_uncertainties": {k: float(v) for k, v in zip(coefficients, u)},
            "callendar": callendar,
            "callendar_standard_uncertainties": {k: float(v) for k, v in
                                                 zip(callendar, np.sqrt(np.diag(callendar_cov)))},
            "correlation": {"names": names, "matrix": np.nan_to_num(corr).tolist()},
            "residual_sd": f.residual_sd, "dof": f.dof, "weighted": f.weighted,
            "residuals": [{"t": t, "R": r, "residual": float(e)} for t, r, e in zip(d.t, d.R, f.residuals)],
            "interpolations": interpolations}


def air(path: Path | str) -> dict:
    """Air density by CIPM-2007 (calc/air.py) with its standard uncertainty."""
    path = Path(path)
    spec: AirFile = load(path, AirFile)
    try:
        rho = air_density(spec.temperature, spec.humidity / 100, spec.pressure * 100, spec.x_co2)
        u = air_density_uncertainty(spec.temperature, spec.humidity / 100, spec.pressure * 100,
                                    spec.u_temperature, spec.u_humidity / 100, spec.u_pressure * 100)
    except ValueError as exc:
        raise CalcFileError(path, "", str(exc)) from None
    return {"density": rho, "standard_uncertainty": u, "unit": "kg/m³"}


def weighing(path: Path | str) -> dict:
    """The uncertainty of a weighing result W over the range from the errors of indication (calc/balance.py
    `fit_weighing`; EURAMET cg-18 v4.0 section 8, C.2.2)."""
    path = Path(path)
    spec: WeighingFile = load(path, WeighingFile)
    try:
        wf = fit_weighing([p.indication for p in spec.loads], [p.error for p in spec.loads],
                          [p.u for p in spec.loads], spec.d, spec.s, spec.eccentricity, spec.eccentricity_load)
    except ValueError as exc:
        raise CalcFileError(path, "loads", str(exc)) from None
    return {"slope": wf.slope, "slope_uncertainty": wf.slope_uncertainty, "alpha": wf.alpha, "beta": wf.beta,
            "unit": "g", "at": [{"R": r, "expanded_uncertainty": wf.expanded(r),
                                 "global_expanded_uncertainty": wf.global_expanded(r)} for r in spec.at.R]}


def conformity(path: Path | str) -> dict:
    """Statements of conformity under a stated decision rule, with each item's probability of conformity
    (calc/checks.py `decide`; ILAC-G8:09/2019, JCGM 106:2012)."""
    path = Path(path)
    spec: ConformityFile = load(path, ConformityFile)
    out = []
    for item in spec.items:
        d = decide(item.deviation, item.expanded_uncertainty, item.tolerance, spec.rule)
        out.append({"name": item.name, "deviation": d.deviation, "expanded_uncertainty": d.expanded_uncertainty,
                    "tolerance": d.tolerance, "acceptance_limit": d.acceptance_limit, "passed": d.passed,
                    "conformance_probability": d.conformance_probability,
                    "false_acceptance_risk": (1 - d.conformance_probability) if d.passed else None})
    return {"rule": spec.rule, "statement": rule_statement(spec.rule), "items": out}


def interval(path: Path | str) -> dict:
    """The latest check's decision, the control chart centred on the reference value, the drift and the next
    calibration (calc/checks.py `review_interval`, the code the equipment check runs; ILAC-G24:2022 6.2–6.3)."""
    path = Path(path)
    spec: IntervalFile = load(path, IntervalFile)
    c = spec.checks
    try:
        decision = decide(c.deviations[-1], c.expanded_uncertainty, spec.tolerance, spec.decision_rule)
        chart = None
        if len(c.deviations) >= 2 and (spec.check_standard_uncertainty or spec.calibration_expanded_uncertainty):
            chart = check_chart(c.deviations, spec.check_standard_uncertainty, spec.calibration_expanded_uncertainty)
        rec, d = review_interval(spec.method, c.days, c.deviations, spec.tolerance, spec.calibrated_on,
                                 spec.max_interval_days, decision.passed, spec.calibration_expanded_uncertainty,
                                 spec.current_interval_days)
    except ValueError as exc:
        raise CalcFileError(path, "", str(exc)) from None
    # The equipment check's shapes (its results.json), with what a reader of the command also wants to see.
    return {"method": spec.method, "decision": decision.to_json(),
            "control_chart": None if chart is None else {**chart.to_json(), "in_control": chart.in_control},
            "drift_per_day": None if d is None else {**d.to_json(), "intercept": d.intercept,
                                                     "residual_sd": d.residual_sd, "dof": d.dof},
            "recommendation": None if rec is None else rec.to_json()}


def standard_check(path: Path | str) -> dict:
    """A working standard's intermediate check over days against its check standard (calc/checks.py
    `working_standard_stability`, the code the working-standard check runs)."""
    path = Path(path)
    spec: StandardCheckFile = load(path, StandardCheckFile)
    try:
        st = working_standard_stability(spec.values, spec.reference, spec.reference_expanded_uncertainty,
                                        spec.criterion, spec.reference_k)
    except ValueError as exc:
        raise CalcFileError(path, "", str(exc)) from None
    return {"n": st.n, "mean": st.mean, "sd": st.sd, "max_deviation": st.max_deviation,
            "standard_uncertainty": st.standard_uncertainty, "dof": _num(st.dof), "k": st.k,
            "expanded_uncertainty": st.k * st.standard_uncertainty,
            "en": _num(st.en), "criterion": spec.criterion, "passed": st.passed}


def _finite(data: object) -> bool:
    """No NaN or infinity anywhere in a result (an infinite ν is written None before this): they come only from
    inputs whose magnitudes floating point cannot carry."""
    if isinstance(data, float):
        return math.isfinite(data)
    if isinstance(data, dict):
        return all(_finite(v) for v in data.values())
    if isinstance(data, (list, tuple)):
        return all(_finite(v) for v in data)
    return True


def _guarded(command: Callable[..., dict]) -> Callable[..., dict]:
    """Every command: a file whose numbers pass the schema but cannot be computed with (a square of 1e200, a
    division by a zero the schema cannot see) is refused in one line naming the file, as a bad key is, never a
    traceback, and never a result with NaN in it."""
    @functools.wraps(command)
    def run(path: Path | str, **kwargs) -> dict:
        try:
            with np.errstate(all="ignore"):       # an overflow is reported below, once, not as a warning too
                result = command(path, **kwargs)
        except CalcFileError:
            raise
        except OverflowError:
            raise CalcFileError(path, "", "cannot be computed: a number is too large for floating point (its "
                                          "square or product overflows); check the magnitudes and units") from None
        except ZeroDivisionError:
            raise CalcFileError(path, "", "cannot be computed: a value that must not be zero is zero") from None
        except (ArithmeticError, ValueError, np.linalg.LinAlgError) as exc:
            raise CalcFileError(path, "", f"cannot be computed: {exc}") from None
        if not _finite(result):
            raise CalcFileError(path, "", "cannot be computed: the result overflows or is not a number; check "
                                          "the magnitudes and units of the inputs")
        return result
    return run


COMMANDS = {name: _guarded(command) for name, command in {
    "interval": interval, "standard-check": standard_check, "weighing": weighing, "conformity": conformity,
    "air": air, "budget": budget, "fit": fit, "stats": stats, "scores": scores, "titration": titration,
    "cvd": cvd}.items()}

"""`labd calc …` and `labd validate`: readable tables by default, the same numbers as JSON with --json."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from labd.calc import commands
from labd.calc.files import CalcFileError

console = Console()


def _g(x, digits: int = 6) -> str:
    if x is None:
        return "∞"
    if isinstance(x, float):
        return f"{x:.{digits}g}"
    return str(x)


def _emit(data: dict, as_json: bool, render) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        render(data)


def _compute(name: str, path: str, **kwargs) -> dict:
    try:
        return commands.COMMANDS[name](path, **kwargs)
    except CalcFileError as exc:
        raise click.ClickException(str(exc)) from None


def _render_output(o: dict, title: str) -> None:
    t = Table(title=title, title_justify="left")
    for col in ("input", "value", "u(xᵢ)", "ν", "cᵢ", "|cᵢ|u(xᵢ)", "share"):
        t.add_column(col, justify="left" if col == "input" else "right")
    for c in o["budget"]:
        t.add_row(c["name"], _g(c["value"], 8), _g(c["standard_uncertainty"], 3), _g(c["dof"], 3),
                  _g(c["sensitivity"], 4), _g(c["contribution"], 3), f"{c['share']:.1%}")
    console.print(t)
    unit = f" {o['unit']}" if o.get("unit") else ""
    console.print(f"{o['name']} = {_g(o['value'], 10)}{unit}   u_c = {_g(o['standard_uncertainty'], 4)}   "
                  f"ν_eff = {_g(o['dof'], 4)}   k = {o['k']:.3f} (p = {o['coverage']:.2%})   "
                  f"U = {_g(o['expanded_uncertainty'], 4)}")
    rep = o["reported"]
    console.print(f"[bold]reported: {o['name']} = ({rep['value']} ± {rep['expanded_uncertainty']}){unit}[/bold]")
    for note in o.get("notes", []):
        console.print(f"[yellow]note:[/yellow] {note}")
    if "mc" in o:
        m = o["mc"]
        v = m["gum_validation"]
        console.print(f"Monte Carlo ({m['trials']} trials): y = {_g(m['value'], 10)}  u = "
                      f"{_g(m['standard_uncertainty'], 4)}  symmetric [{_g(m['interval_symmetric'][0], 8)}, "
                      f"{_g(m['interval_symmetric'][1], 8)}]  shortest [{_g(m['interval_shortest'][0], 8)}, "
                      f"{_g(m['interval_shortest'][1], 8)}]  GUM interval "
                      f"{'validated' if v['validated'] else 'NOT validated'} (δ = {_g(v['delta'], 2)})")


def _render_budget(data: dict) -> None:
    if "outputs" in data:
        for name, o in data["outputs"].items():
            _render_output(o, f"Budget of {name}")
        names = data["correlation"]["names"]
        t = Table(title="Correlation of the outputs", title_justify="left")
        t.add_column("")
        for n in names:
            t.add_column(n, justify="right")
        for n, row in zip(names, data["correlation"]["matrix"]):
            t.add_row(n, *(f"{r:.3f}" for r in row))
        console.print(t)
    else:
        _render_output(data, f"Budget of {data['name']}")


@click.group()
def calc() -> None:
    """Uncertainty budgets, fits, statistics, scores and titrations from files."""


@calc.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--mc", type=int, default=None, help="Also propagate by Monte Carlo with this many trials.")
@click.option("--adaptive", is_flag=True, help="Monte Carlo with the adaptive number of trials (JCGM 101 7.9).")
@click.option("--seed", type=int, default=None, help="Random seed for Monte Carlo.")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
def budget(file, mc, adaptive, seed, as_json) -> None:
    """GUM uncertainty budget of the model in FILE (TOML)."""
    _emit(_compute("budget", file, mc=mc, adaptive=adaptive, seed=seed), as_json, _render_budget)


def _render_fit(d: dict) -> None:
    t = Table(title=f"Polynomial fit, degree {d['degree']} in (x − {d['x0']:g})", title_justify="left")
    for col in ("coefficient", "value", "u"):
        t.add_column(col, justify="right")
    for i, (b, u) in enumerate(zip(d["coefficients"], d["standard_uncertainties"])):
        t.add_row(f"b{i}", _g(b, 8), _g(u, 3))
    console.print(t)
    console.print(f"residual sd = {_g(d['residual_sd'], 4)}   ν = {d['dof']}")
    if d["predictions"]:
        p = Table(title="Predictions", title_justify="left")
        for col in ("x", "value", "u"):
            p.add_column(col, justify="right")
        for row in d["predictions"]:
            p.add_row(_g(row["x"]), _g(row["value"], 8), _g(row["standard_uncertainty"], 3))
        console.print(p)


@calc.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
def fit(file, as_json) -> None:
    """Least-squares calibration curve from FILE (TOML)."""
    _emit(_compute("fit", file), as_json, _render_fit)


def _render_cvd(d: dict) -> None:
    t = Table(title="Callendar–Van Dusen coefficients" + ("" if d["fitted_c"] else " (C not fitted: no point "
                                                                               "below 0 °C)"), title_justify="left")
    for col in ("coefficient", "value", "u"):
        t.add_column(col, justify="right")
    for name, value in d["coefficients"].items():
        t.add_row(name, _g(value, 8), _g(d["standard_uncertainties"][name], 3))
    for name in ("alpha", "delta", "beta")[: 3 if d["fitted_c"] else 2]:   # Callendar's form, as some readouts take
        t.add_row(name, _g(d["callendar"][name], 8), _g(d["callendar_standard_uncertainties"][name], 3))
    console.print(t)
    what = "Birge ratio" if d["weighted"] else "residual sd"
    console.print(f"{what} = {_g(d['residual_sd'], 4)}{'' if d['weighted'] else ' Ω'}   ν = {d['dof']}")
    if d["interpolations"]:
        p = Table(title="Temperatures from resistances", title_justify="left")
        for col in ("R (Ω)", "t (°C)", "u (°C)", ""):
            p.add_column(col, justify="right")
        for row in d["interpolations"]:
            p.add_row(_g(row["R"], 8), _g(row["t"], 8), _g(row["standard_uncertainty"], 3),
                      "[yellow]extrapolated beyond the calibration points[/]" if row["extrapolated"] else "")
        console.print(p)


@calc.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
def air(file, as_json) -> None:
    """Air density (CIPM-2007) from temperature, humidity and pressure in FILE (TOML)."""
    _emit(_compute("air", file), as_json, lambda d: console.print(
        f"air density {d['density']:.6f} kg/m³, u = {_g(d['standard_uncertainty'], 2)} kg/m³ (CIPM-2007)"))


@calc.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
def cvd(file, as_json) -> None:
    """Callendar–Van Dusen R0, A, B (and C below 0 °C) of a platinum thermometer from FILE (TOML)."""
    _emit(_compute("cvd", file), as_json, _render_cvd)


@calc.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
def stats(file, as_json) -> None:
    """Mean, standard deviation, lag-1 autocorrelation and MSER warm-up truncation of the values in FILE."""
    _emit(_compute("stats", file), as_json,
          lambda d: console.print("\n".join(f"{k:22} {_g(v, 15)}" for k, v in d.items())))


def _render_scores(d: dict) -> None:
    head = f"assigned value {_g(d['assigned_value'], 8)}"
    if d.get("assigned_uncertainty") is not None:
        head += f"  u = {_g(d['assigned_uncertainty'], 3)}"
    if d.get("sd_pt") is not None:
        head += f"  σ_pt = {_g(d['sd_pt'], 3)}"
    if "robust_sd" in d:
        a = d["algorithm_a"]
        head += f"\nby Algorithm A ({a['constants']} constants, {a['iterations']} iterations)"
    # A table title wraps at the table's width, which is narrow; the heading is a line of its own.
    console.print(head)
    t = Table()
    for col in ("participant", "value", "z", "z′", "ζ", "En"):
        t.add_column(col, justify="right")

    def cell(v, verdict):
        if v is None:
            return "—"
        colour = {"satisfactory": "green", "questionable": "yellow", "unsatisfactory": "red"}[verdict]
        return f"[{colour}]{v:.2f}[/{colour}]"
    for r in d["participants"]:
        t.add_row(r["participant"], _g(r["value"], 8), cell(r["z"], r["z_verdict"]),
                  cell(r["z_prime"], r["z_prime_verdict"]), cell(r["zeta"], r["zeta_verdict"]),
                  cell(r["En"], r["En_verdict"]))
    console.print(t)


@calc.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
def scores(file, as_json) -> None:
    """z, z′, ζ and En scores of a comparison or proficiency test in FILE (TOML)."""
    _emit(_compute("scores", file), as_json, _render_scores)


def _render_weighing(d: dict) -> None:
    console.print(f"E(R) = a·R: a = {_g(d['slope'], 6)} ± {_g(d['slope_uncertainty'], 3)} (u); "
                  f"u²(W) = α + β·R², α = {_g(d['alpha'], 5)} g², β = {_g(d['beta'], 5)}")
    t = Table(title="Uncertainty of a weighing result (cg-18 section 8)", title_justify="left")
    for col in ("R / g", "U(W) / g (corrected)", "U_gl(W) / g (uncorrected)"):
        t.add_column(col, justify="right")
    for row in d["at"]:
        t.add_row(_g(row["R"]), _g(row["expanded_uncertainty"], 3), _g(row["global_expanded_uncertainty"], 3))
    console.print(t)


@calc.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
def weighing(file, as_json) -> None:
    """The uncertainty of a weighing result W over the range, from a balance's errors of indication (FILE)."""
    _emit(_compute("weighing", file), as_json, _render_weighing)


def _render_conformity(d: dict) -> None:
    t = Table(title=f"Conformity: {d['statement']}", title_justify="left")
    for col in ("item", "deviation", "U", "tolerance ±", "acceptance limit", "statement", "p(conform)"):
        t.add_column(col, justify="left" if col in ("item", "statement") else "right")
    for r in d["items"]:
        t.add_row(r["name"], _g(r["deviation"]), _g(r["expanded_uncertainty"]), _g(r["tolerance"]),
                  _g(r["acceptance_limit"]), "[green]pass[/]" if r["passed"] else "[red]fail[/]",
                  f"{r['conformance_probability']:.4f}")
    console.print(t)


@calc.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
def conformity(file, as_json) -> None:
    """Statements of conformity under a decision rule (ILAC-G8), with each item's probability of conformity."""
    _emit(_compute("conformity", file), as_json, _render_conformity)


def _render_interval(d: dict) -> None:
    dec = d["decision"]
    verdict = "[green]passed[/]" if dec["passed"] else "[red]failed[/]"
    console.print(f"latest check: deviation {_g(dec['deviation'])}, U {_g(dec['expanded_uncertainty'])}, "
                  f"tolerance ±{_g(dec['tolerance'])}: {verdict} under {dec['statement']}")
    chart = d["control_chart"]
    if chart is not None:
        state = "in control" if chart["in_control"] else "[red]out of control[/]: " + "; ".join(
            f"{v['rule']} at check {v['index'] + 1}" for v in chart["violations"])
        console.print(f"control chart about the reference value: σ = {_g(chart['sigma'], 4)}, action limits "
                      f"±{_g(chart['action'][1], 4)}: {state}")
    dr = d["drift_per_day"]
    if dr is not None:
        console.print(f"drift {_g(dr['slope'], 4)} ± {_g(dr['standard_uncertainty'], 3)} per day "
                      f"({'significant' if dr['significant'] else 'not significant'} at 95 %, ν = {dr['dof']})")
    rec = d["recommendation"]
    if rec is None:
        console.print("next calibration: no recommendation yet (the control chart method needs checks on three days)")
    else:
        console.print(f"[bold]next calibration: {rec['next_calibration']} ({rec['interval_days']} days after "
                      f"calibration, {d['method']})[/bold]: {rec['reason']}")


@calc.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
def interval(file, as_json) -> None:
    """The next calibration from intermediate checks (ILAC-G24 control chart or staircase), with the latest
    check's decision, the control chart and the drift (FILE, TOML)."""
    _emit(_compute("interval", file), as_json, _render_interval)


def _render_standard_check(d: dict) -> None:
    verdict = "[green]passed[/]" if d["passed"] else "[red]failed[/]"
    console.print(f"{d['n']} days: mean {_g(d['mean'])}, s {_g(d['sd'], 4)}, largest |d − ref| "
                  f"{_g(d['max_deviation'], 4)} (criterion {_g(d['criterion'])})")
    console.print(f"u = {_g(d['standard_uncertainty'], 4)}   ν_eff = {_g(d['dof'], 4)}   k = {d['k']:.3f}   "
                  f"U = {_g(d['expanded_uncertainty'], 4)}   E_n = {_g(d['en'], 3)}: {verdict}")


@calc.command("standard-check")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
def standard_check(file, as_json) -> None:
    """Intermediate check of a working standard over days against its check standard: E_n with k = t(ν_eff)
    (FILE, TOML)."""
    _emit(_compute("standard-check", file), as_json, _render_standard_check)


@calc.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
def titration(file, as_json) -> None:
    """Molarity and normality of a solution standardised against a primary standard (FILE, TOML)."""
    def render(d):
        formula = "".join(f"{el}{n if n > 1 else ''}" for el, n in d["formula"].items())
        _render_output(d["molarity"], f"Standardisation against {formula} (M = {d['molar_mass']:.4f} g/mol)")
        n = d["normality"]
        console.print(f"normality N = {_g(n['value'], 6)} eq/L  U = {_g(n['expanded_uncertainty'], 3)} "
                      f"({d['equivalents']} equivalent(s) per mole)")
    _emit(_compute("titration", file), as_json, render)


@click.command()
@click.option("--out", type=click.Path(file_okay=False), default="validation-report", show_default=True,
              help="Folder for the validation report (HTML and JSON).")
@click.option("--cases", "cases_dir", type=click.Path(file_okay=False), default=None,
              help="Reference cases folder (default: the ones shipped with calc).")
@click.option("--pdf/--no-pdf", default=True, show_default=True, help="Also write the report as PDF.")
@click.option("--operator", default=None,
              help="Record the validation as a run made by this operator (the competence register's id), so the "
                   "report is checked and authorised with `labd sign` (SOP Validasi Software 6–8).")
@click.option("--config", "config_dir", type=click.Path(), default=None,
              help="Configuration folder, with --operator (default: $LABD_CONFIG, /etc/labd, or the example lab).")
@click.option("--records", type=click.Path(dir_okay=False), default=None,
              help="Records database, with --operator (default: [lab] records under the data folder).")
def validate(out, cases_dir, pdf, operator, config_dir, records) -> None:
    """Run every reference case through calc and write the software-validation report. With --operator the
    report is recorded as a run and written as a document of the record, in English and Indonesian, a draft
    until a supervisor checks it and the technical manager authorises it (`labd sign RUN_ID`)."""
    from labd.calc.validation import run_cases, write_report

    try:
        report = run_cases(Path(cases_dir) if cases_dir else None)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None
    paths = write_report(report, Path(out))
    if operator is not None:
        paths += _record(report, operator, cases_dir or "shipped with calc", Path(out), pdf, config_dir, records)
    elif pdf:
        from labd.daemon.documents import html_to_pdf
        html = paths[0]
        html_to_pdf(html.read_text(encoding="utf-8"), html.with_suffix(".pdf"))
        paths.append(html.with_suffix(".pdf"))
    t = Table(title=f"Validation of calc {report['software']['version']} "
                    f"(source hash {report['software']['calc_sha256'][:12]})", title_justify="left")
    for col in ("case", "checks", "result"):
        t.add_column(col)
    for case in report["cases"]:
        passed = sum(c["passed"] for c in case["checks"])
        t.add_row(case["id"], f"{passed}/{len(case['checks'])}",
                  "[green]PASS[/green]" if case["passed"] else "[red]FAIL[/red]")
    console.print(t)
    for case in report["cases"]:
        for c in case["checks"]:
            if not c["passed"]:
                console.print(f"[red]FAIL[/red] {case['id']}: {c['path']} = {c.get('actual')} "
                              f"expected {c['expected']} ± {c['tolerance']} {c.get('error', '')}")
    console.print(f"report: {', '.join(str(p) for p in paths)}")
    if operator is None:
        console.print("not recorded: with --operator ID it is recorded, to be checked and authorised (labd sign)")
    if not report["passed"]:
        sys.exit(1)


def _record(report: dict, operator: str, cases: str, out: Path, pdf: bool, config_dir, records) -> list[Path]:
    """The validation as a run of the record, and its document (draft) from the record."""
    import asyncio
    import getpass

    from labd.daemon.config import keys_dir, records_path
    from labd.daemon.documents import ReportError, write_documents
    from labd.daemon.engine import RunRefused, record_validation
    from labd.daemon.records import Records, RecordsError

    from .common import config as load_config

    config = load_config(config_dir)
    path = records_path(config, records)

    async def record() -> str:
        store = await Records(path, keys_dir(config)).open()
        source = f"cli:{getpass.getuser()}"
        try:
            try:
                run_id = await record_validation(store, config, report, operator, cases)
            except RunRefused as exc:
                await store.command(source, operator, {"action": "validate"}, f"refused: {exc}")
                raise
            await store.command(source, operator, {"action": "validate", "run_id": run_id}, "ok")
            return run_id
        finally:
            await store.close()
    try:
        run_id = asyncio.run(record())
        written = write_documents(path, run_id, config.lab, out, keys=keys_dir(config), names=config.names(),
                                  formats=("html", "pdf") if pdf else ("html",))
    except RunRefused as exc:
        raise click.ClickException(f"refused: {exc}") from None
    except (RecordsError, ReportError) as exc:
        raise click.ClickException(str(exc)) from None
    console.print(f"recorded as run {run_id} by {config.operators[operator].name}: a draft until "
                  f"`labd sign {run_id} --as checked` (a supervisor) and `--as authorised` (the technical manager)")
    return written

"""`labd run`: one procedure in the foreground, with a progress bar, prompts, results and a draft certificate."""
from __future__ import annotations

import dataclasses
import json
import sys
import tomllib
import uuid
from datetime import datetime, timezone
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from drivers import InstrumentError
from procedures import PROCEDURES, RunContext, StandardError, parse_parameters, register
from procedures.control import Aborted, AmbientSuspender, RunControl
from simulators import WallClock

from .bench import bench
from .certificate import render_certificate
from .config import Config


def run_control(config: Config, instruments) -> RunControl:
    """Suspend while the configured ambient sensor reads outside the lab's environmental limits."""
    env = config.environment
    if env.sensor is None or env.sensor not in instruments:
        return RunControl()
    limits = {"temperature": env.temperature, "humidity": env.humidity}
    return RunControl([AmbientSuspender(instruments[env.sensor], limits, env.sensor)])

console = Console()


def _answers(path: str | None) -> dict[str, str]:
    if not path:
        return {}
    try:
        with open(path, "rb") as fh:
            return {k: str(v) for k, v in tomllib.load(fh).items()}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise click.ClickException(f"answers file {path}: {exc}") from None


async def run_procedure(config: Config, name: str, params: dict[str, str], *, simulate: bool, speed: float,
                        answers_file: str | None, out: Path, seed: int | None = None) -> int:
    info = PROCEDURES.get(name)
    if info is None:
        raise click.ClickException(f"unknown procedure {name!r}; `labd run --list` lists them")
    try:
        parameters = parse_parameters(info, params)
    except (ValueError, TypeError) as exc:
        raise click.ClickException(str(exc)) from None
    answers = _answers(answers_file)
    operator = answers.pop("operator", "cli")
    if config.operators and operator in config.operators and name not in config.operators[operator].authorised:
        raise click.ClickException(f"operator {operator!r} is not authorised for {name}")
    run_id = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]

    async def ask(key: str, question: str) -> str:
        if key in answers:
            console.print(f"[cyan]? {question}[/]\n  answered from file: {answers[key]}")
            return answers[key]
        if not sys.stdin.isatty():
            raise click.ClickException(f"prompt {key!r} needs an answer and there is no terminal: {question}")
        return click.prompt(question)

    async with bench(config, simulate=simulate, speed=speed, seed=seed) as (instruments, lab):
        clock = lab.clock if lab is not None else WallClock()
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                      TimeElapsedColumn(), console=console) as bar:
            n_points = len(getattr(parameters, "set_points", ())) or 1
            total = n_points * getattr(parameters, "repetitions", 1)
            task = bar.add_task(f"{name}", total=total)

            def progress(event: str, data: dict) -> None:
                if event == "repetition":
                    bar.advance(task)
                elif event == "set_point":
                    bar.update(task, description=f"{name}: set point {data['set_point']:g} "
                                                 f"({data['point'] + 1}/{data['of']}) stabilising")
                elif event == "stable":
                    bar.update(task, description=f"{name}: stable after {data['after_s']:.0f} s, reading")
                elif event == "stabilising":
                    bar.update(task, description=f"{name}: stabilising, {data['value']:.3f} "
                                                 f"({data['elapsed']:.0f} s)")

            ctx = RunContext(run_id, name, operator, instruments, register(config.standards), clock, ask, progress,
                             simulated=simulate, control=run_control(config, instruments))
            started = clock.now()
            try:
                outcome = await info.module.run(ctx, parameters)
            except (StandardError, ValueError) as exc:
                raise click.ClickException(f"refused before start: {exc}") from None
            except Aborted as exc:
                _write(out / run_id, ctx, None, None)
                raise click.ClickException(f"run {run_id} aborted, instruments left safe: {exc}") from None
            except (InstrumentError, TimeoutError) as exc:
                _write(out / run_id, ctx, None, None)
                raise click.ClickException(f"run {run_id} failed, instruments left safe: {exc}") from None
    certificate = render_certificate(run_id=run_id, lab=config.lab, outcome=outcome,
                                     standards=[ctx.standards[parameters.reference_standard]], operator=operator,
                                     started=started, simulated=simulate, procedure=name, version=info.version)
    folder = _write(out / run_id, ctx, outcome, certificate)
    _print_results(outcome)
    console.print(f"[green]run {run_id} complete[/]: {len(ctx.readings)} readings recorded")
    console.print(f"dataset, results and draft certificate in {folder}/")
    return 0


def _write(folder: Path, ctx: RunContext, outcome, certificate: str | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    dataset = {"run_id": ctx.run_id, "procedure": ctx.procedure, "operator": ctx.operator,
               "simulated": ctx.simulated, "events": ctx.events,
               "readings": [dataclasses.asdict(r) for r in ctx.readings]}
    (folder / "dataset.json").write_text(json.dumps(dataset, indent=1, default=str))
    if outcome is not None:
        results = []
        for r in outcome.results:
            value, U = r.reported()
            results.append({
                "nominal": r.nominal, "reference": r.reference_mean, "reading": r.uut_mean, "correction": r.correction,
                "standard_uncertainty": r.budget.standard_uncertainty, "dof": r.budget.dof, "k": r.k,
                "expanded_uncertainty": r.expanded_uncertainty, "coverage": r.budget.coverage,
                "reported": {"correction": value, "expanded_uncertainty": U},
                "budget": [{"name": c.name, "standard_uncertainty": c.standard_uncertainty,
                            "sensitivity": c.sensitivity, "contribution": c.contribution,
                            "dof": c.dof if c.dof != float("inf") else None, "distribution": c.distribution}
                           for c in r.budget.components]})
        (folder / "results.json").write_text(json.dumps(results, indent=1))
    if certificate is not None:
        (folder / "certificate.html").write_text(certificate)
    return folder


def _print_results(outcome) -> None:
    table = Table(title="Results (correction = reference − reading)")
    for col in ("nominal °C", "reading °C", "correction °C", "U °C", "k", "ν_eff"):
        table.add_column(col, justify="right")
    for r in outcome.results:
        value, U = r.reported()
        decimals = len(U.split(".")[1]) if "." in U else 0
        table.add_row(f"{r.nominal:g}", f"{r.uut_mean:.{decimals}f}", value, U, f"{r.k:.2f}",
                      "∞" if r.budget.dof == float("inf") else f"{r.budget.dof:.0f}")
    console.print(table)

"""`labd run`: one procedure in the foreground, with a progress bar, prompts, results and a draft certificate.

Everything read goes to the records database as it is read; `--resume RUN_ID` continues a run that was
killed. Ctrl-C (or SIGTERM) aborts at the next safe point with the instruments left safe; a second Ctrl-C
stops at once (the safe state is still applied on the way out). SIGUSR1 pauses at the next safe point and
SIGUSR2 resumes.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
import sys
import tomllib
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from procedures import RunContext, register
from procedures.context import Prompt, effective
from procedures.control import AmbientSuspender, RunControl
from simulators import SimulatedOperator, WallClock

from .bench import bench
from .config import Config
from .records import Records, RecordsError
from .runner import (RunFailed, RunRefused, authorise, execute, history_from, load_for_resume, new_run_id,
                     parameters, procedure, start_record)

console = Console()


def run_control(config: Config, instruments) -> RunControl:
    """Suspend while the configured ambient sensor reads outside the lab's environmental limits."""
    env = config.environment
    if env.sensor is None or env.sensor not in instruments:
        return RunControl()
    limits = {"temperature": env.temperature, "humidity": env.humidity}
    return RunControl([AmbientSuspender(instruments[env.sensor], limits, env.sensor)])


def records_path(config: Config, override: str | None) -> Path:
    """Relative paths in lab.toml are relative to the working directory, like every other path given to labd."""
    return Path(override or config.lab.records)


def _answers(path: str | None) -> dict[str, str]:
    if not path:
        return {}
    try:
        with open(path, "rb") as fh:
            return {k: str(v) for k, v in tomllib.load(fh).items()}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise click.ClickException(f"answers file {path}: {exc}") from None


async def run_procedure(config: Config, name: str, params: dict[str, Any], *, simulate: bool, speed: float,
                        answers_file: str | None, out: Path, seed: int | None = None, records: str | None = None,
                        operator: str | None = None, resume: str | None = None,
                        sim_start: float | None = None) -> int:
    answers = _answers(answers_file)
    file_operator = answers.pop("operator", None)
    store = Records(records_path(config, records))
    try:
        await store.open()
    except RecordsError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        return await _run(config, name, params, store, answers, simulate=simulate, speed=speed, out=out, seed=seed,
                          operator=operator or file_operator, resume=resume, sim_start=sim_start)
    finally:
        await store.close()


async def _run(config: Config, name: str, raw: dict[str, Any], store: Records, answers: dict[str, str], *,
               simulate: bool, speed: float, out: Path, seed: int | None, operator: str | None, resume: str | None,
               sim_start: float | None) -> int:
    previous = None
    try:
        if resume:
            previous = await asyncio.to_thread(load_for_resume, store.path, resume)
            name, raw, operator = previous.procedure, previous.params, operator or previous.operator
        info = procedure(name)
        params = parameters(info, raw)
        operator = authorise(config, operator, name)
    except (RunRefused, RecordsError) as exc:
        raise click.ClickException(f"refused: {exc}") from None
    async with bench(config, simulate=simulate, speed=speed, seed=seed, start=sim_start) as (instruments, lab):
        clock = lab.clock if lab is not None else WallClock()
        # Named by the run's own clock: a run on a simulated date is named by that date, like its record.
        run_id = previous.run_id if previous else new_run_id(clock.now())
        simulated_operator = SimulatedOperator(lab.world) if lab is not None else None

        async def ask(prompt: Prompt) -> str:
            # A physical action in the simulated lab is the simulated technician's; other answers come from the
            # file first, so that a demo shows what a technician would type.
            if simulated_operator is not None and prompt.action:
                answer = await simulated_operator.perform(prompt.action)
                console.print(f"[cyan]? {prompt.question}[/]\n  simulated operator: {answer}")
                return answer
            if prompt.key in answers:
                console.print(f"[cyan]? {prompt.question}[/]\n  answered from file: {answers[prompt.key]}")
                return answers[prompt.key]
            if simulated_operator is not None:
                answer = await simulated_operator.perform(None)
                console.print(f"[cyan]? {prompt.question}[/]\n  simulated operator: {answer}")
                return answer
            if not sys.stdin.isatty():
                raise click.ClickException(f"prompt {prompt.key!r} needs an answer and there is no terminal: "
                                           f"{prompt.question}")
            return await asyncio.to_thread(click.prompt, prompt.question + (f" [{prompt.unit}]" if prompt.unit else ""))

        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                      TimeElapsedColumn(), console=console) as bar:
            task = bar.add_task(name, total=None)

            def progress(event: str, data: dict) -> None:
                if event == "step":
                    bar.update(task, completed=data["done"], total=data["of"],
                               description=f"{name}: {data.get('label', '')}")
                elif event == "stabilising":
                    bar.update(task, description=f"{name}: stabilising, {data['value']:.3f} ({data['elapsed']:.0f} s)")
                elif event in ("suspended", "paused"):
                    bar.update(task, description=f"{name}: {event} {data.get('reason', '')}")

            ctx = RunContext(run_id, name, operator, instruments, register(config.standards), clock, ask, progress,
                             simulated=simulate, control=run_control(config, instruments), records=store,
                             history=history_from(store))
            if previous is not None:
                previous.apply(ctx)
                console.print(f"resuming run {run_id} (attempt {ctx.attempt}): {len(previous.readings)} readings "
                              f"and {len(previous.completed)} completed points on record")
            else:
                await start_record(store, ctx, info, raw, params, config.lab.station)
            work = asyncio.ensure_future(execute(ctx, info, params))
            loop = asyncio.get_running_loop()

            def on_signal(signame: str) -> None:
                if ctx.control.abort_reason is None:
                    console.print(f"[yellow]{signame}: aborting at the next safe point (again to stop now)[/]")
                    ctx.control.abort(f"{signame} from the terminal")
                else:
                    work.cancel()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, on_signal, sig.name)
            # Pause and resume from another terminal: kill -USR1 / -USR2 <pid> (the service does it over MQTT).
            loop.add_signal_handler(signal.SIGUSR1, ctx.control.pause)
            loop.add_signal_handler(signal.SIGUSR2, ctx.control.resume)
            try:
                outcome = await work
            except RunRefused as exc:
                raise click.ClickException(f"refused before start: {exc}") from None
            except RunFailed as exc:
                _write(out / run_id, ctx, None)
                raise click.ClickException(str(exc)) from None
            except asyncio.CancelledError:
                _write(out / run_id, ctx, None)
                raise click.ClickException(f"run {run_id} stopped; resume it with `labd run --resume {run_id}`") \
                    from None
            finally:
                for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2):
                    loop.remove_signal_handler(sig)
    folder = _write(out / run_id, ctx, outcome)
    _print(outcome)
    console.print(f"[green]run {run_id} complete[/]: {len(ctx.readings)} readings recorded in {store.path}")
    documents = await _documents(store, run_id, name, config, folder)
    console.print(f"dataset and results{' and ' + documents if documents else ''} in {folder}/")
    return 0


async def _documents(store: Records, run_id: str, procedure: str, config: Config, folder: Path) -> str:
    """The run's document (draft certificate, check report, ...), in English and Indonesian, from the record."""
    from .reports import DOCUMENTS, write_documents
    await store.flush()
    written = await asyncio.to_thread(write_documents, store.path, run_id, config.lab, folder,
                                      warn=lambda m: console.print(f"[yellow]{m}[/]"))
    return f"{DOCUMENTS[procedure].kind} ({', '.join(p.name for p in written)})" if written else ""


def _write(folder: Path, ctx: RunContext, outcome) -> Path:
    """A copy of the run for people and other tools; the records database is the record."""
    folder.mkdir(parents=True, exist_ok=True)
    effective(ctx.readings, ctx.completed_in)
    dataset = {"run_id": ctx.run_id, "procedure": ctx.procedure, "operator": ctx.operator,
               "simulated": ctx.simulated, "events": ctx.events,
               "readings": [dataclasses.asdict(r) for r in ctx.readings]}
    (folder / "dataset.json").write_text(json.dumps(dataset, indent=1, default=str))
    if outcome is not None:
        (folder / "results.json").write_text(json.dumps(outcome.to_json(), indent=1, default=str))
    return folder


def _print(outcome) -> None:
    result = outcome.table()
    table = Table(title=result.title)
    for col in result.columns:
        table.add_column(col, justify="right")
    for row in result.rows:
        table.add_row(*row)
    console.print(table)

"""`labd run`: one procedure in the foreground, with a progress bar, prompts, results and a draft certificate.

Everything read goes to the records database as it is read; `--resume RUN_ID` continues a run that was
killed. Ctrl-C (or SIGTERM) aborts at the next safe point with the instruments left safe; a second Ctrl-C
stops at once (the safe state is still applied on the way out). SIGUSR1 pauses at the next safe point and
SIGUSR2 resumes.
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import getpass
import json
import signal
import sys
import tomllib
from pathlib import Path
from typing import Any

from datetime import timezone

import click
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from labd.daemon.config import Config, keys_dir, records_path, runs_dir
from labd.daemon.engine import (Conflict, Reservations, RunFailed, RunRefused, authorise, bench, execute, history_from,
                                load_for_resume, new_run_id, parameters, preflight, procedure, record_configuration,
                                refuse, run_control, start_record)
from labd.daemon.records import Records, RecordsError
from labd.procedures import RunContext, register
from labd.procedures.clock import Clock, WallClock
from labd.procedures.events import Event
from labd.procedures.context import Prompt, effective

from .common import config as load, config_option, console, err_console, records_option, run_daemon


@click.command()
@click.argument("procedure", required=False)
@config_option
@click.option("--simulate", is_flag=True, help="Run against the simulated lab, started in this process.")
@click.option("--speed", type=float, default=100.0, show_default=True, help="Time acceleration when simulating.")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="Procedure parameter (repeatable); nested ones with dots: stability.window=8.")
@click.option("--answers", type=click.Path(dir_okay=False), default=None, help="TOML file answering the prompts.")
@click.option("--operator", default=None, help="Who runs it (checked against the competence register).")
@records_option
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder for a copy of the run's dataset, results and documents (default: runs/ under the "
                   "data folder).")
@click.option("--resume", "resume", default=None, metavar="RUN_ID", help="Continue an interrupted run.")
@click.option("--seed", type=int, default=None, help="Random seed of the simulated lab.")
@click.option("--sim-date", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M"]), default=None,
              help="Date and time the simulated lab's clock starts at (checks on different days).")
@click.option("--list", "list_", is_flag=True, help="List the procedures and their parameters.")
@click.option("--markdown", "as_markdown", is_flag=True, hidden=True,
              help="With --list: the parameter tables of docs/procedures.md.")
def run(procedure, config_dir, simulate, speed, params, answers, operator, records, out, resume, seed, sim_date,
        list_, as_markdown) -> None:
    """Run PROCEDURE in the foreground and print its results."""
    from labd.procedures import PROCEDURES
    from labd.procedures.params import described, markdown
    if list_ or not (procedure or resume):
        if as_markdown:
            click.echo("\n".join(markdown(i.name, i.version, i.description, i.parameters)
                                 for i in PROCEDURES.values()), nl=False)
            return
        for info in PROCEDURES.values():
            console.print(f"[bold]{info.name}[/] (version {info.version}): {info.description}")
            for d in described(info.parameters):
                unit = f" {d.spec.unit}" if d.spec.unit else ""
                allowed = f" ({d.spec.range_text()})" if d.spec.range_text() else ""
                console.print(f"    {d.name}: {d.type} = {d.default!r}{unit}{allowed}"
                              + (f": {d.spec.description}" if d.spec.description else ""), markup=False)
        return
    pairs = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.ClickException(f"--param {item!r}: expected KEY=VALUE")
        pairs[key.strip()] = value.strip()
    if resume and (procedure or pairs):
        raise click.ClickException("--resume takes the procedure and its parameters from the record; give neither")
    config = load(config_dir)
    start = sim_date.replace(tzinfo=timezone.utc).timestamp() if sim_date else None
    sys.exit(run_daemon(run_procedure(config, procedure, pairs, simulate=simulate, speed=speed,
                                      answers_file=answers, out=runs_dir(config, out), seed=seed, records=records,
                                      operator=operator, resume=resume, sim_start=start)))


COMMANDS = (run,)


def _answers(path: str | None) -> dict[str, str]:
    if not path:
        return {}
    try:
        with open(path, "rb") as fh:
            return {k: str(v) for k, v in tomllib.load(fh).items()}
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"answers file {path}: not a text file in UTF-8 (byte {exc.start})") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise click.ClickException(f"answers file {path}: {exc}") from None


async def run_procedure(config: Config, name: str, params: dict[str, Any], *, simulate: bool, speed: float,
                        answers_file: str | None, out: Path, seed: int | None = None, records: str | None = None,
                        operator: str | None = None, resume: str | None = None,
                        sim_start: float | None = None) -> int:
    answers = _answers(answers_file)
    file_operator = answers.pop("operator", None)
    store = Records(records_path(config, records), keys_dir(config))
    try:
        await store.open()
        await record_configuration(store, config, "cli")
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
    # The bench's terminal: the operator is as named, and the system account that ran labd is recorded with it
    # (docs/security.md; MQTT and the dashboard authenticate the operator themselves).
    await store.command(f"cli:{getpass.getuser()}", operator,
                        {"action": "resume" if resume else "start", "procedure": name, "run_id": resume}, "accepted")
    async with bench(config, simulate=simulate, speed=speed, seed=seed, start=sim_start) as (instruments, lab):
        clock: Clock = lab.clock if lab is not None else WallClock()
        simulated_operator = None
        if lab is not None:
            from labd.simulators import SimulatedOperator   # only a simulated run loads the simulators
            simulated_operator = SimulatedOperator(lab.world)
        # Named by the run's own clock: a run on a simulated date is named by that date, like its record.
        run_id = previous.run_id if previous else new_run_id(clock.now(), config.lab.station)

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

        with contextlib.ExitStack() as stack, Progress(TextColumn("{task.description}"), BarColumn(),
                                                       TextColumn("{task.completed}/{task.total}"),
                                                       TimeElapsedColumn(), console=console) as bar:
            task = bar.add_task(name, total=None)

            def progress(event: str, data: dict) -> None:
                if event == Event.STEP:
                    bar.update(task, completed=data["done"], total=data["of"],
                               description=f"{name}: {data.get('label', '')}")
                elif event == Event.STABILISING:
                    bar.update(task, description=f"{name}: stabilising, {data['value']:.3f} ({data['elapsed']:.0f} s)")
                elif event in (Event.SUSPENDED, Event.PAUSED):
                    bar.update(task, description=f"{name}: {event} {data.get('reason', '')}")

            ctx = RunContext(run_id, name, operator, instruments, register(config.standards, config.sources), clock, ask, progress,
                             simulated=simulate, control=run_control(config, instruments), records=store,
                             history=history_from(store, config.central.url, config.lab.station))
            if previous is not None:
                previous.apply(ctx)
            # Validated against the bench and the register, then the instruments reserved (across every labd
            # process on this bench), all before anything moves; a refusal of a new run is on record.
            try:
                claims = await preflight(ctx, params)
                reservation = Reservations(config.data_dir / "locks").acquire(run_id, claims)
            except (RunRefused, Conflict) as exc:
                if previous is None:
                    await start_record(store, ctx, info, raw, params, config.lab.station)
                    await refuse(ctx, str(exc))
                raise click.ClickException(f"refused before start: {exc}") from None
            stack.callback(reservation.release)
            if previous is not None:
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
    from labd.daemon.documents import DOCUMENTS, ReportError, write_documents
    await store.flush()
    try:
        written = await asyncio.to_thread(write_documents, store.path, run_id, config.lab, folder,
                                          warn=lambda m: console.print(f"[yellow]{m}[/]"), keys=store.keys,
                                          names=config.names())
    except ReportError as exc:
        err_console.print(f"[red]no document[/]: {exc}")
        return ""
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

"""The record: `labd runs`, `labd export`, `labd report`, `labd audit verify`."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import click
from rich.table import Table

from labd.daemon.config import documents_dir, keys_dir, records_path
from labd.daemon.records import RecordsError, RecordsReader, RunSummary
from labd.daemon.records.central import CentralRecords, is_central

from .common import (central_records_option, config as load, config_option, console, err_console, read_secret,
                     records_option)


def _reader(config_dir: str | None, records: str | None) -> RecordsReader:
    config = load(config_dir)
    try:
        return RecordsReader(records_path(config, records), keys_dir(config))
    except RecordsError as exc:
        raise click.ClickException(str(exc)) from None


def _central(config_dir: str | None, records: str | None, keys: tuple[str, ...] = ()) -> CentralRecords | None:
    """The central records when `--records` is a postgresql:// URL: keys from `--keys`, else this bench's."""
    if not is_central(records):
        return None
    config = load(config_dir)
    folders = [Path(k) for k in keys] or [keys_dir(config) or records_path(config).parent / "keys"]
    try:
        return CentralRecords(str(records), folders)
    except RecordsError as exc:
        raise click.ClickException(str(exc)) from None


@contextlib.contextmanager
def _run_reader(config_dir: str | None, records: str | None, run_id: str,
                keys: tuple[str, ...] = ()) -> Iterator[RecordsReader]:
    """The reader holding `run_id`: this bench's records, or the station's in the central records."""
    central = _central(config_dir, records, keys)
    if central is None:
        with _reader(config_dir, records) as reader:
            yield reader
        return
    with central:
        try:
            reader = central.reader_of(run_id)
        except RecordsError as exc:
            raise click.ClickException(str(exc)) from None
        yield reader


keys_option = click.option("--keys", "keys", multiple=True, type=click.Path(file_okay=False),
                           help="With central records: a folder holding copies of the stations' records keys "
                                "(*.key; repeatable). Default: this bench's keys folder.")


@click.command()
@config_option
@central_records_option
def runs(config_dir, records) -> None:
    """List the recorded runs and their states."""
    central = _central(config_dir, records)
    if central is not None:
        with central:
            try:
                listed = central.runs()
                counts = {k: v for s in central.stations() for k, v in central.station(s.station).reading_counts().items()}
            except RecordsError as exc:
                raise click.ClickException(str(exc)) from None
            _runs_table(f"Runs in {central.path}", listed, counts)
        return
    with _reader(config_dir, records) as reader:
        _runs_table(f"Runs in {reader.path}", [(r.station, r) for r in reader.runs()], reader.reading_counts())


def _runs_table(title: str, listed: list[tuple[str, RunSummary]], counts: dict[str, int]) -> None:
    # Run ids are what `labd report` and `labd export` take: never cut, whatever the terminal's width.
    table = Table(title=title, title_justify="left")
    table.add_column("run", no_wrap=True, min_width=max((len(r.run_id) for _, r in listed), default=3))
    for col in ("station", "procedure", "operator", "state", "attempts", "readings"):
        table.add_column(col, overflow="fold")
    for station, r in listed:
        table.add_row(r.run_id, station, f"{r.procedure} {r.version}", r.operator, r.state, str(r.attempt),
                      str(counts.get(r.run_id, 0)))
    console.print(table)


@click.command()
@click.argument("run_id")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="json", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None, help="File (default: stdout).")
@config_option
@central_records_option
@keys_option
def export(run_id, fmt, output, config_dir, records, keys) -> None:
    """Export a run's readings (CSV) or its whole record (JSON: run, readings, events, results)."""
    from labd.daemon.documents import ReportError, export_run
    with _run_reader(config_dir, records, run_id, keys) as reader:
        try:
            text = export_run(reader, run_id, fmt)
        except (RecordsError, ReportError) as exc:
            raise click.ClickException(str(exc)) from None
    if output:
        Path(output).write_text(text)
    else:
        click.echo(text, nl=False)


@click.command()
@click.argument("run_id")
@click.option("--lang", type=click.Choice(["en", "id"]), default="en", show_default=True,
              help="English or Indonesian.")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder for the document (default: documents/ under the data folder).")
@click.option("--format", "fmt", type=click.Choice(["pdf", "html", "both"]), default="both", show_default=True)
@config_option
@central_records_option
@keys_option
def report(run_id, lang, out, fmt, config_dir, records, keys) -> None:
    """The document of a completed run: draft certificate (calibrations), check report (intermediate checks),
    standardisation report (titration) or stability report (stability run)."""
    from labd.daemon.documents import ReportError, load as load_record, render
    config = load(config_dir)
    try:
        if is_central(records):
            with _run_reader(config_dir, records, run_id, keys) as reader:
                rec = load_record(reader, run_id)
        else:
            rec = load_record(records_path(config, records), run_id, keys_dir(config))
        paths = render(rec, config.lab, lang, documents_dir(config, out),
                       ("html", "pdf") if fmt == "both" else (fmt,),
                       names=config.names())
    except (RecordsError, ReportError) as exc:
        raise click.ClickException(str(exc)) from None
    for path in paths:
        console.print(f"written {path}")


@click.command()
@click.argument("run_id")
@click.argument("field")
@click.argument("value")
@click.option("--reason", required=True, help="Why the recorded information is corrected (kept in the record).")
@click.option("--operator", required=True, help="Who corrects it: the run's operator or a supervisor.")
@config_option
@records_option
def amend(run_id, field, value, reason, operator, config_dir, records) -> None:
    """Correct a run's declared information (customer, work order, the item's description or serial) by an
    amendment: a row of its own naming the original, with who, when and why; the original stays (ISO/IEC 17025
    7.5.2). The operator's password is asked for (from stdin when it is not a terminal)."""
    import asyncio
    import getpass

    from labd.daemon.config.passwords import PasswordError, Passwords
    from labd.daemon.engine import RunRefused, check_amendment
    from labd.daemon.records import Records, keys_folder
    config = load(config_dir)
    path = records_path(config, records)
    with _reader(config_dir, records) as reader:
        try:
            summary = reader.run(run_id)
            original = reader.amended(run_id).get(field)
        except RecordsError as exc:
            raise click.ClickException(str(exc)) from None
    try:
        check_amendment(config, summary, field, value, operator)
    except (RunRefused, ValueError) as exc:
        raise click.ClickException(f"refused: {exc}") from None
    if original == value:
        raise click.ClickException(f"{field} of run {run_id} is already {value!r}; nothing to amend")
    passwords = Passwords(keys_folder(path, keys_dir(config)))
    try:
        known = passwords.has(operator) and passwords.check(operator, read_secret(f"password of {operator}"))
    except PasswordError as exc:
        raise click.ClickException(str(exc)) from None
    source = f"cli:{getpass.getuser()}"

    async def record(outcome_ok: bool) -> None:
        store = await Records(path, keys_dir(config)).open()
        try:
            if outcome_ok:
                await store.amend(run_id, field, original, value, operator, source, reason)
            await store.command(source, operator, {"action": "amend", "run_id": run_id, "field": field,
                                                   "reason": reason},
                                "ok" if outcome_ok else "refused: wrong password or none set")
        finally:
            await store.close()
    try:
        asyncio.run(record(known))
    except RecordsError as exc:
        raise click.ClickException(str(exc)) from None
    if not known:
        raise click.ClickException(f"refused: wrong password for {operator}, or none set "
                                   f"(labd operators passwd {operator})")
    console.print(f"run {run_id}: {field} amended from {original!r} to {value!r} by {operator}")


@click.group()
def audit() -> None:
    """The records' audit trail."""


@audit.command("verify")
@config_option
@central_records_option
@keys_option
def audit_verify(config_dir, records, keys) -> None:
    """Check the keyed chain over every record and the head kept outside the database; exit 1 if anything was
    edited, re-chained, deleted, slipped in, cut off or rolled back. With central records (`--records
    postgresql://…`), every station's chain under its own key against the head it signed."""
    central = _central(config_dir, records, keys)
    if central is not None:
        with central:
            try:
                results = central.verify()
            except RecordsError as exc:
                raise click.ClickException(str(exc)) from None
        if not results:
            raise click.ClickException(f"no station has replicated to {central.path} yet")
        broken = 0
        for station, result in results:
            if result.ok:
                console.print(f"[green]station {station}: audit trail intact[/]: {result.entries} entries, "
                              f"head {result.head}")
                continue
            broken += 1
            for problem in result.problems[:50]:
                err_console.print(f"[red]station {station}: {problem}[/]")
        if broken:
            raise click.ClickException(f"audit trail broken at {broken} of {len(results)} stations")
        return
    with _reader(config_dir, records) as reader:
        result = reader.verify()
    if result.ok:
        console.print(f"[green]audit trail intact[/]: {result.entries} entries, head {result.head}")
        return
    for problem in result.problems[:50]:
        err_console.print(f"[red]{problem}[/]")
    more = len(result.problems) - 50
    raise click.ClickException(f"audit trail broken: {len(result.problems)} problems"
                               + (f" ({more} not shown)" if more > 0 else ""))


@click.group()
def central() -> None:
    """The lab's central records ([central] url)."""


@central.command("sync")
@click.option("--timeout", type=float, default=120.0, show_default=True, help="Seconds to wait for the last entry.")
@config_option
@records_option
def central_sync(timeout, config_dir, records) -> None:
    """Replicate this bench's records to the central database now, up to the last entry, and say how far it got
    (a bench that runs procedures with `labd run` and no `labd serve`; the service replicates by itself)."""
    import asyncio

    from labd.daemon.records import keys_folder
    from labd.daemon.records.replica import Replicator
    config = load(config_dir)
    if not config.central.url:
        raise click.ClickException("no central records: set [central] url in lab.toml or LABD_CENTRAL_URL")
    path = records_path(config, records)
    replicator = Replicator(path, keys_folder(path, keys_dir(config)), config.lab.station, config.central.url)

    async def sync() -> bool:
        task = asyncio.create_task(replicator.run())
        try:
            return await replicator.drained(timeout)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    done = asyncio.run(sync())
    state = replicator.state
    if not done:
        where = f"{state.behind} entries behind" if state.connected else "the central records were not reached"
        raise click.ClickException(f"not replicated: {where}" + (f" ({state.last_error})" if state.last_error else ""))
    console.print(f"station {config.lab.station}: {state.replicated} entries in the central records")


COMMANDS = (runs, export, report, amend, audit, central)

"""The record: `labd runs`, `labd export`, `labd report`, `labd audit verify`."""
from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from labd.daemon.config import documents_dir, keys_dir, records_path
from labd.daemon.records import RecordsError, RecordsReader

from .common import config as load, config_option, console, err_console, records_option


def _reader(config_dir: str | None, records: str | None) -> RecordsReader:
    config = load(config_dir)
    try:
        return RecordsReader(records_path(config, records), keys_dir(config))
    except RecordsError as exc:
        raise click.ClickException(str(exc)) from None


@click.command()
@config_option
@records_option
def runs(config_dir, records) -> None:
    """List the recorded runs and their states."""
    with _reader(config_dir, records) as reader:
        summaries = reader.runs()
        counts = reader.reading_counts()
        # Run ids are what `labd report` and `labd export` take: never cut, whatever the terminal's width.
        table = Table(title=f"Runs in {reader.path}", title_justify="left")
        table.add_column("run", no_wrap=True, min_width=max((len(r.run_id) for r in summaries), default=3))
        for col in ("procedure", "operator", "state", "attempts", "readings"):
            table.add_column(col, overflow="fold")
        for r in summaries:
            table.add_row(r.run_id, f"{r.procedure} {r.version}", r.operator, r.state, str(r.attempt),
                          str(counts.get(r.run_id, 0)))
        console.print(table)


@click.command()
@click.argument("run_id")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="json", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None, help="File (default: stdout).")
@config_option
@records_option
def export(run_id, fmt, output, config_dir, records) -> None:
    """Export a run's readings (CSV) or its whole record (JSON: run, readings, events, results)."""
    from labd.daemon.documents import ReportError, export_run
    with _reader(config_dir, records) as reader:
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
@records_option
def report(run_id, lang, out, fmt, config_dir, records) -> None:
    """The document of a completed run: draft certificate (calibrations), check report (intermediate checks),
    standardisation report (titration) or stability report (stability run)."""
    from labd.daemon.documents import ReportError, load as load_record, render
    config = load(config_dir)
    try:
        rec = load_record(records_path(config, records), run_id, keys_dir(config))
        paths = render(rec, config.lab, lang, documents_dir(config, out),
                       ("html", "pdf") if fmt == "both" else (fmt,))
    except (RecordsError, ReportError) as exc:
        raise click.ClickException(str(exc)) from None
    for path in paths:
        console.print(f"written {path}")


@click.group()
def audit() -> None:
    """The records' audit trail."""


@audit.command("verify")
@config_option
@records_option
def audit_verify(config_dir, records) -> None:
    """Check the keyed chain over every record and the head kept outside the database; exit 1 if anything was
    edited, re-chained, deleted, slipped in, cut off or rolled back."""
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


COMMANDS = (runs, export, report, audit)

"""`labd` command line. Each subcommand is a thin shell over a package's public API."""
from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from datetime import timezone
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from .calc_cli import calc, validate
from .config import ConfigError, load_config

console = Console()
err_console = Console(stderr=True)


def _config(path: str | None):
    try:
        return load_config(path)
    except ConfigError as exc:
        raise click.ClickException(f"bad configuration: {exc}") from None


@click.group()
@click.option("-v", "--verbose", count=True, help="-v info, -vv debug (raw instrument I/O).")
def main(verbose: int) -> None:
    """labd: instrument control and data acquisition for the calibration laboratory."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s")


main.add_command(calc)
main.add_command(validate)


@main.command()
@click.option("--config", "config_dir", type=click.Path(), default=None, help="Configuration folder.")
@click.option("--addresses", type=click.Path(dir_okay=False), default=None,
              help="Write the simulated instruments' addresses to this JSON file.")
@click.option("--speed", type=float, default=1.0, show_default=True, help="Time acceleration factor.")
@click.option("--seed", type=int, default=None, help="Random seed for reproducible noise.")
def sim(config_dir: str | None, addresses: str | None, speed: float, seed: int | None) -> None:
    """Run the simulated lab described by the configuration until interrupted."""
    from simulators import SimulatedLab, SimulationConfigError
    config = _config(config_dir)

    async def run() -> None:
        lab = SimulatedLab(config.instruments, speed=speed, seed=seed, ambient_id=config.environment.sensor)
        try:
            found = await lab.start()
        except SimulationConfigError as exc:
            raise click.ClickException(f"{config.directory / 'instruments.toml'}: {exc}") from None
        text = json.dumps(found, indent=2)
        if addresses:
            tmp = Path(addresses).with_suffix(".tmp")
            tmp.write_text(text)
            tmp.replace(addresses)  # readers never see a half-written file
        console.print(text)
        console.print(f"[green]simulated lab running at ×{speed:g}; Ctrl-C to stop[/]")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await lab.stop()

    asyncio.run(run())


@main.command()
@click.option("--config", "config_dir", type=click.Path(), default=None, help="Configuration folder.")
@click.option("--simulate", is_flag=True, help="Use the simulated lab instead of the configured addresses.")
def instruments(config_dir: str | None, simulate: bool) -> None:
    """Identify every configured instrument and take one reading from each."""
    from drivers import InstrumentError
    from .bench import bench
    config = _config(config_dir)

    async def run() -> int:
        failures = 0
        table = Table(title="Instruments" + (" (simulated)" if simulate else ""))
        for col in ("id", "driver", "address", "identity", "reading"):
            table.add_column(col)
        async with bench(config, simulate=simulate) as (instruments, _lab):
            for iid, inst in instruments.items():
                cfg = config.instruments[iid]
                address = inst.transport.address
                try:
                    await inst.open()
                    identity = await inst.identify()
                    readings = await inst.sample()
                    shown = ", ".join(f"{r.value:g} {r.unit}" + (f" (ch {r.channel})" if r.channel else "")
                                      for r in readings)
                    table.add_row(iid, cfg.driver, str(address), identity, shown)
                except (InstrumentError, OSError) as exc:
                    failures += 1
                    table.add_row(iid, cfg.driver, str(address), "[red]error[/]", f"[red]{exc}[/]")
        console.print(table)
        return failures

    sys.exit(1 if asyncio.run(run()) else 0)



@main.command()
@click.argument("procedure", required=False)
@click.option("--config", "config_dir", type=click.Path(), default=None, help="Configuration folder.")
@click.option("--simulate", is_flag=True, help="Run against the simulated lab, started in this process.")
@click.option("--speed", type=float, default=100.0, show_default=True, help="Time acceleration when simulating.")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="Procedure parameter (repeatable); nested ones with dots: stability.window=8.")
@click.option("--answers", type=click.Path(dir_okay=False), default=None, help="TOML file answering the prompts.")
@click.option("--operator", default=None, help="Who runs it (checked against the competence register).")
@click.option("--records", type=click.Path(dir_okay=False), default=None,
              help="Records database (default: lab.records in lab.toml).")
@click.option("--out", type=click.Path(file_okay=False), default="runs", show_default=True,
              help="Folder for a copy of the run's dataset, results and draft certificate.")
@click.option("--resume", "resume", default=None, metavar="RUN_ID", help="Continue an interrupted run.")
@click.option("--seed", type=int, default=None, help="Random seed of the simulated lab.")
@click.option("--sim-date", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M"]), default=None,
              help="Date and time the simulated lab's clock starts at (checks on different days).")
@click.option("--list", "list_", is_flag=True, help="List the procedures and their parameters.")
def run(procedure, config_dir, simulate, speed, params, answers, operator, records, out, resume, seed, sim_date,
        list_) -> None:
    """Run PROCEDURE in the foreground and print its results."""
    from procedures import PROCEDURES
    from procedures.params import describe
    if list_ or not (procedure or resume):
        for info in PROCEDURES.values():
            console.print(f"[bold]{info.name}[/] (version {info.version}): {info.description}")
            for pname, tname, default in describe(info.parameters):
                console.print(f"    {pname}: {tname} = {default!r}")
        return
    pairs = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.ClickException(f"--param {item!r}: expected KEY=VALUE")
        pairs[key.strip()] = value.strip()
    if resume and (procedure or pairs):
        raise click.ClickException("--resume takes the procedure and its parameters from the record; give neither")
    from .run import run_procedure
    config = _config(config_dir)
    start = sim_date.replace(tzinfo=timezone.utc).timestamp() if sim_date else None
    sys.exit(asyncio.run(run_procedure(config, procedure, pairs, simulate=simulate, speed=speed,
                                       answers_file=answers, out=Path(out), seed=seed, records=records,
                                       operator=operator, resume=resume, sim_start=start)))


@main.command()
@click.option("--config", "config_dir", type=click.Path(), default=None, help="Configuration folder.")
@click.option("--simulate", is_flag=True, help="Serve the simulated lab, started in this process.")
@click.option("--speed", type=float, default=1.0, show_default=True, help="Time acceleration when simulating.")
@click.option("--mqtt", "mqtt_url", default=None, metavar="URL",
              help="mqtt://user:password@host:port (or mqtts://); overrides LABD_MQTT_URL and lab.toml.")
@click.option("--influx", "influx_url", default=None, metavar="URL",
              help="http://host:port of a server with the InfluxDB v2 write API; overrides LABD_INFLUX_URL.")
@click.option("--records", type=click.Path(dir_okay=False), default=None,
              help="Records database (default: lab.records in lab.toml).")
@click.option("--seed", type=int, default=None, help="Random seed of the simulated lab.")
@click.option("--sim-date", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M"]), default=None,
              help="Date and time the simulated lab's clock starts at.")
@click.option("--dashboard", "dashboard_port", type=int, default=None, metavar="PORT",
              help="Serve the live dashboard on 127.0.0.1:PORT (default: [service] dashboard_port).")
def serve(config_dir, simulate, speed, mqtt_url, influx_url, records, seed, sim_date, dashboard_port) -> None:
    """Run the service: procedures on command (MQTT) and on schedule, live readings, records, streaming."""
    from .mqtt import BrokerAddress, MqttUrlError
    from .service import Service
    config = _config(config_dir)
    start = sim_date.replace(tzinfo=timezone.utc).timestamp() if sim_date else None
    service = Service(config, simulate=simulate, speed=speed, seed=seed, mqtt_url=mqtt_url, influx_url=influx_url,
                      records_path=records, sim_start=start, dashboard_port=dashboard_port)
    if service.mqtt_url:
        try:
            BrokerAddress.parse(service.mqtt_url)
        except MqttUrlError as exc:
            raise click.ClickException(str(exc)) from None

    async def main_() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await service.run(stop)

    logging.getLogger("labd").setLevel(logging.INFO)
    asyncio.run(main_())


def _reader(config_dir: str | None, records: str | None):
    from .records import RecordsError, RecordsReader
    from .run import records_path
    path = records_path(_config(config_dir), records) if records is None else Path(records)
    try:
        return RecordsReader(path)
    except RecordsError as exc:
        raise click.ClickException(str(exc)) from None


_records_option = click.option("--records", type=click.Path(dir_okay=False), default=None,
                               help="Records database (default: lab.records in lab.toml).")
_config_option = click.option("--config", "config_dir", type=click.Path(), default=None, help="Configuration folder.")


@main.command()
@_config_option
@_records_option
def runs(config_dir, records) -> None:
    """List the recorded runs and their states."""
    with _reader(config_dir, records) as reader:
        table = Table(title=f"Runs in {reader.path}")
        for col in ("run", "procedure", "operator", "state", "attempts", "readings"):
            table.add_column(col)
        for r in reader.runs():
            n = reader.conn.execute("SELECT COUNT(*) FROM readings WHERE run_id = ?", (r.run_id,)).fetchone()[0]
            table.add_row(r.run_id, f"{r.procedure} {r.version}", r.operator, r.state, str(r.attempt), str(n))
        console.print(table)


@main.command()
@click.argument("run_id")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="json", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None, help="File (default: stdout).")
@_config_option
@_records_option
def export(run_id, fmt, output, config_dir, records) -> None:
    """Export a run's readings (CSV) or its whole record (JSON: run, readings, events, results)."""
    from .export import export_run
    from .records import RecordsError
    with _reader(config_dir, records) as reader:
        try:
            text = export_run(reader, run_id, fmt)
        except RecordsError as exc:
            raise click.ClickException(str(exc)) from None
    if output:
        Path(output).write_text(text)
    else:
        click.echo(text, nl=False)


@main.command()
@click.argument("run_id")
@click.option("--lang", type=click.Choice(["en", "id"]), default="en", show_default=True,
              help="English or Indonesian.")
@click.option("--out", type=click.Path(file_okay=False), default="reports", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["pdf", "html", "both"]), default="both", show_default=True)
@_config_option
@_records_option
def report(run_id, lang, out, fmt, config_dir, records) -> None:
    """The document of a completed run: draft certificate (calibrations), check report (intermediate checks),
    standardisation report (titration) or stability report (stability run)."""
    from .reports import ReportError, load, render
    from .records import RecordsError
    from .run import records_path
    config = _config(config_dir)
    try:
        rec = load(records_path(config, records), run_id)
        paths = render(rec, config.lab, lang, Path(out), ("html", "pdf") if fmt == "both" else (fmt,))
    except (RecordsError, ReportError) as exc:
        raise click.ClickException(str(exc)) from None
    for path in paths:
        console.print(f"written {path}")


@main.group()
def audit() -> None:
    """The records' audit trail."""


@audit.command("verify")
@_config_option
@_records_option
def audit_verify(config_dir, records) -> None:
    """Recompute the hash chain over every record; exit 1 if anything was edited, deleted or slipped in."""
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


if __name__ == "__main__":
    main()

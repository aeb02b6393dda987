"""`labd` command line. Each subcommand is a thin shell over a package's public API."""
from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
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
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="Procedure parameter (repeatable).")
@click.option("--answers", type=click.Path(dir_okay=False), default=None, help="TOML file answering the prompts.")
@click.option("--out", type=click.Path(file_okay=False), default="runs", show_default=True,
              help="Folder for the run's dataset, results and draft certificate.")
@click.option("--seed", type=int, default=None, help="Random seed of the simulated lab.")
@click.option("--list", "list_", is_flag=True, help="List the procedures and their parameters.")
def run(procedure, config_dir, simulate, speed, params, answers, out, seed, list_) -> None:
    """Run PROCEDURE in the foreground and print its results."""
    import dataclasses
    from procedures import PROCEDURES
    if list_ or not procedure:
        for info in PROCEDURES.values():
            console.print(f"[bold]{info.name}[/] (version {info.version}): {info.description}")
            for f in dataclasses.fields(info.parameters):
                default = f.default if f.default is not dataclasses.MISSING else "(structured)"
                console.print(f"    {f.name} = {default}")
        return
    pairs = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.ClickException(f"--param {item!r}: expected KEY=VALUE")
        pairs[key.strip()] = value.strip()
    from .run import run_procedure
    config = _config(config_dir)
    sys.exit(asyncio.run(run_procedure(config, procedure, pairs, simulate=simulate, speed=speed,
                                       answers_file=answers, out=Path(out), seed=seed)))


if __name__ == "__main__":
    main()

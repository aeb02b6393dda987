"""`labd` command line. Each subcommand is a thin shell over a package's public API; each family of commands
is a module here (lab, run, records, setup, calc)."""
from __future__ import annotations

import click

from . import lab, people, records, registers, review, run, setup
from .calc import calc, validate
from .logs import configure


def _version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from labd.about import describe
    click.echo(describe())
    ctx.exit()


@click.group()
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_version,
              help="Version, commit, and the SHA-256 of the calc source and of the lock file.")
@click.option("-v", "--verbose", count=True, help="-v info, -vv debug (raw instrument I/O).")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Log lines as readable text or as JSON objects (for a log collector).")
def main(verbose: int, log_format: str) -> None:
    """labd: instrument control and data acquisition for the calibration laboratory."""
    configure(verbose, log_format)


registers.group("operators", "", existing=people.operators)     # set, withdraw, push, history beside list, passwd
for command in (calc, validate, *lab.COMMANDS, *run.COMMANDS, *records.COMMANDS, *setup.COMMANDS,
                *people.COMMANDS, *review.COMMANDS, *registers.COMMANDS):
    main.add_command(command)

__all__ = ["main"]

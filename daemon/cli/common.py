"""What every subcommand shares: the consoles, loading the configuration with one clear line on failure, and
the common options."""
from __future__ import annotations

import getpass
import logging
import sys

from typing import Any

import click
from rich.console import Console

from labd.daemon.config import Config, ConfigError, load_config
from labd.daemon.records.central import is_central

from . import logs

# soft_wrap: a long path or run id printed to a pipe stays on one line (a script can use it); tables still fit.
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def config(path: str | None, *, quiet: bool = False) -> Config:
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        raise click.ClickException(f"bad configuration: {exc}") from None
    if not quiet:
        _tell("labd.config", f"configuration: {cfg.directory} ({cfg.origin})")
    if cfg.central.url:
        from labd.daemon.engine.registers import in_force
        cfg = in_force(cfg, say=lambda line: None if quiet else _tell("labd.registers", line))
    return cfg


def _tell(logger: str, line: str) -> None:
    """A line about where things came from, on stderr: as a JSON log line when stderr holds only those."""
    if logs.FORMAT == "json":
        logging.getLogger(logger).info("%s", line)
    else:
        err_console.print(f"[dim]{line}[/]")


config_option = click.option("--config", "config_dir", type=click.Path(), default=None,
                             help="Configuration folder (default: $LABD_CONFIG, /etc/labd, or the example lab).")
def _local_records(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if is_central(value):
        raise click.BadParameter("this command writes or reads a bench's own records file; the central records "
                                 "(postgresql://…) are written by replication and read by labd runs, report, "
                                 "export and audit verify")
    return value


records_option = click.option("--records", type=click.Path(dir_okay=False), default=None, callback=_local_records,
                              help="Records database (default: [lab] records under the data folder).")
central_records_option = click.option("--records", type=str, default=None,
                                      help="Records database (default: [lab] records under the data folder), or the "
                                           "lab's central records: postgresql://…")


def read_secret(prompt: str, *, twice: bool = False) -> str:
    """A password: from the terminal, not echoed (typed twice when setting one); from stdin (its first line)
    when stdin is not a terminal, so a script or a test can give it without it showing in the process list."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(f"{prompt}: ")
    if twice and getpass.getpass("again: ") != first:
        raise click.ClickException("the two passwords differ; nothing changed")
    return first


def run_daemon(main: Any) -> Any:
    """Run `main` on the daemon's event loop (daemon/eventloop.py); a bad LABD_EVENT_LOOP is one line."""
    from labd.daemon import eventloop
    try:
        return eventloop.run(main)
    except eventloop.EventLoopError as exc:
        raise click.ClickException(str(exc)) from None

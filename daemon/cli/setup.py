"""Setting a lab up: `labd init DIR` (a commented starter configuration) and `labd config check [DIR]`
(validate, then show the settings as resolved from files and environment, secrets masked)."""
from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

import click
from pydantic import SecretStr

from labd.daemon.config import Config, documents_dir, keys_dir, records_path
from labd.daemon.records import RecordsError, Seal, keys_folder

from .common import config as load, console, err_console

STARTER_FILES = ("lab.toml", "instruments.toml", "standards.toml", "operators.toml", "schedules.toml")


@click.command()
@click.argument("directory", type=click.Path(file_okay=False))
def init(directory: str) -> None:
    """Write a commented starter configuration for a new lab into DIRECTORY (which must not hold one)."""
    target = Path(directory)
    existing = [name for name in STARTER_FILES if (target / name).exists()]
    if existing:
        raise click.ClickException(f"{target} already has {', '.join(existing)}; nothing written")
    target.mkdir(parents=True, exist_ok=True)
    starter = resources.files("labd.daemon.config").joinpath("starter")
    for name in STARTER_FILES:
        with resources.as_file(starter.joinpath(name)) as src:
            shutil.copyfile(src, target / name)
    config = load(str(target), quiet=True)   # what we write must validate
    console.print(f"written a starter configuration in {target}: {', '.join(STARTER_FILES)}")
    keys = keys_folder(records_path(config), keys_dir(config))
    try:
        Seal.open(keys, create=True)
    except RecordsError as exc:
        raise click.ClickException(str(exc)) from None
    console.print(f"the records key is {keys / 'records.key'} (mode 600): keep it, and back it up apart from "
                  f"the records")
    console.print(f"edit it, then: labd config check {target}")


def _mask(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return "***" if value.get_secret_value() else ""
    if isinstance(value, str) and "://" in value:
        from labd.daemon.service.mqtt import masked
        return masked(value)
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mask(v) for v in value]
    return value


def resolved(config: Config) -> dict[str, Any]:
    """The settings in force, as a plain dict with every secret masked."""
    from labd.drivers import DRIVERS
    sections = {name: _mask(dict(getattr(config, name))) for name in ("lab", "mqtt", "influx", "environment",
                                                                       "service")}
    return {
        "configuration": {"folder": str(config.directory), "from": config.origin},
        "data": {"folder": str(config.data_dir), "records": str(records_path(config)),
                 "documents": str(documents_dir(config))},
        **sections,
        "instruments": {iid: {"driver": c.driver, "address": c.address,
                              "options": DRIVERS[c.driver].check_options(c.options).model_dump()}
                        for iid, c in config.instruments.items()},
        "standards": {sid: {"certificate": s.certificate, "due": s.due.isoformat()}
                      for sid, s in config.standards.items()},
        "operators": {oid: {"name": o.name, "role": o.role, "authorised": o.authorised}
                      for oid, o in config.operators.items()},
        "schedules": [{"procedure": s.procedure, "every": s.every, "at": s.at, "operator": s.operator}
                      for s in config.schedules],
        "drivers": sorted(DRIVERS),
    }


@click.group("config")
def config_group() -> None:
    """The lab's configuration."""


@config_group.command("check")
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="The resolved settings as JSON.")
def check(directory: str | None, as_json: bool) -> None:
    """Validate the configuration (DIRECTORY, else as `--config` would find it) and print the settings in force."""
    config = load(directory, quiet=True)
    data = resolved(config)
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
        return
    err_console.print(f"[green]configuration valid[/]: {config.directory} ({config.origin})")
    for section, values in data.items():
        console.print(f"[bold]\\[{section}][/]")
        if isinstance(values, dict):
            for key, value in values.items():
                console.print(f"  {key} = {value}", markup=False)
        else:
            console.print(f"  {values}", markup=False)


COMMANDS = (init, config_group)

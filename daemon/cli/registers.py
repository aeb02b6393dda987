"""The shared registers in the lab's central database: `labd standards …` and `labd operators set|withdraw|history|
push`. Each change needs the changing person's password and a reason; it is kept in the central register's
history (who, when, from which bench, why) and recorded in this bench's records, refusals too (ISO/IEC 17025
6.4.13, 7.11.2). Only a supervisor or the technical manager changes a register."""
from __future__ import annotations

import asyncio
import getpass
import json
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from labd.daemon.config import Config, keys_dir, records_path
from labd.daemon.config.passwords import PasswordError, Passwords
from labd.daemon.engine.registers import as_data, entry
from labd.daemon.records import Records, RecordsError, keys_folder
from labd.daemon.records import registers as central

from .common import config as load, config_option, console, read_secret


def _url(config: Config) -> str:
    if not config.central.url:
        raise click.ClickException("no central registers: set [central] url in lab.toml or LABD_CENTRAL_URL")
    return config.central.url


def _authorised(config: Config, operator: str, action: dict[str, Any]) -> str:
    """The operator, once their role and password are checked; a refusal is recorded and ends the command."""
    entry_ = config.operators.get(operator)
    refusal = None
    if entry_ is None:
        refusal = f"{operator!r} is not in the competence register"
    elif not entry_.at_least("supervisor") or entry_.role == "service":
        refusal = f"{operator} is a {entry_.role}: a supervisor or the technical manager changes a register"
    else:
        passwords = Passwords(keys_folder(records_path(config), keys_dir(config)))
        try:
            if not (passwords.has(operator) and passwords.check(operator, read_secret(f"password of {operator}"))):
                refusal = f"wrong password for {operator}, or none set (labd operators passwd {operator})"
        except PasswordError as exc:
            refusal = str(exc)
    if refusal is not None:
        _record(config, operator, action, f"refused: {refusal}")
        raise click.ClickException(f"refused: {refusal}")
    return operator


def _record(config: Config, operator: str, action: dict[str, Any], outcome: str) -> None:
    async def record() -> None:
        store = await Records(records_path(config), keys_dir(config)).open()
        try:
            await store.command(f"cli:{getpass.getuser()}", operator, action, outcome)
        finally:
            await store.close()
    try:
        asyncio.run(record())
    except RecordsError as exc:
        console.print(f"[yellow]not recorded at this bench: {exc}[/]")


def _entry_file(path: str, register: str, item: str) -> dict[str, Any]:
    """An entry from a TOML file: either the entry's keys, or a file laid out like the register's own
    (`[standards.<id>]`)."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{path}: not a text file in UTF-8 (byte {exc.start})") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise click.ClickException(f"{path}: {exc}") from None
    table = data.get(register)
    if isinstance(table, dict):
        if item not in table:
            raise click.ClickException(f"{path} has no [{register}.{item}]")
        data = table[item]
    return data


def _changed(config: Config, register: str, item: str, data: dict[str, Any] | None, operator: str,
             reason: str) -> None:
    action = {"action": "register", "register": register, "item": item, "reason": reason,
              "change": "withdraw" if data is None else "set"}
    _authorised(config, operator, action)
    try:
        change = central.change(_url(config), register, item, data, operator=operator,
                                station=config.lab.station, reason=reason)
    except RecordsError as exc:
        _record(config, operator, action, f"failed: {exc}")
        raise click.ClickException(str(exc)) from None
    _record(config, operator, {**action, "change_id": change.id}, "ok")
    console.print(f"{register} {item}: {'withdrawn' if data is None else 'set'} by {operator} "
                  f"(central change {change.id})")


def _local(config: Config, register: str) -> dict[str, Any]:
    """The configuration folder's own entries of a register, as the central database keeps them."""
    if register == "schedules":
        return {f"{config.lab.station}/{s.name}": {k: v for k, v in as_data(s).items() if k != "name"}
                for s in config.schedules}
    return {item: as_data(model) for item, model in getattr(config, register).items()}


def group(register: str, doc: str, existing: click.Group | None = None) -> click.Group:
    """The commands of one register (added to `existing` when given: `labd operators` has its own)."""
    grp = existing or click.Group(register, help=doc)

    @grp.command("set")
    @click.argument("item")
    @click.argument("file", type=click.Path(dir_okay=False, exists=True))
    @click.option("--operator", required=True, help="Who changes it (a supervisor or the technical manager).")
    @click.option("--reason", required=True, help="Why (kept with the change).")
    @config_option
    def set_(item, file, operator, reason, config_dir) -> None:
        """Add or change ITEM in the central register from FILE (TOML), checked as the register's file is."""
        config = load(config_dir, quiet=True)
        try:
            data = as_data(entry(register, item, _entry_file(file, register, item)))
        except ValueError as exc:
            raise click.ClickException(f"{file}: {exc}") from None
        _changed(config, register, item, data, operator, reason)

    @grp.command("withdraw")
    @click.argument("item")
    @click.option("--operator", required=True)
    @click.option("--reason", required=True)
    @config_option
    def withdraw(item, operator, reason, config_dir) -> None:
        """Withdraw ITEM from the central register (its history stays)."""
        config = load(config_dir, quiet=True)
        _changed(config, register, item, None, operator, reason)

    @grp.command("push")
    @click.option("--operator", required=True)
    @click.option("--reason", required=True)
    @config_option
    def push(operator, reason, config_dir) -> None:
        """Put this bench's own file entries into the central register, each that differs from the central one."""
        from labd.daemon.config import load_config
        config = load(config_dir, quiet=True)
        own = load_config(config_dir)         # the files only, without the central registers over them
        _authorised(config, operator, {"action": "register", "register": register, "change": "push",
                                       "reason": reason})
        url = _url(config)
        try:
            current, _ = central.current(url)
            changed = 0
            for item, data in _local(own, register).items():
                if current.get(register, {}).get(item) != data:
                    central.change(url, register, item, data, operator=operator, station=config.lab.station,
                                   reason=reason)
                    changed += 1
        except RecordsError as exc:
            raise click.ClickException(str(exc)) from None
        _record(config, operator, {"action": "register", "register": register, "change": "push", "reason": reason,
                                   "entries": changed}, "ok")
        console.print(f"{register}: {changed} entries put into the central register")

    @grp.command("history")
    @click.argument("item", required=False)
    @click.option("--json", "as_json", is_flag=True, help="As JSON.")
    @config_option
    def history(item, as_json, config_dir) -> None:
        """Every change of the central register (or of ITEM): when, who, from which bench, why."""
        config = load(config_dir, quiet=True)
        try:
            changes = central.history(_url(config), register, item)
        except RecordsError as exc:
            raise click.ClickException(str(exc)) from None
        if as_json:
            click.echo(json.dumps([c.__dict__ for c in changes], ensure_ascii=False, indent=1))
            return
        table = Table(title=f"Changes of the {register} register", title_justify="left")
        for col in ("change", "time", "item", "what", "operator", "station", "reason"):
            table.add_column(col, overflow="fold")
        for c in changes:
            table.add_row(str(c.id), datetime.fromtimestamp(c.time).strftime("%Y-%m-%d %H:%M"), c.item,
                          "withdrawn" if c.data is None else "set", c.operator, c.station, c.reason)
        console.print(table)

    return grp


def standards_list(grp: click.Group) -> None:
    @grp.command("list")
    @config_option
    def list_(config_dir) -> None:
        """The standards in force at this bench: certificate, due date, and where the register came from."""
        config = load(config_dir)
        table = Table(title="Standards in force", title_justify="left")
        for col in ("id", "description", "serial", "certificate", "due"):
            table.add_column(col, overflow="fold")
        for sid, std in config.standards.items():
            table.add_row(sid, std.description, std.serial_number, std.certificate, std.due.isoformat())
        console.print(table)


standards = group("standards", "The register of reference standards (weights among them) and heat sources, "
                               "shared by the lab's benches through the central database.")
standards_list(standards)
sources = group("sources", "The heat-source characterisations (EURAMET cg-13), shared through the central database.")
schedules = group("schedules", "Scheduled runs, per station (`<station>/<name>`), in the central database.")
COMMANDS = (standards, sources, schedules)

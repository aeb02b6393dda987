"""The people: `labd operators list` (the competence register, and who has a password) and
`labd operators passwd ID` (set an operator's password, recorded with who, when and why)."""
from __future__ import annotations

import asyncio
import getpass
from pathlib import Path

import click
from rich.table import Table

from labd.daemon.config import keys_dir, records_path
from labd.daemon.config.passwords import PasswordError, Passwords
from labd.daemon.records import Records, RecordsError, keys_folder

from .common import config as load, config_option, console, read_secret, records_option


@click.group()
def operators() -> None:
    """The competence register's people and their passwords."""


def _passwords(config, records) -> tuple[Passwords, Path]:
    path = records_path(config, records)
    return Passwords(keys_folder(path, keys_dir(config))), path


@operators.command("list")
@config_option
@records_option
def list_(config_dir, records) -> None:
    """Operators, their roles, broker logins, authorised procedures, and whether a password is set."""
    config = load(config_dir)
    passwords, _ = _passwords(config, records)
    table = Table(title="Competence register (operators.toml)", title_justify="left")
    for col in ("id", "name", "role", "broker login", "password", "authorised"):
        table.add_column(col, overflow="fold")
    try:
        for oid, op in config.operators.items():
            table.add_row(oid, op.name, op.role, op.mqtt_user or oid, "set" if passwords.has(oid) else "—",
                          ", ".join(op.authorised) if len(op.authorised) <= 2 else f"{len(op.authorised)} procedures")
    except PasswordError as exc:
        raise click.ClickException(str(exc)) from None
    console.print(table)


@operators.command("passwd")
@click.argument("operator_id")
@click.option("--reason", default="password set", show_default=True, help="Why, for the record.")
@config_option
@records_option
def passwd(operator_id, reason, config_dir, records) -> None:
    """Set OPERATOR_ID's password (dashboard login, signatures). Whoever runs this needs write access to the
    keys folder; the record keeps the system account that did it, when and why (ISO/IEC 17025 7.11.2)."""
    config = load(config_dir)
    entry = config.operators.get(operator_id)
    if entry is None:
        raise click.ClickException(f"no operator {operator_id!r} in the competence register (operators.toml)")
    if entry.role == "service":
        raise click.ClickException(f"{operator_id} is the service's own identity: it never logs in")
    passwords, path = _passwords(config, records)
    password = read_secret("new password", twice=True)
    try:
        passwords.set(operator_id, password)
    except (PasswordError, OSError) as exc:
        raise click.ClickException(f"password not set: {exc}") from None

    async def record() -> None:
        store = await Records(path, keys_dir(config)).open()
        try:
            await store.command(f"cli:{getpass.getuser()}", None,
                                {"action": "passwd", "operator": operator_id, "reason": reason}, "ok")
        finally:
            await store.close()
    try:
        asyncio.run(record())
    except RecordsError as exc:
        raise click.ClickException(f"password set, but not recorded: {exc}") from None
    console.print(f"password of {operator_id} ({entry.name}) set")


COMMANDS = (operators,)

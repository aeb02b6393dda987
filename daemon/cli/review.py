"""Review and approval: `labd sign RUN_ID --as checked|authorised --operator ID` (an electronic signature with
the signer's password, typed at that moment) and `labd review RUN_ID` (where the document stands)."""
from __future__ import annotations

import asyncio
import getpass
from datetime import datetime
from zoneinfo import ZoneInfo

import click

from labd.daemon.config import keys_dir, records_path
from labd.daemon.engine import RunRefused, sign_document
from labd.daemon.records import Records, RecordsError, RecordsReader, content_digest, review

from .common import config as load, config_option, console, read_secret, records_option


@click.command()
@click.argument("run_id")
@click.option("--as", "meaning", type=click.Choice(["checked", "authorised"]), required=True,
              help="What the signature means: the document was checked (supervisor), or authorised and issued "
                   "(technical manager).")
@click.option("--operator", required=True, help="Who signs (the competence register's id).")
@config_option
@records_option
def sign(run_id, meaning, operator, config_dir, records) -> None:
    """Sign a completed run's document. The signer's password is asked for now (from stdin when it is not a
    terminal); the record keeps who, the meaning, when and the digest of what was signed. Authorising issues the
    certificate: it gets its number, loses the DRAFT banner and names both signers."""
    config = load(config_dir)
    if operator not in config.operators:
        raise click.ClickException(f"refused: operator {operator!r} is not in the competence register")
    password = read_secret(f"password of {operator}")
    source = f"cli:{getpass.getuser()}"

    async def record() -> tuple[str | None, str | None]:
        store = await Records(records_path(config, records), keys_dir(config)).open()
        try:
            try:
                number = await sign_document(store, config, run_id, meaning, operator, password, source)
            except RunRefused as exc:
                await store.command(source, operator, {"action": "sign", "run_id": run_id, "meaning": meaning},
                                    f"refused: {exc}")
                return None, str(exc)
            await store.command(source, operator, {"action": "sign", "run_id": run_id, "meaning": meaning}, "ok")
            return number, None
        finally:
            await store.close()
    try:
        number, refused = asyncio.run(record())
    except RecordsError as exc:
        raise click.ClickException(str(exc)) from None
    if refused:
        raise click.ClickException(f"refused: {refused}")
    name = config.operators[operator].name
    if number:
        console.print(f"run {run_id} authorised by {name}: issued as {number} "
                      f"(labd report {run_id} gives the issued document)")
    else:
        console.print(f"run {run_id} {meaning} by {name}")


@click.command("review")
@click.argument("run_id")
@config_option
@records_option
def review_(run_id, config_dir, records) -> None:
    """Where a run's document stands: draft, checked or issued, and by whom."""
    config = load(config_dir)
    try:
        with RecordsReader(records_path(config, records), keys_dir(config)) as reader:
            state = review(reader.signatures(run_id), content_digest(reader, run_id))
    except RecordsError as exc:
        raise click.ClickException(str(exc)) from None
    console.print(f"run {run_id}: {state.state}" + (f", certificate {state.number}" if state.number else ""))
    for row in (state.checked, state.authorised):
        if row:
            when = datetime.fromtimestamp(row["time"], ZoneInfo(config.lab.timezone)).strftime("%Y-%m-%d %H:%M %Z")
            console.print(f"  {row['meaning']} by {row['operator']} at {when}")
    if state.replaces:
        console.print(f"  replaces certificate {state.replaces}")


COMMANDS = (sign, review_)

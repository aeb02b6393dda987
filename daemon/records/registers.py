"""The lab's shared registers in the central database: standards (weights among them), heat sources, operators
and schedules, kept as an append-only list of changes so that who changed what, when, from which bench and why
is the register's own history (ISO/IEC 17025 6.4.13, 7.11.2).

An entry's current version is its latest change; a change with no data withdraws the entry. The data is the
entry's table as lab.toml's sibling files give it (standards.toml's `[standards.<id>]`, ...), as JSON; the
config layer validates it with the same models as the files (labd.daemon.engine.registers)."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from .central import connect, redact
from .schema import RecordsError

REGISTERS = ("standards", "sources", "operators", "schedules")


@dataclass(frozen=True)
class Change:
    id: int
    register: str
    item: str
    data: dict[str, Any] | None        # None: withdrawn
    operator: str
    station: str
    reason: str
    time: float


def _check(register: str) -> None:
    if register not in REGISTERS:
        raise RecordsError(f"no register {register!r} (known: {', '.join(REGISTERS)})")


def current(url: str, *, timeout: float = 3.0) -> tuple[dict[str, dict[str, dict[str, Any]]], int]:
    """Every register's current entries, and the id of the latest change (the registers' version)."""
    conn = connect(url, timeout=timeout)
    try:
        rows = conn.execute("SELECT DISTINCT ON (register, item) register, item, data, id FROM register_changes "
                            "ORDER BY register, item, id DESC").fetchall()
        version = conn.execute("SELECT COALESCE(MAX(id), 0) FROM register_changes").fetchone()[0]
    finally:
        conn.close()
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for register, item, data, _ in rows:
        if data is not None:
            out.setdefault(register, {})[item] = json.loads(data)
    return out, int(version)


def change(url: str, register: str, item: str, data: dict[str, Any] | None, *, operator: str, station: str,
           reason: str) -> Change:
    """Append a change (data None: withdraw the entry). The reason is required: a register is a record."""
    _check(register)
    if not reason.strip():
        raise RecordsError("a change of a register needs a reason (it is kept with the change)")
    conn = connect(url)
    try:
        with conn.transaction():
            if data is None:
                exists = conn.execute("SELECT data FROM register_changes WHERE register = %s AND item = %s "
                                      "ORDER BY id DESC LIMIT 1", (register, item)).fetchone()
                if exists is None or exists[0] is None:
                    raise RecordsError(f"no {register} entry {item!r} in the central registers {redact(url)}")
            now = time.time()
            text = None if data is None else json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
            row = conn.execute("INSERT INTO register_changes (register, item, data, operator, station, reason, time) "
                               "VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
                               (register, item, text, operator, station, reason, now)).fetchone()
    finally:
        conn.close()
    return Change(int(row[0]), register, item, data, operator, station, reason, now)


def history(url: str, register: str, item: str | None = None) -> list[Change]:
    """The changes of a register (or of one entry), oldest first."""
    _check(register)
    conn = connect(url)
    try:
        sql = ("SELECT id, register, item, data, operator, station, reason, time FROM register_changes "
               "WHERE register = %s")
        args: list[Any] = [register]
        if item is not None:
            sql, args = sql + " AND item = %s", args + [item]
        rows = conn.execute(sql + " ORDER BY id", args).fetchall()
    finally:
        conn.close()
    return [Change(r[0], r[1], r[2], json.loads(r[3]) if r[3] is not None else None, r[4], r[5], r[6], r[7])
            for r in rows]

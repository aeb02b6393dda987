"""The records' schema and chain: tables, append-only triggers, row digests and chain links.

Shared by the writer (store.py) and the reader (reader.py); nothing outside `labd.daemon.records` writes SQL.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 2     # 2: the chain is keyed (seal.py), meta holds records_id and chain
TABLES = {
    "runs": ("run_id", "procedure", "version", "operator", "station", "params", "resolved", "simulated",
             "created"),
    "readings": ("run_id", "attempt", "time", "instrument", "quantity", "value", "unit", "raw", "corrected",
                 "point", "role", "used", "note"),
    "events": ("run_id", "attempt", "time", "kind", "data"),
    "results": ("run_id", "time", "kind", "data"),
    "commands": ("time", "source", "operator", "payload", "outcome"),
    # A correction of recorded information (ISO/IEC 17025 7.5.2): the original row stays as it was; this row
    # names it (run and field), with the value before and after, who, from where, and why.
    "amendments": ("run_id", "time", "field", "original", "amended", "operator", "source", "reason"),
    # An electronic signature on a run's document (21 CFR 11.50, 11.70 in spirit): who, its meaning (checked,
    # authorised), when, from where, and the digest of the content signed; authorising issues the certificate,
    # with its number (year and sequence: unique and without gaps, given out by the one writer).
    "signatures": ("run_id", "time", "meaning", "operator", "source", "content", "certificate", "year", "sequence"),
}
GENESIS = "0" * 64


def schema() -> str:
    parts = ["PRAGMA journal_mode=WAL;"]
    for table, cols in TABLES.items():
        key = "run_id TEXT PRIMARY KEY" if table == "runs" else "id INTEGER PRIMARY KEY"
        body = ", ".join(c for c in cols if not (table == "runs" and c == "run_id"))
        parts.append(f"CREATE TABLE IF NOT EXISTS {table} ({key}, {body});")
        for op in ("UPDATE", "DELETE"):
            parts.append(f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
                         f"BEGIN SELECT RAISE(ABORT, 'records are append-only: {op} on {table} refused'); END;")
    parts.append("CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY, time REAL, tbl TEXT, row_key TEXT, "
                 "digest TEXT, prev TEXT, hash TEXT);")
    for op in ("UPDATE", "DELETE"):
        parts.append(f"CREATE TRIGGER IF NOT EXISTS audit_no_{op.lower()} BEFORE {op} ON audit "
                     f"BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;")
    # The outbox is not a record: lines for the time-series server, written in the same transaction as the
    # reading they carry (so a recorded reading always reaches the server), deleted once the server has them.
    parts += ["CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY, line TEXT NOT NULL);",
              "CREATE INDEX IF NOT EXISTS readings_run ON readings(run_id, id);",
              "CREATE INDEX IF NOT EXISTS events_run ON events(run_id, kind, id);",
              "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);",
              f"INSERT OR IGNORE INTO meta VALUES ('schema', '{SCHEMA_VERSION}');"]
    return "\n".join(parts)


# The encoder json.dumps would build for these arguments, built once: a third less per row (issue 18).
_CANONICAL = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def digest(table: str, key: str, values: tuple) -> str:
    # repr-exact floats: the same row always gives the same bytes.
    return hashlib.sha256(_CANONICAL.encode([table, key, list(values)]).encode()).hexdigest()


def to_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def connect(path: Path | str) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA synchronous=FULL")  # a committed reading survives a power cut, not only a crash
    return conn


class RecordsError(Exception):
    """The records cannot be opened, read or written; the message names the file and why."""

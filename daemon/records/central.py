"""The lab's central records on PostgreSQL: every station's record rows and audit entries, as replicated.

Each bench keeps its SQLite records as the record of what it measured (it measures on while the network is
down); `replica.py` copies every row, with its audit entry, to this database in chain order. Here a row is
kept exactly as its station recorded it: its values as the canonical JSON its digest was computed from, so
that the digest can be recomputed here and a float or an integer comes back as the same type and bits.

Tables (PostgreSQL, append-only by triggers like the stations' own):
  stations  one per station: its records id, key id, how far it is replicated (seq, hash) and the head it
            signed for that point (so that a central copy cut short, or rolled back, shows);
  audit     (station, seq) → the station's audit entry;
  rows      (station, table, key) → the row's values; run_id for the queries of one run;
  register_changes  the shared registers' history (registers.py).

Reading: `CentralRecords` gives, per station, a `RecordsReader` over an in-memory copy of that station's records
(the same queries and the same verification as at the bench, with the head from `stations`), and finds a run
on whichever station recorded it. Loading a station is linear in its size: fine for a lab's years of records
(a few million rows load in seconds); a query layer on PostgreSQL itself is the step after.
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .reader import RecordsReader, RunSummary, Verification
from .schema import TABLES, RecordsError, schema
from .seal import CHAIN, Head, Seal

CENTRAL_SCHEMA = 1
DDL = f"""
CREATE TABLE IF NOT EXISTS labd_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO labd_meta VALUES ('schema', '{CENTRAL_SCHEMA}') ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS stations (
    station TEXT PRIMARY KEY, records_id TEXT NOT NULL, key_id TEXT NOT NULL,
    seq BIGINT NOT NULL, hash TEXT NOT NULL, head TEXT, updated DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
    station TEXT NOT NULL REFERENCES stations, seq BIGINT NOT NULL, time DOUBLE PRECISION NOT NULL,
    tbl TEXT NOT NULL, row_key TEXT NOT NULL, digest TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL,
    PRIMARY KEY (station, seq));
CREATE TABLE IF NOT EXISTS rows (
    station TEXT NOT NULL REFERENCES stations, tbl TEXT NOT NULL, row_key TEXT NOT NULL, run_id TEXT,
    vals TEXT NOT NULL, PRIMARY KEY (station, tbl, row_key));
CREATE INDEX IF NOT EXISTS rows_run ON rows (run_id);
CREATE TABLE IF NOT EXISTS register_changes (
    id BIGSERIAL PRIMARY KEY, register TEXT NOT NULL, item TEXT NOT NULL, data TEXT,
    operator TEXT NOT NULL, station TEXT NOT NULL, reason TEXT NOT NULL, time DOUBLE PRECISION NOT NULL);
CREATE INDEX IF NOT EXISTS register_changes_item ON register_changes (register, item, id);
CREATE OR REPLACE FUNCTION labd_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'records are append-only: % on % refused', TG_OP, TG_TABLE_NAME; END $$ LANGUAGE plpgsql;
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'audit_append_only') THEN
        CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
            FOR EACH ROW EXECUTE FUNCTION labd_append_only();
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'register_changes_append_only') THEN
        CREATE TRIGGER register_changes_append_only BEFORE UPDATE OR DELETE ON register_changes
            FOR EACH ROW EXECUTE FUNCTION labd_append_only();
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'rows_append_only') THEN
        CREATE TRIGGER rows_append_only BEFORE UPDATE OR DELETE ON rows
            FOR EACH ROW EXECUTE FUNCTION labd_append_only();
    END IF;
END $$;
"""


def is_central(records: str | Path | None) -> bool:
    return isinstance(records, str) and records.startswith(("postgresql://", "postgres://"))


def connect(url: str, *, timeout: float = 5.0) -> Any:
    """A psycopg connection (autocommit off), with the schema in place; RecordsError with the reason if not."""
    import psycopg
    try:
        conn = psycopg.connect(url, connect_timeout=max(1, int(timeout)), keepalives=1, keepalives_idle=10,
                               keepalives_interval=5, keepalives_count=3, application_name="labd")
    except psycopg.Error as exc:
        raise RecordsError(f"central records {redact(url)}: cannot connect ({_first_line(exc)})") from None
    try:
        with conn.transaction():
            # The tables once per database, not at every connection (a replicator reconnects, a bench reads the
            # registers before every run); one creator at a time when two stations start together.
            made = conn.execute("SELECT to_regclass('labd_meta') IS NOT NULL").fetchone() == (True,) and conn.execute(
                "SELECT value FROM labd_meta WHERE key = 'schema'").fetchone() == (str(CENTRAL_SCHEMA),)
            if not made:
                conn.execute("SELECT pg_advisory_xact_lock(7425307)")
                conn.execute(DDL)
    except psycopg.Error as exc:
        conn.close()
        raise RecordsError(f"central records {redact(url)}: cannot set up the tables ({_first_line(exc)})") from None
    return conn


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    from urllib.parse import urlsplit, urlunsplit
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


@dataclass(frozen=True)
class Station:
    station: str
    records_id: str
    key_id: str
    seq: int
    hash: str
    head: Head | None
    updated: float


class CentralRecords:
    """The read side of the central database. `keys`: folders holding copies of the stations' records keys
    (any file name ending in .key), which verification needs: a chain is checked under its station's key."""

    def __init__(self, url: str, keys: list[Path] | None = None) -> None:
        self.url, self.path = url, redact(url)
        self.keys = [k for k in (keys or []) if k is not None]
        self.conn = connect(url)
        self._mirrors: dict[str, RecordsReader] = {}

    def close(self) -> None:
        for reader in self._mirrors.values():
            reader.close()
        self.conn.close()

    def __enter__(self) -> "CentralRecords":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def stations(self) -> list[Station]:
        rows = self.conn.execute("SELECT station, records_id, key_id, seq, hash, head, updated FROM stations "
                                 "ORDER BY station").fetchall()
        self.conn.rollback()
        return [Station(r[0], r[1], r[2], r[3], r[4], Head(**json.loads(r[5])) if r[5] else None, r[6]) for r in rows]

    def station(self, name: str) -> RecordsReader:
        """A reader over the station's records as replicated here."""
        if name not in self._mirrors:
            found = [s for s in self.stations() if s.station == name]
            if not found:
                raise RecordsError(f"no station {name!r} in the central records {self.path}")
            self._mirrors[name] = self._mirror(found[0])
        return self._mirrors[name]

    def _seal(self, key_id: str) -> Seal | None:
        for folder in self.keys:
            for path in sorted(folder.glob("*.key")) if folder.is_dir() else []:
                try:
                    seal = Seal.from_file(path)
                except RecordsError:
                    continue
                if seal.key_id == key_id:
                    return seal
        return None

    def _mirror(self, station: Station) -> RecordsReader:
        mem = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        mem.executescript(schema())
        mem.execute("BEGIN")
        mem.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                        [("records_id", station.records_id), ("chain", CHAIN), ("key_id", station.key_id)])
        with self.conn.cursor() as cur:
            cur.execute("SELECT seq, time, tbl, row_key, digest, prev, hash FROM audit WHERE station = %s "
                        "ORDER BY seq", (station.station,))
            mem.executemany("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?)", cur)
            cur.execute("SELECT tbl, row_key, vals FROM rows WHERE station = %s", (station.station,))
            for tbl, key, vals in cur:
                if tbl not in TABLES:
                    continue                 # verification names it from its audit entry
                values = json.loads(vals)
                cols = TABLES[tbl]
                if tbl == "runs":
                    mem.execute(f"INSERT INTO runs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                                values)
                else:
                    mem.execute(f"INSERT INTO {tbl} (id, {', '.join(cols)}) VALUES "
                                f"({', '.join('?' * (len(cols) + 1))})", (int(key), *values))
        self.conn.rollback()
        mem.execute("COMMIT")
        return RecordsReader.mirror(mem, f"{self.path} station {station.station}", self._seal(station.key_id),
                                    station.head)

    def runs(self) -> list[tuple[str, RunSummary]]:
        """Every station's runs, each with its station, oldest first."""
        out = [(s.station, run) for s in self.stations() for run in self.station(s.station).runs()]
        return sorted(out, key=lambda sr: sr[1].created)

    def reader_of(self, run_id: str) -> RecordsReader:
        """The reader of the station that recorded `run_id`."""
        rows = self.conn.execute("SELECT DISTINCT station FROM rows WHERE tbl = 'runs' AND row_key = %s",
                                 (run_id,)).fetchall()
        self.conn.rollback()
        if not rows:
            raise RecordsError(f"no run {run_id!r} in the central records {self.path}")
        if len(rows) > 1:
            raise RecordsError(f"run {run_id!r} was recorded by several stations ({', '.join(r[0] for r in rows)})")
        return self.station(rows[0][0])

    def series(self, key: str, *, besides: str | None = None) -> list[dict[str, Any]]:
        """The entries of a series (intermediate checks of one instrument) recorded at every station but
        `besides`, each with its run and station, in the order they were recorded at each station."""
        rows = self.conn.execute("SELECT station, vals FROM rows WHERE tbl = 'results' AND (vals::jsonb)->>2 = %s "
                                 "AND station IS DISTINCT FROM %s ORDER BY station, row_key::bigint",
                                 (f"series:{key}", besides)).fetchall()
        self.conn.rollback()
        out = []
        for station, vals in rows:
            run_id, _, _, data = json.loads(vals)
            out.append({"run_id": run_id, "station": station, **json.loads(data)})
        return out

    def verify(self) -> list[tuple[str, Verification]]:
        """Each station's chain, verified as at the bench (every link under its key, every row's digest) against
        the head the station signed for what it replicated."""
        out = []
        for s in self.stations():
            result = self.station(s.station).verify()
            if s.head is not None and s.head.seq != s.seq:
                result = Verification(result.entries, result.head, result.problems + (
                    f"the station's head says {s.head.seq} entries, its replication {s.seq}",))
            out.append((s.station, result))
        return out

"""The lab's records: an embedded SQLite database (WAL) that is append-only and hash-chained.

Runs, readings, events (prompts, answers, state changes, completed points), results and commands are rows that
are never updated or deleted: triggers refuse it, and every row gets an entry in the audit chain holding the
SHA-256 of its content and of the entry before it. `verify()` recomputes the chain, so an edit made behind
the triggers' back (another tool, a dropped trigger) is detected. A run's state is its latest "state" event.

One writer thread owns the write connection. Callers on the event loop enqueue operations and, when they need
durability (a reading), await the commit; the thread commits everything queued in one transaction (group
commit), so many instruments cost one fsync per batch rather than one per reading.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
TABLES = {
    "runs": ("run_id", "procedure", "version", "operator", "station", "params", "resolved", "simulated",
             "created"),
    "readings": ("run_id", "attempt", "time", "instrument", "quantity", "value", "unit", "raw", "corrected",
                 "point", "role", "used", "note"),
    "events": ("run_id", "attempt", "time", "kind", "data"),
    "results": ("run_id", "time", "kind", "data"),
    "commands": ("time", "source", "operator", "payload", "outcome"),
}
GENESIS = "0" * 64


def _schema() -> str:
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


def _digest(table: str, key: str, values: tuple) -> str:
    # repr-exact floats and sorted keys: the same row always gives the same bytes.
    text = json.dumps([table, key, list(values)], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _link(prev: str, seq: int, digest: str) -> str:
    return hashlib.sha256(f"{prev}:{seq}:{digest}".encode()).hexdigest()


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def connect(path: Path | str) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA synchronous=FULL")  # a committed reading survives a power cut, not only a crash
    return conn


class RecordsError(Exception):
    pass


class _Writer:
    """The SQL of appending, run on the writer thread inside its transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.reload()

    def reload(self) -> None:
        """The chain's head as committed (after a rollback)."""
        row = self.conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        self.seq, self.head = (row[0], row[1]) if row else (0, GENESIS)
        self.outbox_added = False

    def outbox(self, lines: list[str]) -> None:
        if lines:
            self.conn.executemany("INSERT INTO outbox (line) VALUES (?)", [(line,) for line in lines])
            self.outbox_added = True

    def append(self, table: str, values: tuple) -> str:
        cols = TABLES[table]
        cur = self.conn.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                                values)
        key = values[0] if table == "runs" else str(cur.lastrowid)
        self.seq += 1
        digest = _digest(table, key, values)
        link = _link(self.head, self.seq, digest)
        self.conn.execute("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?)",
                          (self.seq, time.time(), table, key, digest, self.head, link))
        self.head = link
        return key


def _resolve(done: list[tuple[asyncio.Future, Any, BaseException | None]]) -> None:
    for fut, result, exc in done:
        if not fut.done():
            fut.set_exception(exc) if exc else fut.set_result(result)


class Records:
    """The write side, for the event loop. `open()` before use, `close()` flushes and stops the thread.

    `outbox_line(run_id, reading)`, when set, formats a reading for the time-series server; the line is queued
    in the outbox with the reading, and `on_outbox()` is called (from the writer thread) after each commit
    that added lines."""

    outbox_line: Callable[[str, Any], str | None] | None = None
    on_outbox: Callable[[], None] | None = None

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    async def open(self) -> "Records":
        self._loop = asyncio.get_running_loop()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        ready: Future = Future()
        self._thread = threading.Thread(target=self._serve, args=(ready,), name=f"records:{self.path.name}",
                                        daemon=True)
        self._thread.start()
        await asyncio.wrap_future(ready)
        return self

    def _serve(self, ready: Future) -> None:
        try:
            conn = connect(self.path)
            conn.executescript(_schema())
            writer = _Writer(conn)
        except BaseException as exc:
            ready.set_exception(RecordsError(f"records {self.path}: {exc}"))
            return
        ready.set_result(None)
        while True:
            batch = [self._queue.get()]
            while len(batch) < 2000:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(item is None for item in batch)
            ops = [item for item in batch if item is not None]
            try:
                conn.execute("BEGIN IMMEDIATE")
                done = [(fut, op(writer), None) for op, fut in ops]
                conn.execute("COMMIT")
            except Exception:
                # Rare: one operation failed. Roll the batch back and apply each on its own, so that one bad
                # operation fails alone and the others are kept.
                conn.execute("ROLLBACK")
                writer.reload()
                done = []
                for op, fut in ops:
                    try:
                        conn.execute("BEGIN IMMEDIATE")
                        done.append((fut, op(writer), None))
                        conn.execute("COMMIT")
                    except Exception as exc:
                        conn.execute("ROLLBACK")
                        writer.reload()
                        done.append((fut, None, exc))
            if writer.outbox_added and self.on_outbox is not None:
                writer.outbox_added = False
                self.on_outbox()
            # Only after the commit: a resolved future means durable. One hop to the loop for the whole batch.
            waiting = [d for d in done if d[0] is not None]
            if waiting:
                self._loop.call_soon_threadsafe(_resolve, waiting)
            if stop:
                conn.close()
                return

    def _submit(self, op: Callable[[_Writer], Any], wait: bool) -> asyncio.Future | None:
        if self._thread is None or not self._thread.is_alive():
            raise RecordsError(f"records {self.path} are not open")
        fut = self._loop.create_future() if wait else None
        self._queue.put((op, fut))
        return fut

    async def _do(self, op: Callable[[_Writer], Any]) -> Any:
        return await self._submit(op, True)

    # --- appending -------------------------------------------------------------------------------------------
    async def create_run(self, *, run_id: str, procedure: str, version: str, operator: str, station: str,
                         params: dict, resolved: dict, simulated: bool) -> None:
        values = (run_id, procedure, version, operator, station, _json(params), _json(resolved), int(simulated),
                  time.time())
        await self._do(lambda w: w.append("runs", values))

    async def reading(self, run_id: str, attempt: int, r) -> int:
        values = (run_id, attempt, r.time, r.instrument, r.quantity, r.value, r.unit, r.raw, r.corrected, r.point,
                  r.role, int(r.used), r.note)
        line = self.outbox_line(run_id, r) if self.outbox_line is not None else None

        def op(w: _Writer) -> int:
            key = int(w.append("readings", values))
            if line:
                w.outbox([line])
            return key
        return await self._do(op)

    def stream_only(self, lines: list[str]) -> None:
        """Lines for the time-series server that are not records (live monitoring between runs)."""
        self._submit(lambda w: w.outbox(lines), False)

    async def take_outbox(self, limit: int) -> list[tuple[int, str]]:
        """The oldest lines waiting for the time-series server, in order."""
        return await self._do(lambda w: w.conn.execute("SELECT id, line FROM outbox ORDER BY id LIMIT ?",
                                                       (limit,)).fetchall())

    async def drop_outbox(self, up_to: int) -> None:
        await self._do(lambda w: w.conn.execute("DELETE FROM outbox WHERE id <= ?", (up_to,)))

    async def outbox_size(self) -> int:
        return await self._do(lambda w: w.conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def event(self, run_id: str, attempt: int, time_: float, kind: str, data: dict) -> None:
        """Queued in order behind everything before it; `flush()` waits for it to be on disk."""
        values = (run_id, attempt, time_, kind, _json(data))
        self._submit(lambda w: w.append("events", values), False)

    async def result(self, run_id: str, kind: str, data: Any) -> None:
        values = (run_id, time.time(), kind, _json(data))
        await self._do(lambda w: w.append("results", values))

    async def command(self, source: str, operator: str | None, payload: Any, outcome: str) -> None:
        values = (time.time(), source, operator, payload if isinstance(payload, str) else _json(payload), outcome)
        await self._do(lambda w: w.append("commands", values))

    async def flush(self) -> None:
        await self._do(lambda w: None)

    async def close(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            await self.flush()
            self._queue.put(None)
            await asyncio.to_thread(self._thread.join)
        self._thread = None


# --- the read side: plain synchronous queries for the CLI, and for the loop through asyncio.to_thread -----------
@dataclass(frozen=True)
class RunSummary:
    run_id: str
    procedure: str
    version: str
    operator: str
    station: str
    params: dict
    resolved: dict
    simulated: bool
    created: float
    state: str
    attempt: int


@dataclass(frozen=True)
class Verification:
    entries: int
    head: str
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


class RecordsReader:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise RecordsError(f"no records at {self.path}")
        self.conn = connect(self.path)
        self.conn.row_factory = sqlite3.Row

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "RecordsReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def run(self, run_id: str) -> RunSummary:
        row = self.conn.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise RecordsError(f"no run {run_id!r} in {self.path}")
        state = self.conn.execute("SELECT data, attempt FROM events WHERE run_id = ? AND kind = 'state' "
                                  "ORDER BY id DESC LIMIT 1", (run_id,)).fetchone()
        attempt = self.conn.execute("SELECT MAX(attempt) FROM events WHERE run_id = ?", (run_id,)).fetchone()[0]
        return RunSummary(row["run_id"], row["procedure"], row["version"], row["operator"], row["station"],
                          json.loads(row["params"]), json.loads(row["resolved"]), bool(row["simulated"]),
                          row["created"], json.loads(state["data"])["state"] if state else "created", attempt or 1)

    def runs(self) -> list[RunSummary]:
        ids = [r[0] for r in self.conn.execute("SELECT run_id FROM runs ORDER BY created")]
        return [self.run(i) for i in ids]

    def readings(self, run_id: str) -> list[dict]:
        return [dict(r) for r in self.conn.execute("SELECT * FROM readings WHERE run_id = ? ORDER BY id",
                                                   (run_id,))]

    def events(self, run_id: str, kind: str | None = None) -> list[dict]:
        sql, args = "SELECT * FROM events WHERE run_id = ?", [run_id]
        if kind:
            sql, args = sql + " AND kind = ?", args + [kind]
        return [{**dict(r), "data": json.loads(r["data"])} for r in self.conn.execute(sql + " ORDER BY id", args)]

    def completed_points(self, run_id: str) -> tuple[dict[int, dict], dict[int, int]]:
        """Each completed point's saved data, and the attempt that completed it."""
        done = self.events(run_id, "point_complete")
        return ({e["data"]["point"]: e["data"]["data"] for e in done},
                {e["data"]["point"]: e["attempt"] for e in done})

    def results(self, run_id: str) -> list[dict]:
        return [{**dict(r), "data": json.loads(r["data"])}
                for r in self.conn.execute("SELECT * FROM results WHERE run_id = ? ORDER BY id", (run_id,))]

    def verify(self) -> Verification:
        """Walk the chain; recompute every row's digest; every row must be in the chain exactly once."""
        problems: list[str] = []
        prev, count = GENESIS, 0
        seen: dict[str, set[str]] = {t: set() for t in TABLES}
        for entry in self.conn.execute("SELECT * FROM audit ORDER BY seq"):
            count += 1
            where = f"audit entry {entry['seq']} ({entry['tbl']} {entry['row_key']})"
            if entry["seq"] != count:
                problems.append(f"{where}: sequence broken, expected {count}")
            if entry["prev"] != prev or entry["hash"] != _link(prev, entry["seq"], entry["digest"]):
                problems.append(f"{where}: chain broken (the trail was edited)")
            prev = entry["hash"]
            table, key = entry["tbl"], entry["row_key"]
            if table not in TABLES:
                problems.append(f"{where}: unknown table")
                continue
            seen[table].add(key)
            id_col = "run_id" if table == "runs" else "id"
            row = self.conn.execute(f"SELECT {', '.join(TABLES[table])} FROM {table} WHERE {id_col} = ?",
                                    (key if table == "runs" else int(key),)).fetchone()
            if row is None:
                problems.append(f"{where}: the row is missing (deleted)")
            elif _digest(table, key, tuple(row)) != entry["digest"]:
                problems.append(f"{where}: the row's content changed since it was recorded")
        for table in TABLES:
            id_col = "run_id" if table == "runs" else "id"
            for (key,) in self.conn.execute(f"SELECT {id_col} FROM {table}"):
                if str(key) not in seen[table]:
                    problems.append(f"{table} {key}: not in the audit trail (inserted behind its back)")
        return Verification(count, prev, tuple(problems))


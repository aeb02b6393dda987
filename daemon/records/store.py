"""The lab's records: an embedded SQLite database (WAL) that is append-only and hash-chained.

Runs, readings, events (prompts, answers, state changes, completed points), results and commands are rows that
are never updated or deleted: triggers refuse it, and every row gets an entry in the audit chain holding the
SHA-256 of its content, linked to the entry before it by an HMAC under the records key (seal.py). After each
commit the signed head of the chain is left outside the database. `verify()` recomputes the chain and checks
the head, so an edit made behind the triggers' back (another tool, a dropped trigger), re-chained or not, a
cut tail and an older copy of the file are detected. A run's state is its latest "state" event.

One writer thread owns the write connection. Callers on the event loop enqueue operations and, when they need
durability (a reading), await the commit; the thread commits everything queued in one transaction (group
commit), so many instruments cost one fsync per batch rather than one per reading.
"""
from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from .schema import GENESIS, TABLES, RecordsError, connect, digest, schema, to_json
from .seal import CHAIN, Head, Seal, head_problem, keys_folder, meta

log = logging.getLogger("labd.records")
Done = list[tuple["asyncio.Future[Any] | None", Any, BaseException | None]]


class _Writer:
    """The SQL of appending, run on the writer thread inside its transaction."""

    def __init__(self, conn: sqlite3.Connection, seal: Seal, records_id: str) -> None:
        self.conn, self.seal, self.records_id = conn, seal, records_id
        self.reload()

    def reload(self) -> None:
        """The chain's head as committed (after a rollback)."""
        row = self.conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        self.seq: int = row[0] if row else 0
        self.head: str = row[1] if row else GENESIS
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
        row_digest = digest(table, key, values)
        chained = self.seal.link(self.head, self.seq, row_digest)
        self.conn.execute("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?)",
                          (self.seq, time.time(), table, key, row_digest, self.head, chained))
        self.head = chained
        return key


def _resolve(done: Done) -> None:
    for fut, result, exc in done:
        if fut is not None and not fut.done():
            fut.set_exception(exc) if exc else fut.set_result(result)


class Records:
    """The write side, for the event loop. `open()` before use, `close()` flushes and stops the thread.

    `outbox_line(run_id, reading)`, when set, formats a reading for the time-series server; the line is queued
    in the outbox with the reading, and `on_outbox()` is called (from the writer thread) after each commit
    that added lines."""

    outbox_line: Callable[[str, Any], str | None] | None = None
    on_outbox: Callable[[], None] | None = None

    def __init__(self, path: Path | str, keys_dir: Path | str | None = None) -> None:
        self.path = Path(path)
        self.keys = keys_folder(self.path, Path(keys_dir) if keys_dir is not None else None)
        self.head: Head | None = None      # the latest signed head, for the service to publish
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
            seal = Seal.open(self.keys, create=True)
            conn = connect(self.path)
            conn.executescript(schema())
            writer = _Writer(conn, seal, self._identify(conn, seal))
        except RecordsError as exc:
            ready.set_exception(exc)
            return
        except BaseException as exc:
            ready.set_exception(RecordsError(f"records {self.path}: {exc}"))
            return
        ready.set_result(None)
        sealed = writer.seq
        while True:
            batch = [self._queue.get()]
            while len(batch) < 2000:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            done: Done
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
            if writer.seq != sealed:
                sealed = writer.seq
                self.head = seal.sign(writer.records_id, writer.seq, writer.head)
                try:
                    seal.write_head(self.path, self.head)
                except OSError as exc:     # the records are committed; a head that lags is caught up next time
                    log.warning("cannot write the records head %s: %s", seal.head_path(self.path), exc)
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

    def _identify(self, conn: sqlite3.Connection, seal: Seal) -> str:
        """This database's id, set when it is new; refuse records whose head shows a cut or an older copy."""
        entries = conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
        chain, records_id = meta(conn, "chain"), meta(conn, "records_id")
        if entries and chain != CHAIN:
            raise RecordsError(f"records {self.path} were written with the unkeyed chain of an earlier labd: "
                               f"keep them as they are and start new records (another --records or data folder)")
        if chain is not None and meta(conn, "key_id") != seal.key_id:
            raise RecordsError(f"records {self.path} were sealed with another key than {seal.folder}/records.key")
        head = seal.read_head(self.path)
        if records_id is None:
            if head is not None and head.seq:
                raise RecordsError(f"records {self.path} are new, but {seal.head_path(self.path)} says records "
                                   f"with {head.seq} entries were here: restore them, or move the head file "
                                   f"away to start new records")
            records_id = uuid.uuid4().hex
            conn.executemany("INSERT INTO meta VALUES (?, ?)", [("records_id", records_id), ("chain", CHAIN),
                                                               ("key_id", seal.key_id)])
            return records_id
        problem = head_problem(conn, head, self.path)
        if problem:
            raise RecordsError(f"records {self.path}: {problem}; `labd audit verify` says more")
        return records_id

    @property
    def writing(self) -> bool:
        """Whether the writer thread is up: the service is healthy only while it can record."""
        return self._thread is not None and self._thread.is_alive()

    def _submit(self, op: Callable[[_Writer], Any], wait: bool) -> asyncio.Future | None:
        if self._thread is None or not self._thread.is_alive():
            raise RecordsError(f"records {self.path} are not open")
        fut = self._loop.create_future() if wait else None
        self._queue.put((op, fut))
        return fut

    async def _do(self, op: Callable[[_Writer], Any]) -> Any:
        fut = self._submit(op, True)
        assert fut is not None
        return await fut

    # --- appending -------------------------------------------------------------------------------------------
    async def create_run(self, *, run_id: str, procedure: str, version: str, operator: str, station: str,
                         params: dict, resolved: dict, simulated: bool) -> None:
        values = (run_id, procedure, version, operator, station, to_json(params), to_json(resolved), int(simulated),
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
        values = (run_id, attempt, time_, kind, to_json(data))
        self._submit(lambda w: w.append("events", values), False)

    async def result(self, run_id: str, kind: str, data: Any) -> None:
        values = (run_id, time.time(), kind, to_json(data))
        await self._do(lambda w: w.append("results", values))

    async def command(self, source: str, operator: str | None, payload: Any, outcome: str) -> None:
        values = (time.time(), source, operator, payload if isinstance(payload, str) else to_json(payload), outcome)
        await self._do(lambda w: w.append("commands", values))

    async def amend(self, run_id: str, field: str, original: Any, amended: Any, operator: str, source: str,
                    reason: str) -> None:
        values = (run_id, time.time(), field, to_json(original), to_json(amended), operator, source, reason)
        await self._do(lambda w: w.append("amendments", values))

    async def sign(self, run_id: str, meaning: str, operator: str, source: str, content: str,
                   number: Callable[[int], str] | None = None, year: int | None = None) -> str | None:
        """A signature; with `number` (authorising), the certificate's number, made from the next sequence of
        `year` inside the same transaction: two authorisations at once never get the same number or a gap."""
        def op(w: _Writer) -> str | None:
            certificate, sequence = None, None
            if number is not None and year is not None:
                last = w.conn.execute("SELECT MAX(sequence) FROM signatures WHERE year = ?", (year,)).fetchone()[0]
                sequence = (last or 0) + 1
                certificate = number(sequence)
            w.append("signatures", (run_id, time.time(), meaning, operator, source, content, certificate, year,
                                    sequence))
            return certificate
        return await self._do(op)

    async def flush(self) -> None:
        await self._do(lambda w: None)

    async def close(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            await self.flush()
            self._queue.put(None)
            await asyncio.to_thread(self._thread.join)
        self._thread = None



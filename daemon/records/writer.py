"""The records writer: a process of its own that owns the write connection and appends in group commits.

Why a process: appending a reading costs SQL, a SHA-256 digest and an HMAC link, and in a thread all of it
holds the interpreter lock that the instruments' exchanges need. In a process of its own it runs on the other
core; the daemon only sends it small tuples (one frame per event-loop iteration) and waits for the commit.

The protocol (over a Unix socket pair, each frame a 4-byte length and a pickle, both ends labd's own):
  daemon → writer  first {"path", "keys"}; then lists of operations `(id | None, name, args)`; then None to stop.
  writer → daemon  first {"ready": records_id} or {"error": message}; then, after each commit,
                   {"done": [(id, result, exception)], "head": Head | None, "outbox": bool}; last {"closed": True}.
A result is sent only after its transaction is committed (fsynced): a resolved operation is durable. The writer
ignores SIGINT and SIGTERM (a Ctrl-C reaches the whole process group): it stops when the daemon says so or when
the socket closes, always after committing what it has received, so a killed daemon loses no queued row.
"""
from __future__ import annotations

import logging
import pickle
import select
import signal
import socket
import sqlite3
import struct
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .outbox import reading_line
from .schema import GENESIS, TABLES, RecordsError, connect, digest, schema
from .seal import CHAIN, Seal, head_problem, meta

log = logging.getLogger("labd.records")
LENGTH = struct.Struct("!I")
MAX_BATCH = 2000


@dataclass(frozen=True)
class CertificateNumber:
    """A certificate's number from the lab's scheme, made by the writer inside the signing transaction."""
    scheme: str
    lab: str
    year: int

    def __call__(self, sequence: int) -> str:
        return self.scheme.format(lab=self.lab, year=self.year, seq=sequence)


# --- framing (both ends) -------------------------------------------------------------------------------------------
def frame(obj: Any) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return LENGTH.pack(len(data)) + data


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def receive(sock: socket.socket) -> Any:
    """One frame; EOFError when the other end has gone."""
    head = _recv_exact(sock, LENGTH.size)
    body = _recv_exact(sock, LENGTH.unpack(head)[0]) if head is not None else None
    if body is None:
        raise EOFError
    return pickle.loads(body)


# --- appending -----------------------------------------------------------------------------------------------------
class Appender:
    """The SQL of appending, run inside the writer's transaction."""

    def __init__(self, conn: sqlite3.Connection, seal: Seal, records_id: str) -> None:
        self.conn, self.seal, self.records_id = conn, seal, records_id
        self.station: str | None = None     # set by `stream`: each reading gets its outbox line, made here
        self.reload()

    def reload(self) -> None:
        """The chain's head as committed (after a rollback)."""
        row = self.conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        self.seq: int = row[0] if row else 0
        self.head: str = row[1] if row else GENESIS
        self.outbox_added = False

    def append(self, table: str, values: tuple, lines: list[str] | None = None) -> str:
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
        if table == "readings" and self.station is not None:
            lines = [*(lines or ()), reading_line(self.station, values)]
        if lines:
            self.outbox(lines)
        return key

    def append_many(self, table: str, rows: list[tuple[tuple, list[str] | None]]) -> list[str]:
        """`append` for many rows of one table (a group commit's readings): one statement per table, not three
        per row. The keys are the rowids SQLite gives in order, each one above the largest before it (no other
        writer can insert between: this transaction holds the write lock)."""
        if table == "runs" or len(rows) == 1:
            return [self.append(table, values, lines) for values, lines in rows]
        cols = TABLES[table]
        last = self.conn.execute(f"SELECT MAX(id) FROM {table}").fetchone()[0] or 0
        self.conn.executemany(f"INSERT INTO {table} (id, {', '.join(cols)}) VALUES "
                              f"({', '.join('?' * (len(cols) + 1))})",
                              [(last + i + 1, *values) for i, (values, _) in enumerate(rows)])
        now, link, head, seq, audit, keys = time.time(), self.seal.link, self.head, self.seq, [], []
        for i, (values, _) in enumerate(rows):
            key = str(last + i + 1)
            seq += 1
            row_digest = digest(table, key, values)
            chained = link(head, seq, row_digest)
            audit.append((seq, now, table, key, row_digest, head, chained))
            head = chained
            keys.append(key)
        self.conn.executemany("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?)", audit)
        self.seq, self.head = seq, head
        lines = [line for _, lines in rows if lines for line in lines]
        if table == "readings" and self.station is not None:
            lines += [reading_line(self.station, values) for values, _ in rows]
        self.outbox(lines)
        return keys

    def outbox(self, lines: list[str]) -> None:
        if lines:
            self.conn.executemany("INSERT INTO outbox (line) VALUES (?)", [(line,) for line in lines])
            self.outbox_added = True

    def take_outbox(self, limit: int) -> list[tuple[int, str]]:
        return self.conn.execute("SELECT id, line FROM outbox ORDER BY id LIMIT ?", (limit,)).fetchall()

    def drop_outbox(self, up_to: int) -> None:
        self.conn.execute("DELETE FROM outbox WHERE id <= ?", (up_to,))

    def outbox_size(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]

    def sign(self, run_id: str, time_: float, meaning: str, operator: str, source: str, content: str,
             number: CertificateNumber | None) -> str | None:
        """With `number` (authorising), the certificate's number from the year's next sequence, in the same
        transaction as the signature: two authorisations at once never get the same number or a gap."""
        certificate, sequence, year = None, None, None
        if number is not None:
            year = number.year
            last = self.conn.execute("SELECT MAX(sequence) FROM signatures WHERE year = ?", (year,)).fetchone()[0]
            sequence = (last or 0) + 1
            certificate = number(sequence)
        self.append("signatures", (run_id, time_, meaning, operator, source, content, certificate, year, sequence))
        return certificate

    def flush(self) -> None:
        return None

    def stream(self, station: str | None) -> None:
        """From now on, each reading appended also gets its line in the outbox, tagged with `station`."""
        self.station = station

    OPERATIONS = frozenset({"append", "outbox", "take_outbox", "drop_outbox", "outbox_size", "sign", "flush",
                            "stream"})

    def do(self, name: str, args: tuple) -> Any:
        if name not in self.OPERATIONS:
            raise RecordsError(f"no records operation {name!r}")
        return getattr(self, name)(*args)


def identify(conn: sqlite3.Connection, seal: Seal, path: Path) -> str:
    """This database's id, set when it is new; refuse records whose head shows a cut or an older copy."""
    entries = conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
    chain, records_id = meta(conn, "chain"), meta(conn, "records_id")
    if entries and chain != CHAIN:
        raise RecordsError(f"records {path} were written with the unkeyed chain of an earlier labd: keep them as "
                           f"they are and start new records (another --records or data folder)")
    if chain is not None and meta(conn, "key_id") != seal.key_id:
        raise RecordsError(f"records {path} were sealed with another key than {seal.folder}/records.key")
    head = seal.read_head(path)
    if records_id is None:
        if head is not None and head.seq:
            raise RecordsError(f"records {path} are new, but {seal.head_path(path)} says records with {head.seq} "
                               f"entries were here: restore them, or move the head file away to start new records")
        records_id = uuid.uuid4().hex
        conn.executemany("INSERT INTO meta VALUES (?, ?)", [("records_id", records_id), ("chain", CHAIN),
                                                           ("key_id", seal.key_id)])
        return records_id
    problem = head_problem(conn, head, path)
    if problem:
        raise RecordsError(f"records {path}: {problem}; `labd audit verify` says more")
    return records_id


def _portable(exc: BaseException) -> BaseException:
    """The exception as the daemon can receive it."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return RecordsError(f"{type(exc).__name__}: {exc}")


def _grouped(appender: Appender, ops: list) -> list[tuple[Any, Any, Any]]:
    """The operations in order, consecutive appends to one table as one `append_many`."""
    done: list[tuple[Any, Any, Any]] = []
    i = 0
    while i < len(ops):
        op_id, name, args = ops[i]
        j = i + 1
        if name == "append" and args[0] != "runs":
            while j < len(ops) and ops[j][1] == "append" and ops[j][2][0] == args[0]:
                j += 1
        if j - i > 1:
            keys = appender.append_many(args[0], [(o[2][1], o[2][2] if len(o[2]) > 2 else None) for o in ops[i:j]])
            done.extend((o[0], key, None) for o, key in zip(ops[i:j], keys))
        else:
            done.append((op_id, appender.do(name, args), None))
        i = j
    return done


def commit(conn: sqlite3.Connection, appender: Appender, ops: list) -> list[tuple[Any, Any, Any]]:
    """Everything in one transaction; when one operation fails, the batch again one by one, so that it fails
    alone and the others are kept (rare)."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        done = _grouped(appender, ops)
        conn.execute("COMMIT")
        return done
    except Exception:
        conn.execute("ROLLBACK")
        appender.reload()
    done = []
    for op_id, name, args in ops:
        try:
            conn.execute("BEGIN IMMEDIATE")
            done.append((op_id, appender.do(name, args), None))
            conn.execute("COMMIT")
        except Exception as exc:
            conn.execute("ROLLBACK")
            appender.reload()
            done.append((op_id, None, _portable(exc)))
    return done


def serve(sock: socket.socket) -> None:
    opening = receive(sock)
    path, keys = Path(opening["path"]), Path(opening["keys"])
    try:
        seal = Seal.open(keys, create=True)
        conn = connect(path)
        conn.executescript(schema())
        appender = Appender(conn, seal, identify(conn, seal, path))
    except RecordsError as exc:
        sock.sendall(frame({"error": str(exc)}))
        return
    except Exception as exc:
        sock.sendall(frame({"error": f"records {path}: {exc}"}))
        return
    sock.sendall(frame({"ready": appender.records_id}))
    sealed = appender.seq
    stop = False
    while not stop:
        try:
            batch = receive(sock)
        except EOFError:         # the daemon went away without a goodbye: nothing more will come
            break
        ops: list = []
        while True:
            if batch is None:
                stop = True
            else:
                ops.extend(batch)
            # Group commit: whatever else is already waiting goes into the same transaction.
            if stop or len(ops) >= MAX_BATCH or not select.select([sock], [], [], 0)[0]:
                break
            try:
                batch = receive(sock)
            except EOFError:
                stop = True
                break
        done = commit(conn, appender, ops) if ops else []
        head = None
        if appender.seq != sealed:
            sealed = appender.seq
            head = seal.sign(appender.records_id, appender.seq, appender.head)
            try:
                seal.write_head(path, head)
            except OSError as exc:     # the records are committed; a head that lags is caught up next time
                log.warning("cannot write the records head %s: %s", seal.head_path(path), exc)
        outbox, appender.outbox_added = appender.outbox_added, False
        waiting = [d for d in done if d[0] is not None]
        if waiting or head is not None or outbox:
            try:
                sock.sendall(frame({"done": waiting, "head": head, "outbox": outbox}))
            except OSError:
                stop = True
    conn.close()
    seal.close()
    try:
        sock.sendall(frame({"closed": True}))
    except OSError:
        pass


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sock = socket.socket(fileno=int(sys.argv[1]))
    try:
        serve(sock)
    finally:
        sock.close()


if __name__ == "__main__":
    main()

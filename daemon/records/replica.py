"""Replication of this station's records to the lab's central PostgreSQL (central.py): every row with its audit
entry, in chain order, exactly once, while the bench goes on measuring into its own SQLite records.

The outbox is the audit trail itself: it is already an ordered, append-only list of every row, so nothing is
written twice at the bench. How far the central copy has got is kept in the central database (`stations.seq`),
updated in the same transaction as the rows it covers, and only from the value it had (`WHERE seq = old`).
So a batch is in the central database completely or not at all; a batch whose commit was cut off is found
there, or not, on reconnection, and sent again only if not: exactly once, in order, whatever the network does.
With the batch goes a head signed with this station's key for the point reached, so that the central copy
proves how far the station vouches for it (and a central copy cut short shows).

Blocking work (SQLite reads, psycopg) runs in a worker thread; the loop only waits. While the central database
is unreachable the replicator retries with backoff and says so in its state; the bench is not affected.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .central import connect as connect_central, redact
from .schema import GENESIS, TABLES, RecordsError
from .seal import Seal, meta

log = logging.getLogger("labd.records.central")


@dataclass
class ReplicaState:
    connected: bool = False
    replicated: int = 0            # audit entries in the central database
    local: int = 0                 # audit entries at the bench
    last_error: str | None = None
    since: float | None = None     # when the central database was last reached

    @property
    def behind(self) -> int:
        return max(0, self.local - self.replicated)

    def as_dict(self) -> dict[str, Any]:
        return {"connected": self.connected, "replicated": self.replicated, "behind": self.behind,
                "last_error": self.last_error}


class StationConflict(RecordsError):
    """The central database holds another records database under this station's name: never mixed."""


class Replicator:
    def __init__(self, records: Path, keys: Path, station: str, url: str, *, batch: int = 2000,
                 interval: float = 1.0, max_backoff: float = 30.0) -> None:
        self.records, self.keys, self.station, self.url = Path(records), Path(keys), station, url
        self.batch, self.interval, self.max_backoff = batch, interval, max_backoff
        self.state = ReplicaState()
        self._pg: Any = None
        self._local: sqlite3.Connection | None = None
        self._seal: Seal | None = None
        self._records_id: str | None = None
        self._wake = asyncio.Event()
        self._started = self._finished = 0       # batches begun and finished (drained())

    def wake(self) -> None:
        self._wake.set()

    # --- the loop ------------------------------------------------------------------------------------------------
    async def run(self) -> None:
        # One thread of its own for every blocking call, so that a batch still in flight when the task is
        # cancelled finishes before the connections are closed (never two threads on one connection).
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"central-{self.station}")
        loop = asyncio.get_running_loop()
        backoff = 0.5
        try:
            while True:
                try:
                    sent = await asyncio.shield(loop.run_in_executor(executor, self._push))
                except StationConflict as exc:
                    self._fail(str(exc))
                    log.error("%s; not replicating", exc)
                    return
                except Exception as exc:      # psycopg's errors, a lost connection, the local file busy
                    self._fail(f"{type(exc).__name__}: {exc}".splitlines()[0])
                    log.warning("central records %s unreachable (%s); retrying in %.1f s", redact(self.url),
                                self.state.last_error, backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, self.max_backoff)
                    continue
                backoff = 0.5
                if sent < self.batch:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.interval):
                            await self._wake.wait()
        finally:
            closing = loop.run_in_executor(executor, self.close)      # queued behind a batch in flight
            executor.shutdown(wait=False)
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(closing)

    async def drained(self, timeout: float = 10.0) -> bool:
        """True once every local entry is in the central database (a clean stop, tests)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        after = self._started          # only a batch begun after this call has seen everything committed before it
        while loop.time() < deadline:
            self.wake()
            if self._finished > after and self.state.connected and self.state.behind == 0:
                return True
            await asyncio.sleep(0.05)
        return False

    def _fail(self, message: str) -> None:
        was = self.state.connected
        self.state.connected, self.state.last_error = False, message
        if self._pg is not None:
            with contextlib.suppress(Exception):
                self._pg.close()
            self._pg = None
        if was:
            log.warning("central records %s: connection lost", redact(self.url))

    def close(self) -> None:
        if self._pg is not None:
            with contextlib.suppress(Exception):
                self._pg.close()
            self._pg = None
        if self._local is not None:
            self._local.close()
            self._local = None

    # --- one batch (worker thread) ----------------------------------------------------------------------------
    def _open_local(self) -> sqlite3.Connection:
        if self._local is None:
            conn = sqlite3.connect(f"file:{self.records}?mode=ro", uri=True, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=10000")
            records_id = meta(conn, "records_id")
            if records_id is None:
                conn.close()
                raise RecordsError(f"records {self.records} have no id yet")
            self._seal = Seal.open(self.keys, create=False)
            self._local, self._records_id = conn, records_id
        return self._local

    def _cursor(self) -> int:
        """This station's place in the central database, registering the station on its first visit."""
        assert self._seal is not None and self._records_id is not None
        with self._pg.transaction():
            row = self._pg.execute("SELECT records_id, key_id, seq FROM stations WHERE station = %s FOR UPDATE",
                                   (self.station,)).fetchone()
            if row is None:
                self._pg.execute("INSERT INTO stations VALUES (%s, %s, %s, 0, %s, NULL, %s)",
                                 (self.station, self._records_id, self._seal.key_id, GENESIS, time.time()))
                return 0
        if row[0] != self._records_id:
            raise StationConflict(f"central records {redact(self.url)} hold records {row[0]} as station "
                                  f"{self.station!r}, but this bench's records are {self._records_id}: one station "
                                  f"is one chain; give this bench another [lab] station")
        if row[1] != self._seal.key_id:
            raise StationConflict(f"central records {redact(self.url)}: station {self.station!r} was sealed "
                                  f"with another key")
        return int(row[2])

    def _push(self) -> int:
        self._started += 1
        started = self._started
        sent = self._push_batch()
        self._finished = started
        return sent

    def _push_batch(self) -> int:
        local = self._open_local()
        if self._pg is None:
            self._pg = connect_central(self.url)
            self.state.replicated = self._cursor()
            if not self.state.connected:
                log.info("central records %s: replicating station %s from entry %d", redact(self.url),
                         self.station, self.state.replicated + 1)
            self.state.connected, self.state.last_error = True, None
        self.state.since = time.time()
        cursor = self.state.replicated
        self.state.local = local.execute("SELECT COALESCE(MAX(seq), 0) FROM audit").fetchone()[0]
        entries = local.execute("SELECT seq, time, tbl, row_key, digest, prev, hash FROM audit WHERE seq > ? "
                                "ORDER BY seq LIMIT ?", (cursor, self.batch)).fetchall()
        if not entries:
            return 0
        rows = self._rows(local, entries)
        last_seq, last_hash = entries[-1][0], entries[-1][6]
        assert self._seal is not None and self._records_id is not None
        head = self._seal.sign(self._records_id, last_seq, last_hash)
        with self._pg.transaction():
            with self._pg.cursor() as cur:
                cur.executemany("INSERT INTO audit VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                                [(self.station, *e) for e in entries])
                cur.executemany("INSERT INTO rows VALUES (%s, %s, %s, %s, %s)", rows)
                cur.execute("UPDATE stations SET seq = %s, hash = %s, head = %s, updated = %s "
                            "WHERE station = %s AND seq = %s",
                            (last_seq, last_hash, json.dumps(head.as_dict()), time.time(), self.station, cursor))
                if cur.rowcount != 1:     # another replicator of this station moved it: take it up from there
                    raise RecordsError(f"station {self.station} moved on in the central records meanwhile")
        self.state.replicated = last_seq
        return len(entries)

    def _rows(self, local: sqlite3.Connection, entries: list[tuple]) -> list[tuple]:
        """Each entry's row, in the entries' order: (station, table, key, run_id, canonical values): the values
        as the same JSON their digest was computed from (schema.digest), so they come back as the same types."""
        wanted: dict[str, list[str]] = {}
        for e in entries:
            wanted.setdefault(e[2], []).append(e[3])
        found: dict[tuple[str, str], tuple] = {}
        for table, keys in wanted.items():
            if table not in TABLES:
                raise RecordsError(f"audit names an unknown table {table!r}")
            cols = ", ".join(TABLES[table])
            id_col = "run_id" if table == "runs" else "id"
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                args = chunk if table == "runs" else [int(k) for k in chunk]
                for row in local.execute(f"SELECT {id_col}, {cols} FROM {table} WHERE {id_col} IN "
                                         f"({', '.join('?' * len(chunk))})", args):
                    found[(table, str(row[0]))] = tuple(row[1:])
        out = []
        for e in entries:
            values = found.get((e[2], e[3]))
            if values is None:
                raise RecordsError(f"audit entry {e[0]} names {e[2]} {e[3]}, which is not in {self.records}")
            run_id = values[TABLES[e[2]].index("run_id")] if "run_id" in TABLES[e[2]] else None
            text = json.dumps(list(values), separators=(",", ":"), ensure_ascii=False)
            out.append((self.station, e[2], e[3], run_id, text))
        return out

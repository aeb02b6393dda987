"""The read side of the records: plain synchronous queries for the CLI and the documents, and for the event loop
through `asyncio.to_thread`. Every query the rest of labd needs is a method here: no SQL outside this package."""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from .schema import GENESIS, TABLES, RecordsError, connect, digest
from .seal import CHAIN, Head, Seal, head_problem, keys_folder, meta


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
    def __init__(self, path: Path | str, keys_dir: Path | str | None = None) -> None:
        self.path = Path(path)
        self.keys = keys_folder(self.path, Path(keys_dir) if keys_dir is not None else None)
        if not self.path.exists():
            raise RecordsError(f"no records at {self.path}")
        try:
            # A file that is not SQLite, or SQLite that is not labd's records, is named as such, not a traceback.
            self.conn = connect(self.path)
            self.conn.row_factory = sqlite3.Row
            found = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:
            raise RecordsError(f"{self.path} is not a records database ({exc})") from None
        missing = set(TABLES) - found - {"amendments", "signatures"}     # since schema 2
        if missing:
            self.conn.close()
            raise RecordsError(f"{self.path} is not a labd records database (no {', '.join(sorted(missing))} "
                               f"table)")

    _mirrored = False
    _seal: Seal | None = None
    _head: Head | None = None

    @classmethod
    def mirror(cls, conn: sqlite3.Connection, name: str, seal: Seal | None, head: Head | None) -> "RecordsReader":
        """A reader over a copy of a station's records (the central database's, central.py): the same queries,
        and verification under `seal` (None: that station's key is not at hand) against `head`."""
        reader = cls.__new__(cls)
        reader.path, reader.keys = Path(name), Path(".")
        conn.row_factory = sqlite3.Row
        reader.conn = conn
        reader._mirrored, reader._seal, reader._head = True, seal, head
        return reader

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
        attempt = self.conn.execute("SELECT MAX(attempt) FROM events WHERE run_id = ?", (run_id,)).fetchone()[0]
        return RunSummary(row["run_id"], row["procedure"], row["version"], row["operator"], row["station"],
                          json.loads(row["params"]), json.loads(row["resolved"]), bool(row["simulated"]),
                          row["created"], self._last_state(run_id)["state"], attempt or 1)

    def _last_state(self, run_id: str) -> dict:
        """The data of the run's latest state event; a run with none is "created"."""
        row = self.conn.execute("SELECT data FROM events WHERE run_id = ? AND kind = 'state' ORDER BY id DESC "
                                "LIMIT 1", (run_id,)).fetchone()
        return json.loads(row["data"]) if row else {"state": "created"}

    def runs(self) -> list[RunSummary]:
        ids = [r[0] for r in self.conn.execute("SELECT run_id FROM runs ORDER BY created")]
        return [self.run(i) for i in ids]

    def unfinished(self) -> list[str]:
        """Runs the service should take up again: still going or queued when their process ended (it was
        killed), or interrupted by the service's own stop."""
        out = []
        for (run_id,) in self.conn.execute("SELECT run_id FROM runs ORDER BY created").fetchall():
            data = self._last_state(run_id)
            if data["state"] in ("running", "created", "queued") or (
                    data["state"] == "interrupted" and data.get("by") == "service"):
                out.append(run_id)
        return out

    def reading_counts(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self.conn.execute("SELECT run_id, COUNT(*) FROM readings GROUP BY run_id")}

    def series(self, key: str) -> list[dict]:
        """The entries of a series that accumulates across runs (intermediate checks), oldest first."""
        rows = self.conn.execute("SELECT run_id, data FROM results WHERE kind = ? ORDER BY id", (f"series:{key}",))
        return [{"run_id": r["run_id"], **json.loads(r["data"])} for r in rows]

    def last_scheduled(self, schedule: str) -> float | None:
        """The latest due time a schedule was served at (the scheduler records it with each firing)."""
        row = self.conn.execute("SELECT MAX(json_extract(payload, '$.due')) FROM commands WHERE source = 'scheduler' "
                                "AND json_valid(payload) AND json_extract(payload, '$.schedule') = ?",
                                (schedule,)).fetchone()
        return row[0] if row and row[0] is not None else None

    def commands(self) -> list[dict]:
        """Every command received, with who sent it, from where, and what came of it."""
        return [dict(r) for r in self.conn.execute("SELECT * FROM commands ORDER BY id")]

    def last_configuration(self) -> dict | None:
        """The configuration's fingerprint as last recorded (engine/configuration.py), if any."""
        row = self.conn.execute("SELECT payload FROM commands WHERE payload LIKE '{\"action\":\"configuration\"%' "
                                "ORDER BY id DESC LIMIT 1").fetchone()
        return json.loads(row[0]) if row else None

    def signatures(self, run_id: str) -> list[dict]:
        """The run's signatures, oldest first."""
        return [dict(r) for r in self.conn.execute("SELECT * FROM signatures WHERE run_id = ? ORDER BY id",
                                                   (run_id,))]

    def amended(self, run_id: str) -> dict:
        """The run's declared parameters as they stand: the recorded ones with every amendment applied."""
        return {**self.run(run_id).resolved, **{a["field"]: a["amended"] for a in self.amendments(run_id)}}

    def amendments(self, run_id: str) -> list[dict]:
        """Corrections of the run's recorded information, oldest first (the originals are untouched)."""
        return [{**dict(r), "original": json.loads(r["original"]), "amended": json.loads(r["amended"])}
                for r in self.conn.execute("SELECT * FROM amendments WHERE run_id = ? ORDER BY id", (run_id,))]

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

    def verify(self, run_id: str | None = None) -> Verification:
        """Walk the whole chain (every link, under the key) and check the head kept outside the database; then
        recompute the digest of every row (or of one run's rows, `run_id`, which is what a document of that run
        rests on): every row must be in the chain exactly once and unchanged."""
        problems: list[str] = []
        try:
            if self._mirrored and self._seal is None:
                raise RecordsError(f"{self.path}: no copy of that station's records key (key id "
                                   f"{meta(self.conn, 'key_id')}) in the keys folders given: its chain cannot be "
                                   f"checked without it")
            seal = self._seal or Seal.open(self.keys, create=False)
        except RecordsError as exc:
            return Verification(0, "", (str(exc),))
        if meta(self.conn, "chain") != CHAIN:
            return Verification(0, "", (f"{self.path.name} was written with the unkeyed chain of an earlier labd: "
                                        f"its edits cannot be told from the original",))
        if meta(self.conn, "key_id") != seal.key_id:
            return Verification(0, "", (f"{self.path.name} was sealed with another key than "
                                        f"{seal.folder / 'records.key'}",))
        try:
            head = self._head if self._mirrored else seal.read_head(self.path)
            problem = head_problem(self.conn, head, self.path)
            if head is not None and not seal.signed(head):
                problem = f"the head of {self.path} is not signed with its key (edited, or another key's)"
        except RecordsError as exc:
            problem = str(exc)
        if problem:
            problems.append(problem)
        scope = self._rows_of(run_id) if run_id is not None else None
        prev, count = GENESIS, 0
        seen: dict[str, set[str]] = {t: set() for t in TABLES}
        for entry in self.conn.execute("SELECT * FROM audit ORDER BY seq"):
            count += 1
            where = f"audit entry {entry['seq']} ({entry['tbl']} {entry['row_key']})"
            if entry["seq"] != count:
                problems.append(f"{where}: sequence broken, expected {count}")
            if entry["prev"] != prev or entry["hash"] != seal.link(prev, entry["seq"], entry["digest"]):
                problems.append(f"{where}: chain broken (the trail was edited)")
            prev = entry["hash"]
            table, key = entry["tbl"], entry["row_key"]
            if table not in TABLES:
                problems.append(f"{where}: unknown table")
                continue
            if scope is not None and key not in scope[table]:
                continue
            seen[table].add(key)
            id_col = "run_id" if table == "runs" else "id"
            row = self.conn.execute(f"SELECT {', '.join(TABLES[table])} FROM {table} WHERE {id_col} = ?",
                                    (key if table == "runs" else int(key),)).fetchone()
            if row is None:
                problems.append(f"{where}: the row is missing (deleted)")
            elif digest(table, key, tuple(row)) != entry["digest"]:
                problems.append(f"{where}: the row's content changed since it was recorded")
        for table in TABLES:
            id_col = "run_id" if table == "runs" else "id"
            keys = scope[table] if scope is not None else (str(k) for (k,) in
                                                          self.conn.execute(f"SELECT {id_col} FROM {table}"))
            for key in keys:
                if key not in seen[table]:
                    problems.append(f"{table} {key}: not in the audit trail (inserted behind its back)")
        return Verification(count, prev, tuple(problems))

    def _rows_of(self, run_id: str) -> dict[str, set[str]]:
        rows: dict[str, set[str]] = {t: set() for t in TABLES}
        for table in TABLES:
            if table == "runs":
                rows[table] = {r[0] for r in self.conn.execute("SELECT run_id FROM runs WHERE run_id = ?",
                                                               (run_id,))}
            elif "run_id" in TABLES[table]:
                rows[table] = {str(r[0]) for r in self.conn.execute(f"SELECT id FROM {table} WHERE run_id = ?",
                                                                    (run_id,))}
        return rows

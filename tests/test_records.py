"""The records database: append-only, every later edit detected by the audit chain, nothing lost under load."""
from __future__ import annotations

import asyncio
import json
import sqlite3

import pytest

from labd.daemon.documents import export_run
from labd.daemon.records import Records, RecordsReader
from labd.procedures import RecordedReading


def _reading(i: int, point: int | None = 0) -> RecordedReading:
    return RecordedReading(1.7e9 + i, "ref_readout", "temperature", 30.0 + i * 1e-4, "°C", f"{30 + i * 1e-4:.4f} C",
                           None, point, "reference")


async def _filled(path, n=20) -> None:
    store = await Records(path).open()
    await store.create_run(run_id="r1", procedure="p", version="1", operator="demo", station="s", params={"a": "1"},
                           resolved={"a": 1}, simulated=True)
    for i in range(n):
        await store.reading("r1", 1, _reading(i))
    store.event("r1", 1, 1.7e9, "state", {"state": "completed"})
    await store.result("r1", "results", [{"x": 1.5}])
    await store.close()


async def test_a_clean_record_verifies_and_reads_back(tmp_path):
    path = tmp_path / "labd.sqlite"
    await _filled(path)
    with RecordsReader(path) as reader:
        assert reader.verify().ok
        assert reader.verify().entries == 1 + 20 + 1 + 1
        assert reader.run("r1").state == "completed"
        rows = reader.readings("r1")
        assert [r["value"] for r in rows] == [30.0 + i * 1e-4 for i in range(20)]   # floats exactly as read
        assert reader.results("r1")[0]["data"] == [{"x": 1.5}]


async def test_updates_and_deletes_are_refused(tmp_path):
    path = tmp_path / "labd.sqlite"
    await _filled(path)
    conn = sqlite3.connect(path)
    for sql in ("UPDATE readings SET value = 0", "DELETE FROM readings", "DELETE FROM audit",
                "UPDATE runs SET operator = 'x'"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute(sql)
    conn.close()


@pytest.mark.parametrize("tamper, expected", [
    ("UPDATE readings SET value = 30.5 WHERE id = 3", "readings 3): the row's content changed"),
    ("DELETE FROM readings WHERE id = 7", "readings 7): the row is missing"),
    ("INSERT INTO readings (run_id, attempt, time, instrument, quantity, value, unit, raw, corrected, point, role, "
     "used, note) VALUES ('r1', 1, 0, 'x', 'temperature', 1, '°C', '', NULL, 0, '', 1, '')",
     "readings 21: not in the audit trail"),
    ("UPDATE audit SET digest = 'ab' || substr(digest, 3) WHERE seq = 5", "audit entry 5 (readings 4): chain broken"),
    ("DELETE FROM audit WHERE seq = 10", "sequence broken"),
    ("UPDATE events SET data = '{\"state\":\"failed\"}'", "events 1): the row's content changed"),
])
async def test_any_edit_behind_the_triggers_back_is_detected(tmp_path, tamper, expected):
    path = tmp_path / "labd.sqlite"
    await _filled(path)
    conn = sqlite3.connect(path)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute(tamper)
    conn.commit()
    conn.close()
    with RecordsReader(path) as reader:
        result = reader.verify()
    assert not result.ok
    assert any(expected in p for p in result.problems), result.problems


async def test_concurrent_writers_lose_nothing_and_keep_the_chain(tmp_path):
    path = tmp_path / "labd.sqlite"
    store = await Records(path).open()
    await store.create_run(run_id="r1", procedure="p", version="1", operator="demo", station="s", params={},
                           resolved={}, simulated=True)

    async def instrument(k: int) -> list[int]:
        return [await store.reading("r1", 1, _reading(k * 1000 + i, point=k)) for i in range(200)]
    ids = await asyncio.gather(*(instrument(k) for k in range(10)))
    await store.close()
    with RecordsReader(path) as reader:
        rows = reader.readings("r1")
        assert reader.verify().ok
    assert len(rows) == 2000 == len({i for chunk in ids for i in chunk})
    for k in range(10):   # each instrument's readings in the order it took them
        times = [r["time"] for r in rows if r["point"] == k]
        assert times == sorted(times) and len(times) == 200


async def test_export_csv_and_json(tmp_path):
    path = tmp_path / "labd.sqlite"
    await _filled(path, n=3)
    with RecordsReader(path) as reader:
        csv_text = export_run(reader, "r1", "csv")
        data = json.loads(export_run(reader, "r1", "json"))
    lines = csv_text.strip().splitlines()
    assert lines[0].startswith("id,attempt,time,instrument,quantity,value,unit")
    assert len(lines) == 4 and ",30.0001," in lines[2]
    assert data["run"]["run_id"] == "r1" and len(data["readings"]) == 3
    assert data["events"][0]["data"] == {"state": "completed"}


def _unguarded(path) -> sqlite3.Connection:
    """The database as someone with write access to the file sees it: triggers dropped."""
    conn = sqlite3.connect(path)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    return conn


def _rechain_without_the_key(conn: sqlite3.Connection) -> None:
    """What the plain SHA-256 chain let anyone do: recompute every digest and link after an edit."""
    import hashlib
    from labd.daemon.records.schema import GENESIS, TABLES, digest
    prev = GENESIS
    for seq, table, key in conn.execute("SELECT seq, tbl, row_key FROM audit ORDER BY seq").fetchall():
        id_col = "run_id" if table == "runs" else "id"
        row = conn.execute(f"SELECT {', '.join(TABLES[table])} FROM {table} WHERE {id_col} = ?",
                           (key if table == "runs" else int(key),)).fetchone()
        d = digest(table, key, tuple(row))
        h = hashlib.sha256(f"{prev}:{seq}:{d}".encode()).hexdigest()
        conn.execute("UPDATE audit SET digest = ?, prev = ?, hash = ? WHERE seq = ?", (d, prev, h, seq))
        prev = h


async def test_the_key_and_the_head_live_outside_the_database(tmp_path):
    path = tmp_path / "labd.sqlite"
    await _filled(path)
    key = tmp_path / "keys" / "records.key"
    assert key.stat().st_mode & 0o777 == 0o600
    head = json.loads((tmp_path / "keys" / "labd.sqlite.head").read_text())
    with RecordsReader(path) as reader:
        result = reader.verify()
    assert result.ok and head["seq"] == result.entries and head["hash"] == result.head


async def test_an_edit_rechained_without_the_key_is_detected(tmp_path):
    path = tmp_path / "labd.sqlite"
    await _filled(path)
    conn = _unguarded(path)
    conn.execute("UPDATE readings SET value = 30.5 WHERE id = 3")
    _rechain_without_the_key(conn)
    conn.commit()
    conn.close()
    with RecordsReader(path) as reader:
        result = reader.verify()
    assert not result.ok
    assert any("chain broken" in p for p in result.problems), result.problems


async def test_a_deleted_tail_is_detected(tmp_path):
    path = tmp_path / "labd.sqlite"
    await _filled(path)
    conn = _unguarded(path)
    conn.execute("DELETE FROM audit WHERE seq > 20")
    conn.execute("DELETE FROM results")
    conn.execute("DELETE FROM events")
    conn.execute("DELETE FROM readings WHERE id > 19")
    conn.commit()
    conn.close()
    with RecordsReader(path) as reader:
        result = reader.verify()
    assert any("end at audit entry 20 but their head says 23" in p for p in result.problems), result.problems
    with pytest.raises(Exception, match="end at audit entry 20"):     # nor does a writer append to them
        await Records(path).open()


async def test_a_database_replaced_by_an_older_copy_is_detected(tmp_path):
    path = tmp_path / "labd.sqlite"
    await _filled(path, n=5)
    older = path.read_bytes()
    store = await Records(path).open()
    await store.result("r1", "note", {"later": True})
    await store.close()
    path.write_bytes(older)
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    with RecordsReader(path) as reader:
        result = reader.verify()
    assert any("replaced by an older copy" in p for p in result.problems), result.problems


async def test_a_forged_head_a_missing_head_and_a_missing_key_are_each_named(tmp_path):
    path = tmp_path / "labd.sqlite"
    await _filled(path, n=3)
    head_file = tmp_path / "keys" / "labd.sqlite.head"
    head = json.loads(head_file.read_text())
    head_file.write_text(json.dumps({**head, "seq": 3}))
    with RecordsReader(path) as reader:
        assert any("not signed with this key" in p for p in reader.verify().problems)
    head_file.unlink()
    with RecordsReader(path) as reader:
        assert any("no head file" in p for p in reader.verify().problems)
    (tmp_path / "keys" / "records.key").unlink()
    with RecordsReader(path) as reader:
        assert any("no records key" in p for p in reader.verify().problems)


async def test_a_run_scoped_verification_checks_that_runs_rows_and_the_whole_chain(tmp_path):
    path = tmp_path / "labd.sqlite"
    await _filled(path)
    store = await Records(path).open()
    await store.create_run(run_id="r2", procedure="p", version="1", operator="demo", station="s", params={},
                           resolved={}, simulated=True)
    await store.close()
    conn = _unguarded(path)
    conn.execute("UPDATE readings SET value = 31 WHERE id = 2")
    conn.commit()
    conn.close()
    with RecordsReader(path) as reader:
        assert reader.verify("r2").ok                       # r2 does not rest on the edited reading
        assert not reader.verify("r1").ok and not reader.verify().ok


async def test_no_document_or_export_from_records_that_fail_verification(tmp_path):
    from labd.daemon.documents import ReportError, load
    path = tmp_path / "labd.sqlite"
    await _filled(path)
    assert load(path, "r1").results == [{"x": 1.5}]
    conn = _unguarded(path)
    conn.execute("""UPDATE results SET data = '[{"x": 1.4}]'""")
    conn.commit()
    conn.close()
    with pytest.raises(ReportError, match="fail verification.*results 1\\): the row's content changed"):
        load(path, "r1")
    with RecordsReader(path) as reader, pytest.raises(ReportError, match="fail verification"):
        export_run(reader, "r1", "json")


# --- the writer process (issue 18: the records writer out of the interpreter that serves the instruments) -------
def _writer_libraries(pid: int) -> str:
    with open(f"/proc/{pid}/maps") as maps:
        return maps.read()


async def test_the_writer_gets_plain_values_and_never_imports_the_procedures_or_numpy(tmp_path):
    """A numpy scalar or an Event enum sent to the writer made it import numpy (through labd.procedures) to unpickle
    them: a second's stall of every record, which failed the fifty-starts test on a loaded machine."""
    import numpy as np

    from labd.procedures.events import Event
    store = await Records(tmp_path / "labd.sqlite").open()
    await store.create_run(run_id="r1", procedure="p", version="1", operator="demo", station="s", params={},
                           resolved={}, simulated=True)
    r = RecordedReading(np.float64(1.7e9), "ref_readout", "temperature", np.float64(30.5), "°C", "30.5",
                        np.float64(30.49), np.int64(2), "reference")
    await store.reading("r1", 1, r)
    store.event("r1", np.int64(1), np.float64(1.7e9), Event.STATE, {"state": "completed"})
    await store.flush()
    assert store.writer_pid is not None and "numpy" not in _writer_libraries(store.writer_pid)
    await store.close()
    with RecordsReader(tmp_path / "labd.sqlite") as reader:
        row = reader.readings("r1")[0]
        assert (row["value"], row["corrected"], row["point"]) == (30.5, 30.49, 2)
        assert [e["data"] for e in reader.events("r1", "state")] == [{"state": "completed"}]
        assert reader.verify().ok


async def test_a_killed_writer_fails_every_waiting_record_and_the_service_sees_it(tmp_path):
    import os
    import signal

    from labd.daemon.records import RecordsError
    store = await Records(tmp_path / "labd.sqlite").open()
    await store.create_run(run_id="r1", procedure="p", version="1", operator="demo", station="s", params={},
                           resolved={}, simulated=True)
    assert store.writing
    os.kill(store.writer_pid, signal.SIGKILL)
    with pytest.raises(RecordsError, match="writer stopped|not open|closed"):
        for i in range(1000):                 # the first ones may be queued before the loss is noticed
            await store.reading("r1", 1, _reading(i))
    assert not store.writing
    await store.close()
    with RecordsReader(tmp_path / "labd.sqlite") as reader:
        assert reader.verify().ok                       # what was committed stays, chained


async def test_readings_committed_before_the_daemon_is_killed_are_all_there(tmp_path):
    """The daemon dies (SIGKILL, no goodbye): every reading whose record() returned is in the database, in order,
    and the chain with its head verifies."""
    import os
    import signal
    import subprocess
    import sys
    script = f"""
import asyncio, os, signal, sys
from labd.daemon.records import Records
from labd.procedures import RecordedReading
async def main():
    store = await Records({str(tmp_path / 'labd.sqlite')!r}).open()
    await store.create_run(run_id="r1", procedure="p", version="1", operator="demo", station="s", params={{}},
                           resolved={{}}, simulated=True)
    for i in range(10_000):
        await store.reading("r1", 1, RecordedReading(1.7e9 + i, "x", "temperature", float(i), "°C"))
        print(i, flush=True)
asyncio.run(main())
"""
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    last = -1
    for line in child.stdout:
        last = int(line)
        if last == 300:
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    await asyncio.sleep(0.5)                       # the orphaned writer commits what it had, then sees EOF
    with RecordsReader(tmp_path / "labd.sqlite") as reader:
        values = [r["value"] for r in reader.readings("r1")]
        assert values[:last + 1] == [float(i) for i in range(last + 1)] and values == sorted(values)
        assert reader.verify().ok


def test_the_head_is_rewritten_in_place_and_reads_back(tmp_path):
    from labd.daemon.records.seal import HEAD_SIZE, Seal
    seal = Seal.open(tmp_path / "keys", create=True)
    records = tmp_path / "labd.sqlite"
    for seq in range(1, 50):
        head = seal.sign("rec-1", seq, f"{seq:064x}")
        seal.write_head(records, head)
        assert seal.read_head(records) == head
        assert seal.head_path(records).stat().st_size == HEAD_SIZE
    seal.close()

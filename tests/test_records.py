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

"""Issue 19: several benches, one record. Each station keeps its SQLite records and replicates every row with its
audit entry to a real PostgreSQL (Debian's, started on loopback); the central copy is listed, reported and
verified per station; an outage mid-run loses, doubles and reorders nothing."""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labd.daemon.config import load_config
from labd.daemon.records import Records, RecordsReader
from labd.daemon.records.central import CentralRecords, connect
from labd.daemon.records.replica import Replicator
from labd.daemon.service import Service
from labd.procedures import RecordedReading

from .conftest import CONFIG

REPO = Path(__file__).resolve().parent.parent
LABD = [sys.executable, "-m", "labd"]
STABILITY = {"duration_hours": 0.1, "interval": 30.0, "set_point": 40.0, "stability.window": 6}


async def _bench(folder: Path, station: str, readings: int) -> Records:
    store = await Records(folder / "labd.sqlite").open()
    run_id = f"{station}-20261202-080000-abcdef"
    await store.create_run(run_id=run_id, procedure="stability-run", version="1.1", operator="demo",
                           station=station, params={}, resolved={}, simulated=True)
    for i in range(readings):
        await store.reading(run_id, 1, RecordedReading(1.7e9 + i, "ref_readout", "temperature", 40 + i / 1000, "°C"))
    return store


async def _replicate(store: Records, station: str, url: str, **kw) -> Replicator:
    replicator = Replicator(store.path, store.keys, station, url, **kw)
    replicator.task = asyncio.create_task(replicator.run())          # type: ignore[attr-defined]
    return replicator


async def _stop(replicator: Replicator) -> None:
    replicator.task.cancel()                                          # type: ignore[attr-defined]
    await asyncio.gather(replicator.task, return_exceptions=True)     # type: ignore[attr-defined]


def _central_rows(url: str, station: str) -> list[tuple]:
    conn = connect(url)
    try:
        return conn.execute("SELECT a.seq, a.tbl, a.row_key FROM audit a WHERE a.station = %s ORDER BY a.seq",
                            (station,)).fetchall()
    finally:
        conn.close()


async def test_two_stations_replicate_to_one_postgresql_and_each_chain_verifies(tmp_path, postgres):
    url = postgres.createdb("lab")
    a = await _bench(tmp_path / "a", "bench-t", 50)
    b = await _bench(tmp_path / "b", "bench-m", 30)
    ra, rb = await _replicate(a, "bench-t", url), await _replicate(b, "bench-m", url)
    assert await ra.drained() and await rb.drained()
    await asyncio.gather(_stop(ra), _stop(rb), a.close(), b.close())
    keys = [tmp_path / "a" / "keys", tmp_path / "b" / "keys"]
    with CentralRecords(url, keys) as central:
        assert [s.station for s in central.stations()] == ["bench-m", "bench-t"]
        assert [(station, r.run_id) for station, r in central.runs()] == [
            ("bench-t", "bench-t-20261202-080000-abcdef"), ("bench-m", "bench-m-20261202-080000-abcdef")]
        reader = central.reader_of("bench-m-20261202-080000-abcdef")
        with RecordsReader(tmp_path / "b" / "labd.sqlite") as local:
            assert reader.readings("bench-m-20261202-080000-abcdef") == local.readings("bench-m-20261202-080000-abcdef")
        assert [(s, v.ok, v.entries) for s, v in central.verify()] == [("bench-m", True, 31), ("bench-t", True, 51)]
    # Without the stations' keys nothing can be vouched for: said, not passed.
    with CentralRecords(url, [tmp_path / "nowhere"]) as central:
        assert all("no copy of that station's records key" in v.problems[0] for _, v in central.verify())


async def test_the_central_database_cut_mid_run_gets_every_row_once_and_in_order(tmp_path, postgres):
    url = postgres.createdb("lab")
    store = await _bench(tmp_path, "bench-t", 10)
    replicator = await _replicate(store, "bench-t", url, batch=7, interval=0.05, max_backoff=0.3)
    run_id = "bench-t-20261202-080000-abcdef"

    async def measure(n: int) -> None:
        for i in range(n):
            await store.reading(run_id, 1, RecordedReading(1.8e9 + i, "uut", "temperature", 40 + i / 7, "°C"))
            await asyncio.sleep(0.002)
    await measure(100)
    postgres.stop()                                       # mid-run: the bench measures on
    await measure(200)
    await asyncio.sleep(0.5)
    assert not replicator.state.connected and replicator.state.behind > 0 and replicator.state.last_error
    postgres.start()
    await measure(100)
    assert await replicator.drained(30)
    await _stop(replicator)
    await store.close()
    with RecordsReader(store.path) as local:
        expected = [(e["seq"], e["tbl"], e["row_key"]) for e in local.conn.execute("SELECT * FROM audit ORDER BY seq")]
    assert _central_rows(url, "bench-t") == expected             # every entry, once, in the chain's order
    assert len(expected) == 1 + 10 + 400
    with CentralRecords(url, [store.keys]) as central:
        [(_, check)] = central.verify()
        assert check.ok, check.problems


async def test_an_edit_in_the_central_database_is_detected(tmp_path, postgres):
    url = postgres.createdb("lab")
    store = await _bench(tmp_path, "bench-t", 5)
    replicator = await _replicate(store, "bench-t", url)
    assert await replicator.drained()
    await _stop(replicator)
    await store.close()
    conn = connect(url)
    with conn.transaction():                 # the database's owner goes behind labd's back
        conn.execute("ALTER TABLE rows DISABLE TRIGGER rows_append_only")
        conn.execute("UPDATE rows SET vals = replace(vals, '40.003', '40.002') WHERE tbl = 'readings'")
    conn.close()
    with CentralRecords(url, [store.keys]) as central:
        [(_, check)] = central.verify()
    assert not check.ok and any("content changed" in p for p in check.problems)
    # And the append-only triggers refuse an ordinary edit.
    conn = connect(url)
    with pytest.raises(Exception, match="append-only"):
        conn.execute("DELETE FROM audit WHERE station = 'bench-t'")
    conn.close()


async def test_a_second_records_database_under_the_same_station_name_is_refused(tmp_path, postgres):
    url = postgres.createdb("lab")
    first = await _bench(tmp_path / "a", "bench-t", 3)
    r1 = await _replicate(first, "bench-t", url)
    assert await r1.drained()
    await _stop(r1)
    other = await _bench(tmp_path / "b", "bench-t", 3)
    r2 = Replicator(other.path, other.keys, "bench-t", url)
    await asyncio.wait_for(r2.run(), 10)          # it stops by itself, saying why
    assert "one station is one chain" in (r2.state.last_error or "")
    await asyncio.gather(first.close(), other.close())
    assert len(_central_rows(url, "bench-t")) == 4


def test_labd_central_sync_replicates_a_bench_that_only_runs_labd_run(tmp_path, postgres):
    url = postgres.createdb("lab")
    cfg = _station_config(tmp_path, "bench-e")
    env = {"LABD_CENTRAL_URL": url}
    ran = _labd("run", "stability-run", "--simulate", "--speed", "400", "--operator", "demo", "--config", str(cfg),
                "--param", "duration_hours=0.05", "--param", "interval=30", "--param", "stability.window=6", env=env)
    assert ran.returncode == 0, ran.stderr
    synced = _labd("central", "sync", "--config", str(cfg), env=env)
    assert synced.returncode == 0, synced.stderr
    assert "station bench-e:" in synced.stdout and "entries in the central records" in synced.stdout
    listed = _labd("runs", "--records", url, env=env)
    assert "bench-e-" in listed.stdout and "completed" in listed.stdout
    postgres.stop()
    down = _labd("central", "sync", "--config", str(cfg), "--timeout", "3", env=env)
    assert down.returncode == 1 and "not replicated" in down.stderr and "Traceback" not in down.stderr


async def test_two_services_with_labd_central_url_both_list_their_runs_centrally(tmp_path, postgres, monkeypatch):
    """The issue's "done when": two `labd serve` stations with LABD_CENTRAL_URL set; `labd runs` and `labd audit
    verify` on postgresql://… list both stations' runs and pass."""
    url = postgres.createdb("lab")
    monkeypatch.setenv("LABD_CENTRAL_URL", url)
    run_ids = {}

    async def station(name: str) -> None:
        monkeypatch.setenv("LABD_LAB__STATION", name)
        config = load_config(CONFIG).model_copy(update={"schedules": []})
        assert config.central.url == url and config.lab.station == name
        service = Service(config, simulate=True, speed=400, seed=3, mqtt_url=None, influx_url=None,
                          records_path=str(tmp_path / name / "labd.sqlite"), sim_start=time.time() - 2 * 86400)
        stop = asyncio.Event()
        task = asyncio.create_task(service.run(stop))
        await asyncio.wait_for(service.ready.wait(), 30)
        run_ids[name] = await service.start("stability-run", STABILITY, "demo", source="test")
        async with asyncio.timeout(120):
            while service.runs():
                await asyncio.sleep(0.2)
        assert await service.replicator.drained(20)
        stop.set()
        await asyncio.wait_for(task, 60)
    await station("bench-t")
    await station("bench-m")
    assert run_ids["bench-t"].startswith("bench-t-") and run_ids["bench-m"].startswith("bench-m-")
    env = {**{k: v for k, v in os.environ.items() if k not in ("LABD_CENTRAL_URL", "LABD_LAB__STATION")},
           "COLUMNS": "200"}
    listed = subprocess.run([*LABD, "runs", "--records", url], cwd=REPO, capture_output=True, text=True, env=env,
                            timeout=60)
    assert listed.returncode == 0, listed.stderr
    for name, run_id in run_ids.items():
        line = next(row for row in listed.stdout.splitlines() if run_id in row)
        assert name in line and "completed" in line
    keys = []
    for name in run_ids:
        keys += ["--keys", str(tmp_path / name / "keys")]
    verified = subprocess.run([*LABD, "audit", "verify", "--records", url, *keys], cwd=REPO, capture_output=True,
                              text=True, env=env, timeout=60)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "station bench-t: audit trail intact" in verified.stdout
    assert "station bench-m: audit trail intact" in verified.stdout
    exported = subprocess.run([*LABD, "export", run_ids["bench-m"], "--records", url, "--keys", keys[-1]],
                              cwd=REPO, capture_output=True, text=True, env=env, timeout=60)
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)["run"]["station"] == "bench-m"
    reported = subprocess.run([*LABD, "report", run_ids["bench-t"], "--records", url, "--keys", keys[1],
                               "--format", "html", "--out", str(tmp_path / "docs")], cwd=REPO, capture_output=True,
                              text=True, env=env, timeout=120)
    assert reported.returncode == 0, reported.stderr
    assert run_ids["bench-t"] in next((tmp_path / "docs").glob("*.html")).read_text()


def _station_config(tmp_path: Path, station: str) -> Path:
    """A copy of the example lab as bench `station`, with a data folder of its own."""
    folder = tmp_path / f"config-{station}"
    shutil.copytree(CONFIG, folder, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    lab = (folder / "lab.toml").read_text().replace('station = "bench-1"',
                                                    f'station = "{station}"\ndata_dir = "{tmp_path / ("data-" + station)}"')
    (folder / "lab.toml").write_text(lab.replace('topic_root = "labd/bench-1"', f'topic_root = "labd/{station}"'))
    return folder


def _labd(*args: str, stdin: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*LABD, *args], cwd=REPO, capture_output=True, text=True, input=stdin, timeout=60,
                          env={**os.environ, "COLUMNS": "200", **(env or {})})


def test_a_register_change_made_at_one_station_is_used_by_the_other(tmp_path, postgres):
    from labd.daemon.engine.registers import in_force
    url = postgres.createdb("lab")
    env = {"LABD_CENTRAL_URL": url}
    a, b = _station_config(tmp_path, "bench-t"), _station_config(tmp_path, "bench-m")
    assert _labd("operators", "passwd", "supervisor", "--config", str(a), stdin="s3cret-supervisor\n",
                 env=env).returncode == 0
    assert _labd("operators", "passwd", "demo", "--config", str(a), stdin="s3cret-demo-pass\n", env=env).returncode == 0
    new = tmp_path / "ref_prt.toml"
    text = (CONFIG / "standards.toml").read_text()
    new.write_text(text.replace('certificate = "KAL-2025/0631/SUHU"', 'certificate = "KAL-2026/0102/SUHU"')
                   .replace("due = 2027-06-30", "due = 2028-01-15"))
    # A technician may not change the register: refused, and the refusal is on record.
    refused = _labd("standards", "set", "ref_prt", str(new), "--operator", "demo", "--reason", "new certificate",
                    "--config", str(a), stdin="s3cret-demo-pass\n", env=env)
    assert refused.returncode == 1 and "a supervisor or the technical manager changes a register" in refused.stderr
    wrong = _labd("standards", "set", "ref_prt", str(new), "--operator", "supervisor", "--reason", "new certificate",
                  "--config", str(a), stdin="guess\n", env=env)
    assert wrong.returncode == 1 and "wrong password" in wrong.stderr
    # The lab moves the register to the central database once (push), then keeps it there.
    pushed = _labd("standards", "push", "--operator", "supervisor", "--reason", "the register goes central",
                   "--config", str(a), stdin="s3cret-supervisor\n", env=env)
    assert pushed.returncode == 0 and "4 entries put into the central register" in pushed.stdout, pushed.stderr
    done = _labd("standards", "set", "ref_prt", str(new), "--operator", "supervisor", "--reason",
                 "new certificate from SNSU-BSN", "--config", str(a), stdin="s3cret-supervisor\n", env=env)
    assert done.returncode == 0, done.stderr
    # The other bench uses it: at its next start, and before each run (Service.refresh_registers).
    os.environ["LABD_CENTRAL_URL"] = url
    try:
        config_b = in_force(load_config(b))
        assert config_b.standards["ref_prt"].certificate == "KAL-2026/0102/SUHU"
        assert str(config_b.standards["ref_prt"].due) == "2028-01-15"
        assert config_b.standards["weights_e2"].certificate == load_config(b).standards["weights_e2"].certificate
        listed = _labd("standards", "list", "--config", str(b), env=env)
        assert "KAL-2026/0102/SUHU" in listed.stdout and "the central registers, version 5" in listed.stderr
        history = _labd("standards", "history", "ref_prt", "--json", "--config", str(b), env=env)
        [_, change] = json.loads(history.stdout)
        assert (change["operator"], change["station"], change["reason"]) == (
            "supervisor", "bench-t", "new certificate from SNSU-BSN")
        # The central database down: the last synchronised copy, said with its time.
        postgres.stop()
        said: list[str] = []
        offline = in_force(load_config(b), say=said.append)
        assert offline.standards["ref_prt"].certificate == "KAL-2026/0102/SUHU"
        assert "unreachable" in said[0] and "copy synchronised at" in said[0]
    finally:
        del os.environ["LABD_CENTRAL_URL"]
    with RecordsReader(tmp_path / "data-bench-t" / "labd.sqlite") as reader:
        outcomes = [(c["operator"], c["outcome"]) for c in reader.commands() if '"register"' in c["payload"]]
    assert [o for o, _ in outcomes] == ["demo", "supervisor", "supervisor", "supervisor"]
    assert outcomes[0][1].startswith("refused: demo is a technician") and outcomes[1][1].startswith("refused: wrong")
    assert outcomes[2][1] == outcomes[3][1] == "ok"


async def test_an_instruments_check_history_spans_the_benches_that_checked_it(tmp_path, postgres):
    """An intermediate check of one balance made on two benches: each bench's next check sees one history."""
    from labd.daemon.engine import history_from
    url = postgres.createdb("lab")
    a = await _bench(tmp_path / "a", "bench-t", 0)
    b = await _bench(tmp_path / "b", "bench-m", 0)
    await a.result("bench-t-20261202-080000-abcdef", "series:balance-7", {"date": "2026-11-28", "deviation": 0.1})
    await a.result("bench-t-20261202-080000-abcdef", "series:balance-7", {"date": "2026-11-30", "deviation": 0.3})
    await b.result("bench-m-20261202-080000-abcdef", "series:balance-7", {"date": "2026-11-29", "deviation": 0.2})
    await a.result("bench-t-20261202-080000-abcdef", "series:other", {"date": "2026-11-29", "deviation": 9.9})
    ra = await _replicate(a, "bench-t", url)
    assert await ra.drained()
    await _stop(ra)
    history = await history_from(b, url, "bench-m")("balance-7")
    assert [(e["date"], e["deviation"]) for e in history] == [("2026-11-28", 0.1), ("2026-11-29", 0.2),
                                                              ("2026-11-30", 0.3)]
    assert [e.get("station") for e in history] == ["bench-t", None, "bench-t"]
    postgres.stop()                                  # unreachable: this bench's own history, said in the log
    assert [e["date"] for e in await history_from(b, url, "bench-m")("balance-7")] == ["2026-11-29"]
    await asyncio.gather(a.close(), b.close())

"""`labd run` as a technician uses it: killed mid-run and resumed with nothing lost, aborted with Ctrl-C."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from labd.daemon.documents import export_run
from labd.daemon.records import RecordsReader

from .conftest import REPO

LABD = [sys.executable, "-m", "labd"]
QUICK = ["--param", "set_points=30,50", "--param", "repetitions=4", "--param", "stability.window=8",
         "--param", "interval=10"]
# For a signal sent while the run measures: at the suite's 400x clock QUICK's readings take well under a second,
# which a loaded machine can spend before the signal is handled. LONGER takes 2 s; LONGEST, 150 s (a stopped
# run ends at once, so only a signal that did not work waits for it). A later --param overrides an earlier one.
LONGER = [*QUICK, "--param", "repetitions=40"]
LONGEST = [*QUICK, "--param", "repetitions=1000", "--param", "interval=60"]


def _start(tmp: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([*LABD, "run", *args, "--simulate", "--speed", "400", "--operator", "demo",
                             "--records", str(tmp / "labd.sqlite"), "--out", str(tmp / "runs"),
                             "--answers", str(REPO / "config" / "demo-answers.toml")],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "COLUMNS": "200"})


def _wait_for(db: Path, sql: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if db.exists():
            try:
                conn = sqlite3.connect(db)
                try:
                    if conn.execute(sql).fetchone()[0]:
                        return
                finally:
                    conn.close()
            except sqlite3.OperationalError:
                pass
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for: {sql}")


def test_a_run_killed_mid_way_resumes_from_the_last_completed_point_with_no_reading_lost(tmp_path):
    db = tmp_path / "labd.sqlite"
    proc = _start(tmp_path, "thermometer-calibration", *QUICK)
    try:
        # Point 0 complete and point 1 partly measured: then the power goes.
        _wait_for(db, "SELECT COUNT(*) FROM readings WHERE point = 1 AND role = 'unit under test'")
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        proc.kill()
    with RecordsReader(db) as reader:
        (run,) = reader.runs()
        before = reader.readings(run.run_id)
        assert run.state == "running"      # nobody could say otherwise: it was killed
    assert any(r["point"] == 1 for r in before)

    resumed = _start(tmp_path, "--resume", run.run_id)
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, out + err
    assert "resuming run" in out
    with RecordsReader(db) as reader:
        after = reader.readings(run.run_id)
        assert reader.run(run.run_id).state == "completed"
        assert reader.verify().ok
        results = reader.results(run.run_id)[0]["data"]
    # Every reading recorded before the kill is still there, unchanged, in the same order.
    assert after[:len(before)] == before
    assert [r["nominal"] for r in results] == [30.0, 50.0]
    # Point 0 was not measured again; point 1 was, in the second attempt.
    assert {r["attempt"] for r in after if r["point"] == 0 and r["role"] != "ambient"} == {1}
    assert len([r for r in after if r["point"] == 1 and r["attempt"] == 2 and r["role"] == "unit under test"]) == 4
    dataset = json.loads(next((tmp_path / "runs").glob("*/dataset.json")).read_text())
    # The draft certificate, made from the record, in both languages.
    assert {p.name.rsplit("-", 1)[1] for p in (tmp_path / "runs").glob("*/certificate-*.pdf")} == {"en.pdf", "id.pdf"}
    interrupted = [r for r in dataset["readings"] if r["point"] == 1 and r["attempt"] == 1 and r["role"] != "ambient"]
    assert interrupted and all(not r["used"] and "interrupted" in r["note"] for r in interrupted)
    # The export of the record says the same, without the stored rows ever changing.
    with RecordsReader(db) as reader:
        exported = json.loads(export_run(reader, run.run_id, "json"))["readings"]
    flags = {r["id"]: r["used_in_results"] for r in exported if r["role"] != "ambient"}
    assert {flags[r["id"]] for r in before if r["point"] == 1 and r["role"] != "ambient"} == {0}
    assert {flags[r["id"]] for r in before if r["point"] == 0 and r["role"] != "ambient"} == {1}
    # The resumed evaluation used the first attempt's readings of point 0.
    ref0 = [r["value"] for r in before if r["point"] == 0 and r["role"] == "reference"]
    assert abs(results[0]["reference"] - (sum(ref0) / len(ref0) + 0.0144)) < 1e-9   # + the certificate correction


def test_ctrl_c_aborts_at_a_safe_point_and_leaves_the_source_safe(tmp_path):
    db = tmp_path / "labd.sqlite"
    proc = _start(tmp_path, "thermometer-calibration", *LONGEST)
    try:
        _wait_for(db, "SELECT COUNT(*) FROM events WHERE kind = 'set_point'")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 1
    assert "aborted" in err and "instruments left safe" in err
    with RecordsReader(db) as reader:
        (run,) = reader.runs()
        assert run.state == "aborted"
        kinds = [e["kind"] for e in reader.events(run.run_id)]
    assert "safe_state" in kinds and kinds.index("safe_state") < len(kinds) - 1


def test_resume_refuses_a_finished_run_and_run_refuses_an_unauthorised_operator(tmp_path):
    proc = subprocess.run([*LABD, "run", "thermometer-calibration", "--simulate", "--operator", "nobody",
                           "--records", str(tmp_path / "labd.sqlite"), "--out", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 1
    assert "operator 'nobody' is not in the competence register" in proc.stderr
    proc = subprocess.run([*LABD, "run", "--resume", "nope", "--records", str(tmp_path / "labd.sqlite")],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 1 and "no run 'nope'" in proc.stderr


def test_sigusr1_pauses_and_sigusr2_resumes(tmp_path):
    db = tmp_path / "labd.sqlite"
    proc = _start(tmp_path, "thermometer-calibration", *LONGER)
    try:
        _wait_for(db, "SELECT COUNT(*) FROM readings WHERE role = 'unit under test'")
        proc.send_signal(signal.SIGUSR1)
        _wait_for(db, "SELECT COUNT(*) FROM events WHERE kind = 'paused'")
        with sqlite3.connect(db) as conn:
            held = conn.execute("SELECT COUNT(*) FROM readings").fetchone()[0]
        time.sleep(1.0)            # 400 simulated seconds: a running calibration would take readings
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT COUNT(*) FROM readings").fetchone()[0] == held
        proc.send_signal(signal.SIGUSR2)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, out + err
    with RecordsReader(db) as reader:
        (run,) = reader.runs()
        kinds = [e["kind"] for e in reader.events(run.run_id)]
    assert run.state == "completed" and kinds.index("paused") < kinds.index("resumed")


def test_a_run_on_a_simulated_date_is_named_and_documented_by_that_date(tmp_path):
    proc = subprocess.run([*LABD, "run", "solution-standardisation", "--simulate", "--speed", "400",
                           "--sim-date", "2026-03-02", "--operator", "demo", "--records", str(tmp_path / "labd.sqlite"),
                           "--out", str(tmp_path / "runs"), "--answers", str(REPO / "config" / "demo-answers.toml")],
                          cwd=REPO, capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    (folder,) = (tmp_path / "runs").iterdir()
    assert folder.name.startswith("bench-1-20260302-")
    with RecordsReader(tmp_path / "labd.sqlite") as reader:
        (run,) = reader.runs()
        first = reader.readings(run.run_id)[0]["time"]
    # The readings and the document carry the simulated date; `created` stays the wall-clock time the record
    # was written, which the audit needs.
    assert run.run_id == folder.name and time.strftime("%Y-%m-%d", time.gmtime(first)) == "2026-03-02"
    html = (folder / f"standardisation-report-{run.run_id}-en.html").read_text()
    assert "2026-03-02" in html and (folder / f"standardisation-report-{run.run_id}-id.pdf").exists()

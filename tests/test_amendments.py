"""Passwords set from the command line, and amendments (ISO/IEC 17025 7.5.2): a correction is a row of its own
naming the original, with who, when and why; documents show the amended value and say so; what a measurement
used cannot be amended; the operator's password is required. Through the real `labd` command."""
from __future__ import annotations

import json
import subprocess
import sys

from labd.daemon.documents import load
from labd.daemon.records import Records, RecordsReader

from .conftest import REPO


def labd(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labd", *args], cwd=REPO, input=stdin, capture_output=True,
                          text=True, timeout=120)


async def _completed_run(path) -> None:
    store = await Records(path).open()
    await store.create_run(run_id="r1", procedure="thermometer-calibration", version="1", operator="demo",
                           station="s", params={}, resolved={"customer": "", "uut_serial": "UUT-0001",
                                                             "set_points": [30.0]}, simulated=True)
    store.event("r1", 1, 1.7e9, "state", {"state": "completed"})
    await store.result("r1", "results", [{"x": 1.5}])
    await store.close()


async def test_passwd_sets_a_password_from_stdin_and_the_record_says_who_and_why(tmp_path):
    proc = labd("operators", "passwd", "demo", "--reason", "new starter", stdin="correct horse battery\n")
    assert proc.returncode == 0, proc.stderr
    hashes = json.loads((tmp_path / "keys" / "passwords.json").read_text())
    assert hashes["demo"]["hash"].startswith("$argon2id$") and "correct horse" not in json.dumps(hashes)
    assert (tmp_path / "keys" / "passwords.json").stat().st_mode & 0o777 == 0o600
    with RecordsReader(tmp_path / "labd.sqlite") as reader:
        (command,) = reader.commands()
    assert command["source"].startswith("cli:") and json.loads(command["payload"]) == {
        "action": "passwd", "operator": "demo", "reason": "new starter"}
    short = labd("operators", "passwd", "demo", stdin="short\n")
    assert short.returncode == 1 and "at least 8 characters" in short.stderr and "Traceback" not in short.stderr
    assert labd("operators", "passwd", "scheduler", stdin="whatever-long\n").returncode == 1


async def test_an_amendment_keeps_the_original_and_the_document_says_so(tmp_path):
    path = tmp_path / "labd.sqlite"
    await _completed_run(path)
    assert labd("operators", "passwd", "demo", stdin="correct horse battery\n").returncode == 0
    wrong = labd("amend", "r1", "customer", "PT Maju Jaya", "--reason", "left empty", "--operator", "demo",
                 stdin="not the password\n")
    assert wrong.returncode == 1 and "wrong password" in wrong.stderr
    used = labd("amend", "r1", "set_points", "40", "--reason", "x", "--operator", "demo",
                stdin="correct horse battery\n")
    assert used.returncode == 1 and "measured again, not amended" in used.stderr
    other = labd("amend", "r1", "customer", "X", "--reason", "x", "--operator", "trainee", stdin="whatever\n")
    assert other.returncode == 1 and "it takes the run's operator or a supervisor" in other.stderr
    ok = labd("amend", "r1", "customer", "PT Maju Jaya", "--reason", "left empty at the start", "--operator",
              "demo", stdin="correct horse battery\n")
    assert ok.returncode == 0, ok.stderr
    with RecordsReader(path) as reader:
        assert reader.run("r1").resolved["customer"] == ""               # the original row is untouched
        (amendment,) = reader.amendments("r1")
        assert reader.verify().ok
        outcomes = [c["outcome"] for c in reader.commands() if '"amend"' in c["payload"]]
    assert amendment["original"] == "" and amendment["amended"] == "PT Maju Jaya"
    assert amendment["operator"] == "demo" and amendment["reason"] == "left empty at the start"
    assert outcomes == ["refused: wrong password or none set", "ok"]
    record = load(path, "r1")
    assert record.summary.resolved["customer"] == "PT Maju Jaya" and len(record.amendments) == 1


async def test_report_refuses_records_whose_results_were_edited(tmp_path):
    import sqlite3
    path = tmp_path / "labd.sqlite"
    await _completed_run(path)
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER results_no_update")
    conn.execute("""UPDATE results SET data = '[{"x": 1.4}]'""")
    conn.commit()
    conn.close()
    proc = labd("report", "r1", "--format", "html", "--out", str(tmp_path / "docs"))
    assert proc.returncode == 1 and "fail verification" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "docs").exists()
    proc = labd("export", "r1")
    assert proc.returncode == 1 and "fail verification" in proc.stderr


async def test_a_change_to_the_configuration_is_recorded_at_the_next_start(tmp_path):
    import shutil

    from labd.daemon.config import load_config
    from labd.daemon.engine import record_configuration
    from .conftest import CONFIG
    lab = tmp_path / "lab"
    shutil.copytree(CONFIG, lab, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    store = await Records(tmp_path / "labd.sqlite").open()
    try:
        assert await record_configuration(store, load_config(lab), "service") == "first recorded"
        assert await record_configuration(store, load_config(lab), "service") is None    # unchanged: no row
        text = (lab / "operators.toml").read_text().replace('authorised = []', 'authorised = ["equipment-check"]')
        (lab / "operators.toml").write_text(text)
        changed = await record_configuration(store, load_config(lab), "service")
    finally:
        await store.close()
    assert changed is not None and changed.startswith("changed since last recorded: operators.toml (modified ")
    with RecordsReader(tmp_path / "labd.sqlite") as reader:
        assert len([c for c in reader.commands() if c["source"] == "service"]) == 2

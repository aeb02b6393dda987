"""A standard is the instrument its certificate belongs to (issue 15, item 2): before anything moves, a standard
that can identify itself is matched against the register's serial; a mismatch refuses the run, naming both."""
from __future__ import annotations

import shutil
import subprocess
import sys

from labd.daemon.records import RecordsReader
from labd.drivers import Identity

from .conftest import CONFIG, REPO


def test_identities_are_parsed_from_the_instruments_own_words():
    assert Identity.parse("FLUKE,5520A,9311022,1.4+1.0+2.0+*").serial == "9311022"
    assert Identity.parse("Keysight Technologies,34465A,MY57800123,A.03.01-02.40-03.01-00.52-01-01").model == "34465A"
    assert Identity.parse("Mettler Toledo XS205 Excellence, serial 1126493049").serial == "1126493049"
    assert Identity.parse("Hart 9142 firmware 1.0").serial is None


def _lab_with_calibrator_serial(tmp_path, serial: str):
    lab = tmp_path / "lab"
    shutil.copytree(CONFIG, lab, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    text = (lab / "instruments.toml").read_text().replace('serial = "9311022"', f'serial = "{serial}"')
    (lab / "instruments.toml").write_text(text)
    return lab


def _run(lab, tmp_path) -> subprocess.CompletedProcess:
    answers = tmp_path / "answers.toml"
    answers.write_text('connect = "done"\noperator = "demo"\n')
    return subprocess.run([sys.executable, "-m", "labd", "run", "dmm-calibration", "--simulate", "--config", str(lab),
                           "--answers", str(answers), "--param", "points=1", "--param", "repetitions=2",
                           "--records", str(tmp_path / "labd.sqlite"), "--out", str(tmp_path / "runs")],
                          cwd=REPO, capture_output=True, text=True, timeout=300)


def test_a_calibrator_whose_serial_differs_from_the_register_is_refused_before_it_starts(tmp_path):
    proc = _run(_lab_with_calibrator_serial(tmp_path, "9205101"), tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = " ".join((proc.stdout + proc.stderr).split())
    assert "calibrator reports serial 9205101" in out and "has serial 9311022" in out, out
    assert "Traceback" not in out
    with RecordsReader(tmp_path / "labd.sqlite") as reader:
        (run,) = reader.runs()
        assert run.state == "refused"
        assert not [r for r in reader.readings(run.run_id) if r["instrument"] in ("calibrator", "dmm")]
        assert not reader.events(run.run_id, "prompt")          # nobody was asked to connect anything


def test_the_example_labs_calibrator_is_the_registers(tmp_path):
    proc = _run(CONFIG, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with RecordsReader(tmp_path / "labd.sqlite") as reader:
        (run,) = reader.runs()
        (identified,) = reader.events(run.run_id, "identified")
    assert identified["data"]["identities"]["calibrator"]["serial"] == "9311022"

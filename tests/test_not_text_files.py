"""A file that is not UTF-8 text (a spreadsheet saved over a TOML file, a binary export) given to any command that
reads TOML or values: one line naming the file and why, never a UnicodeDecodeError traceback."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from labd.daemon.cli import main

REPO = Path(__file__).resolve().parent.parent
NOT_TEXT = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00\xff\xfe"       # the start of an old Excel (OLE) file


@pytest.fixture
def binary(tmp_path) -> Path:
    path = tmp_path / "data.toml"
    path.write_bytes(NOT_TEXT)
    return path


def _refused(args: list[str], name: str) -> None:
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1, res.output
    assert not isinstance(res.exception, UnicodeDecodeError) and "Traceback" not in res.output
    lines = [line for line in res.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and name in lines[0] and "not a text file in UTF-8" in lines[0], res.output


@pytest.mark.parametrize("command", [["calc", "budget"], ["calc", "stats"], ["calc", "cvd"], ["calc", "interval"]])
def test_calc_commands(binary, command):
    _refused([*command, str(binary)], "data.toml")


def test_stats_on_a_values_file(tmp_path):
    path = tmp_path / "values.txt"
    path.write_bytes(NOT_TEXT)
    _refused(["calc", "stats", str(path)], "values.txt")


def test_configuration(tmp_path):
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    (config / "lab.toml").write_bytes(NOT_TEXT)
    _refused(["config", "check", str(config)], "lab.toml")


def test_answers_file(binary):
    _refused(["run", "thermometer-calibration", "--simulate", "--answers", str(binary), "--operator", "demo"],
             "data.toml")


def test_register_entry_file(binary):
    _refused(["standards", "set", "ref_prt", str(binary), "--operator", "supervisor", "--reason", "new certificate"],
             "data.toml")

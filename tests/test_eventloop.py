"""The daemon's event loop: uvloop where installed, asyncio's by choice, a bad choice said in one line."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from labd.daemon import eventloop


async def loop_type() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_the_daemon_runs_on_uvloop_by_default_and_on_asyncio_when_asked(monkeypatch):
    monkeypatch.delenv("LABD_EVENT_LOOP", raising=False)
    assert eventloop.run(loop_type()).startswith("uvloop")
    monkeypatch.setenv("LABD_EVENT_LOOP", "asyncio")
    assert eventloop.run(loop_type()).startswith("asyncio")


def test_a_bad_choice_is_refused_before_anything_runs():
    ran = []

    async def main():
        ran.append(True)
    with pytest.raises(eventloop.EventLoopError, match="LABD_EVENT_LOOP='fast': expected one of uvloop, asyncio"):
        eventloop.run(main(), "fast")
    assert not ran


def test_the_command_line_says_a_bad_choice_in_one_line():
    env = {**os.environ, "LABD_EVENT_LOOP": "fast"}
    proc = subprocess.run([sys.executable, "-m", "labd", "instruments", "--simulate"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "LABD_EVENT_LOOP='fast': expected one of uvloop, asyncio" in proc.stderr

"""Faults on demand from outside `labd sim` (issue 17, item 4): the control port and `--fault`, as another
project's test suite would use them, with plain sockets."""
from __future__ import annotations

import asyncio
import re
import json
import signal
import socket
import subprocess
import time

import pytest

from labd.daemon.config import load_config
from labd.simulators import SimulatedLab
from labd.simulators.control import FaultControl, FaultSpec

from .test_cli import LABD, REPO


@pytest.mark.parametrize("text, spec", [
    ("balance:no_reply", FaultSpec("balance", "no_reply", 1)),
    ("dmm:garbage:3", FaultSpec("dmm", "garbage", 3)),
    ("dmm:disconnect:always", FaultSpec("dmm", "disconnect", None)),
])
def test_a_fault_given_at_start_is_parsed(text, spec):
    assert FaultSpec.parse(text) == spec


@pytest.mark.parametrize("text, why", [
    ("balance", "expected ID:MODE[:COUNT]"), ("balance:melt", "unknown fault 'melt'"),
    ("balance:busy:0", "at least 1"), ("balance:busy:x", "a whole number or 'always'"), ("a:b:c:d", "expected"),
])
def test_a_bad_fault_says_what_and_why(text, why):
    with pytest.raises(ValueError, match=re.escape(why)):
        FaultSpec.parse(text)


async def _ask(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, line: str) -> str:
    writer.write(line.encode() + b"\n")
    await writer.drain()
    return (await asyncio.wait_for(reader.readline(), 5)).decode().strip()


async def test_the_control_port_arms_and_clears_faults_that_a_plain_client_then_meets():
    config = load_config(REPO / "config")
    async with SimulatedLab(config.instruments, seed=1) as lab:
        control = FaultControl(lab.servers, {i: a["driver"] for i, a in lab.addresses.items()})
        port = await control.start(0)
        ctl = await asyncio.open_connection("127.0.0.1", port)
        dmm_port = int(lab.addresses["dmm"]["address"].split("::")[2])
        dmm = await asyncio.open_connection("127.0.0.1", dmm_port)
        try:
            assert "dmm (keysight-344xx): none" in await _ask(*ctl, "list")
            assert await _ask(*ctl, "inject dmm no_reply 1") == "ok dmm: no_reply ×1"
            assert "dmm (keysight-344xx): no_reply ×1" in await _ask(*ctl, "list")
            dmm[1].write(b"*IDN?\n")
            with pytest.raises(asyncio.TimeoutError):          # the command was swallowed
                await asyncio.wait_for(dmm[0].readline(), 0.5)
            assert (await _ask(*dmm, "*IDN?")).startswith("Keysight Technologies,34465A")
            assert "dmm (keysight-344xx): none" in await _ask(*ctl, "list")   # a counted fault disarms itself

            assert await _ask(*ctl, "inject dmm garbage always") == "ok dmm: garbage always"
            assert (await _ask(*dmm, "*IDN?")).startswith("~") and (await _ask(*dmm, "*IDN?")).startswith("~")
            assert (await _ask(*ctl, "clear all")).startswith("ok cleared ")
            assert (await _ask(*dmm, "*IDN?")).startswith("Keysight Technologies,34465A")

            for bad, why in [("inject nope no_reply", "no simulated instrument 'nope'"),
                             ("inject dmm melt", "unknown fault 'melt'"), ("inject dmm busy 2 -1", "downtime"),
                             ("inject dmm busy x", "a whole number"), ("frobnicate", "unknown command"),
                             ("clear", "clear ID|all"), ("", "empty command")]:
                reply = await _ask(*ctl, bad)
                assert reply.startswith("error: ") and why in reply, (bad, reply)
            assert (await _ask(*dmm, "*IDN?")).startswith("Keysight")       # nothing bad acted
        finally:
            for _, w in (ctl, dmm):
                w.close()
            await control.stop()


def _line(sock: socket.socket, text: str) -> str:
    sock.sendall(text.encode() + b"\n")
    return sock.makefile().readline().strip()


def test_labd_sim_takes_faults_at_start_and_on_its_control_port(tmp_path):
    addresses = tmp_path / "addresses.json"
    proc = subprocess.Popen([*LABD, "sim", "--addresses", str(addresses), "--control", "0",
                             "--fault", "dmm:garbage:always"], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        control_port = None
        deadline = time.monotonic() + 60
        while control_port is None:
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
            line = proc.stdout.readline()
            if line.startswith("fault control on 127.0.0.1:"):
                control_port = int(line.rsplit(":", 1)[1])
        found = json.loads(addresses.read_text())
        dmm_port = int(found["dmm"]["address"].split("::")[2])
        with socket.create_connection(("127.0.0.1", dmm_port), timeout=5) as dmm, \
                socket.create_connection(("127.0.0.1", control_port), timeout=5) as ctl:
            assert _line(dmm, "*IDN?").startswith("~")                   # armed by --fault
            assert _line(ctl, "clear dmm") == "ok cleared dmm"
            assert _line(dmm, "*IDN?").startswith("Keysight Technologies,34465A")
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
        assert proc.returncode == 0, err


def test_labd_sim_refuses_a_bad_fault_in_one_line():
    result = subprocess.run([*LABD, "sim", "--fault", "balance:melt"], cwd=REPO, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "unknown fault 'melt'" in result.stderr
    result = subprocess.run([*LABD, "sim", "--fault", "nope:busy"], cwd=REPO, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2 and "no simulated instrument 'nope'" in result.stderr

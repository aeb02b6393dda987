"""Fixtures: simulators served over the real transports (pty, TCP socket for VISA, pymodbus server)."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from labd.drivers import create_instrument
from labd.simulators import LineServer, SimClock

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "config"


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    """Every test keeps its records and documents in its own folder, never in the user's data folder, and sees
    no LABD_* setting of the shell that started it."""
    for key in [k for k in os.environ if k.startswith("LABD_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("LABD_DATA", str(tmp_path))
    return tmp_path


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def clock():
    return SimClock(speed=50.0)


@pytest.fixture
def serve():
    """`async with serve(device, "pty"|"tcp") as (server, address)` serves a line device for one test."""
    tmp = Path(tempfile.mkdtemp(prefix="labd-test-"))

    @contextlib.asynccontextmanager
    async def _serve(device, transport: str = "pty", name: str = "dev"):
        server = LineServer(device, name)
        try:
            if transport == "pty":
                address = await server.start_pty(tmp)
            else:
                port = await server.start_tcp()
                address = f"TCPIP0::127.0.0.1::{port}::SOCKET" if transport == "visa" else f"tcp://127.0.0.1:{port}"
            yield server, address
        finally:
            await server.stop()

    yield _serve
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def instrument():
    """`async with instrument(driver, address, **kw) as inst` opens a driver and always closes it."""

    @contextlib.asynccontextmanager
    async def _instrument(driver: str, address: str, *, options=None, timeout=None, open=True):
        inst = create_instrument("uut", driver, address, options=options, timeout=timeout)
        try:
            if open:
                await inst.open()
            yield inst
        finally:
            await inst.close()

    return _instrument


@pytest.fixture
def mosquitto():
    """A real Mosquitto broker on loopback with passwords and an ACL; `.stop()` / `.start()` for outages."""
    from .realparts import Mosquitto
    server = Mosquitto()
    server.start()
    yield server
    server.close()


@pytest.fixture
def postgres():
    """A real PostgreSQL (Debian's) on loopback, a throwaway cluster; `.stop()` / `.start()` keep its data."""
    from .realparts import PostgreSQL
    server = PostgreSQL()
    server.start()
    yield server
    server.close()


@pytest.fixture
def victoria():
    """A real VictoriaMetrics accepting the InfluxDB v2 write API; `.stop()` / `.start()` keep its data."""
    from .realparts import VictoriaMetrics
    server = VictoriaMetrics()
    server.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{server.url}/health", timeout=1).read()
            break
        except OSError:
            time.sleep(0.05)
    yield server
    server.close()

"""Round trips per second through the whole driver stack against the bare transport, on the same simulator.

Prints, per instrument: bare round trips/s, driver round trips/s, and the overhead the driver layer adds to
one round trip (target: under 10 %). Run: .venv/bin/python bench/drivers_roundtrip.py [--seconds N]
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyvisa
import serial

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from drivers import create_instrument  # noqa: E402
from simulators import LineServer, SimClock  # noqa: E402
from simulators.devices.keysight_344xx import Dmm344xxSim  # noqa: E402
from simulators.devices.mt_sics import MtSicsBalanceSim  # noqa: E402
from simulators.physics import BalanceModel, MultimeterModel  # noqa: E402


def rate(fn, seconds: float) -> float:
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - start)


async def arate(fn, seconds: float) -> float:
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        await fn()
        n += 1
    return n / (time.perf_counter() - start)


async def main(seconds: float) -> None:
    rng = np.random.default_rng(0)
    clock = SimClock(1.0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        balance = LineServer(MtSicsBalanceSim(BalanceModel(clock, rng)), "balance")
        address = await balance.start_pty(Path(tmp))
        port = serial.Serial(address, 9600, timeout=2)

        def bare_si():
            port.write(b"SI\r\n")
            port.readline()
        bare = await asyncio.to_thread(rate, bare_si, seconds)
        port.close()
        drv = create_instrument("balance", "mettler-sics", address)
        await drv.open()
        driver = await arate(lambda: drv.weigh(stable=False), seconds)
        await drv.close()
        await balance.stop()
        rows.append(("MT-SICS balance, SI over pty (pyserial)", bare, driver))

        dmm = LineServer(Dmm344xxSim(MultimeterModel(rng, None)), "dmm")
        tcp = await dmm.start_tcp()
        resource = f"TCPIP0::127.0.0.1::{tcp}::SOCKET"
        rm = pyvisa.ResourceManager("@py")
        inst = rm.open_resource(resource, read_termination="\n", write_termination="\n")
        bare = await asyncio.to_thread(rate, lambda: inst.query("READ?"), seconds)
        inst.close()
        drv = create_instrument("dmm", "keysight-344xx", resource)
        await drv.open()
        driver = await arate(drv.read, seconds)
        await drv.close()
        await dmm.stop()
        rows.append(("34465A DMM, READ? over VISA socket (pyvisa)", bare, driver))

    print(f"{'instrument':48} {'bare /s':>10} {'driver /s':>10} {'overhead':>9}")
    for name, bare, driver in rows:
        overhead = bare / driver - 1  # extra time per round trip, relative to the bare one
        print(f"{name:48} {bare:10.0f} {driver:10.0f} {overhead:9.1%}")
    print("target: driver layer adds < 10 % to a round trip")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=2.0)
    asyncio.run(main(ap.parse_args().seconds))

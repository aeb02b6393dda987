"""Round trips per second through the whole driver stack against the bare transport, on the same simulator.

The simulators run in a child process, as a real instrument is a separate device: the bench process then
measures only the client side. Each instrument is measured twice: with a simulator that answers at once (the
pure cost of the layer over a ~100 µs loopback round trip) and with a simulator that takes a realistic time to
answer (about 1 ms for a balance's SI or a fast DMM reading; real instruments are slower still).

Prints, per row: bare round trips/s, driver round trips/s, the time the driver layer adds to one round trip
in µs, and as a fraction of the bare round trip (target: under 10 %).
Run: .venv/bin/python bench/drivers_roundtrip.py [--seconds N] [--latency-ms X]
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

import pyvisa
import serial

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from labd.daemon import eventloop  # noqa: E402
from labd.drivers import create_instrument  # noqa: E402


def serve(conn, tmp: str) -> None:
    """Child process: a simulated balance on a pty and a simulated DMM on a TCP socket."""
    import numpy as np

    from labd.simulators import LineServer, SimClock
    from labd.simulators.devices.keysight_344xx import Dmm344xxSim
    from labd.simulators.devices.mt_sics import MtSicsBalanceSim
    from labd.simulators.physics import BalanceModel, MultimeterModel

    async def main() -> None:
        rng = np.random.default_rng(0)
        balance = LineServer(MtSicsBalanceSim(BalanceModel(SimClock(1.0), rng)), "balance")
        dmm = LineServer(Dmm344xxSim(MultimeterModel(rng, None)), "dmm")
        conn.send((await balance.start_pty(Path(tmp)), await dmm.start_tcp()))
        loop = asyncio.get_running_loop()
        while True:
            latency = await loop.run_in_executor(None, conn.recv)
            balance.latency = dmm.latency = latency
            conn.send("ok")

    asyncio.run(main())


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


ROUNDS = 15


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def paired(bare: list[float], driver: list[float]) -> tuple[float, float, float]:
    """The medians of each side, and the median over the rounds of the time the driver added in that round: a
    round's bare and driver runs are a fraction of a second apart, so a machine's drift cancels within a pair,
    where comparing two medians taken over a minute would report it as the driver's cost."""
    added = [1 / d - 1 / b for b, d in zip(bare, driver)]
    return median(bare), median(driver), median(added)


async def measure(pty: str, resource: str, seconds: float) -> list[tuple[str, float, float, float]]:
    """Bare and driver in alternation, ROUNDS times each over the same total time (`paired`): a machine's
    passing load then hits both sides alike instead of one of them."""
    rows = []
    port = serial.Serial(pty, 9600, timeout=2)
    drv = create_instrument("balance", "mettler-sics", pty)

    def bare_si() -> None:
        port.write(b"SI\r\n")
        port.readline()
    bare, driver = [], []
    for _ in range(ROUNDS):
        bare.append(rate(bare_si, seconds / ROUNDS))
        await drv.open()
        driver.append(await arate(lambda: drv.weigh(stable=False), seconds / ROUNDS))
        await drv.close()
    port.close()
    rows.append(("MT-SICS balance, SI over pty (pyserial)", *paired(bare, driver)))

    inst = pyvisa.ResourceManager("@py").open_resource(resource, read_termination="\n", write_termination="\n")
    dmm = create_instrument("dmm", "keysight-344xx", resource)
    await dmm.open()
    bare, driver = [], []
    for _ in range(ROUNDS):
        bare.append(rate(lambda: inst.query("READ?"), seconds / ROUNDS))
        driver.append(await arate(dmm.read, seconds / ROUNDS))
    inst.close()
    await dmm.close()
    rows.append(("34465A DMM, READ? over VISA socket (pyvisa)", *paired(bare, driver)))
    return rows


async def main(seconds: float, latency_ms: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        parent, child = mp.Pipe()
        proc = mp.get_context("spawn").Process(target=serve, args=(child, tmp), daemon=True)
        proc.start()
        pty, tcp = parent.recv()
        resource = f"TCPIP0::127.0.0.1::{tcp}::SOCKET"
        print(f"{'instrument':46} {'reply':>7} {'bare /s':>9} {'driver /s':>9} {'added':>8} {'overhead':>9}")
        try:
            for latency in (0.0, latency_ms / 1000):
                parent.send(latency)
                parent.recv()
                for name, bare, driver, added in await measure(pty, resource, seconds):
                    reply = f"{latency * 1000:g} ms"
                    print(f"{name:46} {reply:>7} {bare:9.0f} {driver:9.0f} {added * 1e6:6.0f}µs {added * bare:9.1%}")
        finally:
            proc.kill()
    print("target: the driver layer adds < 10 % to a round trip. 'reply' is the simulated device's answer time.")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0, help="per instrument and reply time, both sides")
    ap.add_argument("--latency-ms", type=float, default=1.0)
    args = ap.parse_args()
    print(f"event loop: {eventloop.name(eventloop.loop_factory())} (the daemon's; LABD_EVENT_LOOP chooses)")
    eventloop.run(main(args.seconds, args.latency_ms))

"""1529 readout, SCPI metrology well and classic Hart dry-well against their simulators."""
from __future__ import annotations

import asyncio
import socket
from datetime import date

import pytest

from labd.drivers import Disconnected, InstrumentTimeout, NotSupported, OutOfRange, ProtocolError
from labd.simulators.devices.fluke_1529 import Readout1529Sim
from labd.simulators.devices.temperature_sources import HartClassicSim, ScpiWellSim
from labd.simulators.physics import Probe, ThermalBlock
from labd.simulators.clock import SimClock


@pytest.fixture
def block(clock, rng):
    return ThermalBlock(clock, rng, tau=20.0, noise=0.001, control_offset=0.05, stability_limit=0.05,
                        stability_hold=10.0)


@pytest.fixture
def readout(clock, rng, block):
    probes = {1: Probe(block, (0.01,), 0.0002, rng), 2: Probe(block, (0.2, 0.001), 0.0002, rng)}
    return Readout1529Sim(clock, probes, probe_serials={1: "5626_123"})


@pytest.mark.parametrize("transport", ["pty", "visa"])
async def test_readout_reads_each_channel_with_its_unit(serve, instrument, readout, block, transport):
    async with serve(readout, transport) as (_, address), instrument("fluke-1529", address) as ro:
        assert (await ro.identify()).startswith("HART,1529,")
        t = block.true_temperature()
        ch1, ch2 = await ro.read(1), await ro.read(2)
        assert (ch1.unit, ch1.channel, ch2.channel) == ("°C", 1, 2)
        assert ch1.value == pytest.approx(t + 0.01, abs=0.002)
        assert ch2.value == pytest.approx(t + 0.2 + 0.001 * t, abs=0.002)


async def test_readout_restores_the_stamped_format_after_a_power_cycle(serve, instrument, readout):
    async with serve(readout) as (_, address), instrument("fluke-1529", address) as ro:
        await ro.identify()
        readout.stamped = False  # FORM:STAM resets to OFF at power-up
        reading = await ro.read(1)
        assert reading.unit == "°C" and readout.stamped


async def test_a_readout_set_to_answer_with_cr_alone_is_read_with_its_configured_terminator(serve, readout):
    """Issue 17: configurable terminators. The default (LF) never sees the end of a CR-only reply; `line` does."""
    from labd.drivers import InstrumentTimeout, create_instrument
    readout.reply_termination = "\r"
    async with serve(readout) as (_, address):
        plain = create_instrument("ro", "fluke-1529", address, timeout=0.3)
        try:
            with pytest.raises(InstrumentTimeout):
                await plain.identify()
        finally:
            await plain.close()
        configured = create_instrument("ro", "fluke-1529", address, line={"read_termination": "\r"})
        try:
            assert (await configured.identify()).startswith("HART,1529,")
            assert (await configured.read(1)).unit == "°C"
        finally:
            await configured.close()


async def test_readout_probe_information(serve, instrument, readout):
    async with serve(readout) as (_, address), instrument("fluke-1529", address) as ro:
        info = await ro.probe(1)
        assert info.name == "5626_123" and info.calibration_date == date(2026, 3, 14)
        assert info.extra == {"conversion": "CVD"}


async def test_readout_missing_channel_gives_no_reply(serve, instrument, readout):
    # A channel with no probe: the 1529 sends nothing and queues -230 (Data corrupt or stale).
    async with serve(readout) as (_, address), instrument("fluke-1529", address, timeout=0.3) as ro:
        with pytest.raises(InstrumentTimeout):
            await ro.read(3)
        assert (await ro.line.query("SYST:ERR?")).startswith("-230")


async def test_readout_garbage_and_recovery(serve, instrument, readout):
    async with serve(readout) as (server, address), instrument("fluke-1529", address) as ro:
        await ro.identify()
        server.inject("garbage")
        with pytest.raises(ProtocolError):
            await ro.read(1)
        assert (await ro.read(1)).unit == "°C"


async def test_plain_tcp_client_gets_the_readout_identity(serve, readout):
    """Done-when of issue 2: `*IDN?` over a plain TCP socket to the simulated readout."""
    async with serve(readout, "visa") as (_, address):
        port = int(address.split("::")[2])

        def exchange() -> bytes:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"*IDN?\n")
                data = b""
                while not data.endswith(b"\n"):
                    data += s.recv(100)
                return data
        assert (await asyncio.to_thread(exchange)).startswith(b"HART,1529,")


async def test_scpi_well_heats_to_set_point_and_reports_stable(serve, instrument, block, clock):
    sim = ScpiWellSim(block)
    async with serve(sim) as (_, address), instrument("fluke-scpi-well", address,
                                                       options={"stability_limit": 0.05}) as well:
        assert (await well.identify()).startswith("FLUKE,9142")
        assert block.stability_limit == 0.05
        await well.output(True)
        assert await well.output_state() is True
        await well.set_point(50.0)
        assert await well.get_set_point() == pytest.approx(50.0)
        assert await well.is_stable() is False
        for _ in range(200):
            if await well.is_stable():
                break
            await asyncio.sleep(0.05)
        assert await well.is_stable() is True
        assert (await well.temperature()).value == pytest.approx(50.05, abs=0.06)


async def test_scpi_well_refuses_a_set_point_outside_limits_before_sending(serve, instrument, block):
    sim = ScpiWellSim(block)
    async with serve(sim) as (server, address), instrument("fluke-scpi-well", address,
                                                            options={"max_set_point": 140}) as well:
        with pytest.raises(OutOfRange):
            await well.set_point(145.0)
        assert not any(c.startswith("SOUR:SPO 145") for c in server.commands)


async def test_scpi_well_safe_state_goes_to_safe_set_point(serve, instrument, block):
    sim = ScpiWellSim(block)
    async with serve(sim) as (_, address), instrument("fluke-scpi-well", address,
                                                       options={"safe_set_point": 30.0}) as well:
        await well.set_point(120.0)
        await well.safe_state()
        assert block.set_point == 30.0


async def test_scpi_well_bad_stability_flag_is_a_protocol_error(serve, instrument, block):
    sim = ScpiWellSim(block)
    async with serve(sim) as (server, address), instrument("fluke-scpi-well", address) as well:
        await well.identify()
        server.inject("garbage")
        with pytest.raises(ProtocolError):
            await well.is_stable()


@pytest.mark.parametrize("duplex", ["full", "half"])
async def test_hart_classic_with_and_without_echo(serve, instrument, clock, rng, duplex):
    block = ThermalBlock(clock, rng, ambient=-10.0, tau=10.0, noise=0.001)
    sim = HartClassicSim(block, model="7341", duplex_full=duplex == "full")
    async with serve(sim) as (_, address), instrument("hart-classic", address,
                                                       options={"duplex": duplex, "min_set_point": -40}) as bath:
        assert await bath.identify() == "Hart 7341 firmware 1.21"
        await bath.set_point(-20.0)
        assert await bath.get_set_point() == -20.0
        reading = await bath.temperature()
        assert reading.value < 0 and reading.unit == "°C"  # negative values parse (cold baths)
        assert await bath.is_stable() is None
        with pytest.raises(NotSupported):
            await bath.output(False)


async def test_hart_classic_wrong_echo_is_detected(serve, instrument, clock, rng):
    block = ThermalBlock(clock, rng)
    sim = HartClassicSim(block, duplex_full=False)  # the instrument does not echo, config says it does
    async with serve(sim) as (_, address), instrument("hart-classic", address, options={"duplex": "full"},
                                                       timeout=0.3) as well:
        with pytest.raises((ProtocolError, InstrumentTimeout)):
            await well.temperature()


async def test_hart_classic_disconnect_and_reconnect(serve, instrument, clock, rng):
    sim = HartClassicSim(ThermalBlock(clock, rng))
    async with serve(sim) as (server, address), instrument("hart-classic", address, timeout=0.5) as well:
        server.inject("disconnect", downtime=0.2)
        with pytest.raises((Disconnected, InstrumentTimeout)):
            await well.temperature()
        await asyncio.sleep(0.3)
        assert (await well.temperature()).unit == "°C"


async def test_the_new_reading_flag_is_as_the_manual_gives_it(rng, block):
    """1 for a reading not read before, 0 when the same reading is fetched again; a new one every period."""
    # At real speed: on the suite's fast clock a period is 10 ms of wall time, which a loaded machine can let
    # pass between two fetches (a new reading, flag 1, as it should be), and the test would fail for nothing.
    readout = Readout1529Sim(SimClock(speed=1.0), {1: Probe(block, (0.01,), 0.0002, rng),
                                                    2: Probe(block, (0.2, 0.001), 0.0002, rng)})
    await readout.handle("FORMAT:STAMP ON", None)
    assert await readout.handle("form:stam?", None) == "1"
    first = await readout.handle("FETC? 1", None)
    again = await readout.handle("FETCH? 1", None)
    assert first.split(",")[0] == "1" and again.split(",")[0] == "0" and first.split(",")[2] == again.split(",")[2]
    assert int(await readout.handle("STAT:MEAS?", None)) & 1 == 0
    await readout.clock.sleep(readout.sample_period)
    assert int(await readout.handle("STATUS:MEASUREMENT?", None)) & 1 == 1
    assert (await readout.handle("MEAS? 1", None)).split(",")[0] == "1"
    raw = await readout.handle("SENS1:DATA?", None)
    assert raw.endswith(", 0.0000") and 100 < float(raw.split(",")[0]) < 140      # a Pt100's ohms
    await readout.handle("FETC? 1;FETC? 2", None)                 # no compound commands on a 1529
    assert await readout.handle("SYST:ERR?", None) == '-113,"Undefined header"'


async def test_the_driver_never_records_the_same_reading_twice(serve, instrument, readout):
    async with serve(readout) as (server, address), instrument("fluke-1529", address) as ro:
        readings = [await ro.read(1) for _ in range(4)]
    stamps = [r.raw for r in readings]
    assert len(set(stamps)) == 4 and all(s.startswith("1,") for s in stamps)
    # it asked again, while the channel had nothing new, rather than take the old reading
    assert sum(c.startswith("FETC? 1") for c in server.commands) > 4


async def test_the_metrology_well_answers_its_scpi_set(block):
    well = ScpiWellSim(block)
    assert (await well.handle("*IDN?", None)).startswith("FLUKE,9142,")
    await well.handle("*CLS", None)                                   # no -113 any more
    assert await well.handle("SYST:ERR?", None) == '0,"No error"'
    await well.handle("SOURCE:SPOINT 50", None)
    assert float(await well.handle("sour:spo?", None)) == 50.0
    temperature = float(await well.handle("SOUR:SENS:DATA? TEMP", None))
    resistance = float(await well.handle("SOUR:SENS:DATA? RES", None))
    assert 18 < temperature < 60 and 100 < resistance < 125                # a resistance, not the temperature
    assert float(await well.handle("SOUR:STAB:DAT?", None)) >= 0.0
    await well.handle("SOUR:STAB:LIM 20", None)                            # beyond 0.01 … 9.99
    assert await well.handle("SYST:ERR?", None) == '-222,"Data out of range"'
    await well.handle("OUTP:STAT 1", None)
    await well.handle("*RST", None)                                        # output off after *RST
    assert await well.handle("OUTP:STAT?", None) == "0"


async def test_the_hart_classic_unit_can_end_its_replies_with_cr_only(serve, instrument, block):
    sim = HartClassicSim(block, duplex_full=False)
    async with serve(sim) as (server, address), instrument("hart-classic", address,
                                                          options={"duplex": "half"}) as well:
        await sim.handle("lf=of", None)
        assert sim.reply_termination == "\r"
        assert await sim.handle("lf", None) == "lf: off"
        reading = await well.temperature()
        assert 15 < reading.value < 60
        await sim.handle("lf=on", None)
        assert 15 < (await well.temperature()).value < 60

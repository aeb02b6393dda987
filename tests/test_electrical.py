"""5520A calibrator and 34465A multimeter over VISA (pyvisa-py TCP socket resources) against their simulators."""
from __future__ import annotations

import asyncio

import pytest

from labd.drivers import InstrumentReportedError, InstrumentTimeout, OutOfRange, OverloadError, ProtocolError
from labd.simulators.devices.fluke_5520a import Calibrator5520Sim
from labd.simulators.devices.keysight_344xx import Dmm344xxSim
from labd.simulators.physics import CalibratorModel, MultimeterModel


@pytest.fixture
def cal_model(clock, rng):
    return CalibratorModel(clock, rng, gain_error={"V": 5e-6}, offset_error={"V": 0.0}, settle_time=1.0)


@pytest.fixture
def dmm_model(rng, cal_model):
    return MultimeterModel(rng, cal_model, gain_error=1e-5, offset_error=0.0, noise=1e-8)


async def test_calibrator_sources_and_settles(serve, instrument, cal_model):
    async with serve(Calibrator5520Sim(cal_model), "visa") as (server, address), \
            instrument("fluke-5520a", address) as cal:
        assert (await cal.identify()).startswith("FLUKE,5520A")
        assert not cal_model.operating  # open() put it in standby
        await cal.source(10.0, "V")
        assert server.commands[-2] == "OUT 10 V, 0 HZ"  # the frequency is always explicit
        await cal.operate()
        await cal.wait_settled(timeout=5)
        assert await cal.is_operating()
        assert cal_model.actual_output() == (pytest.approx(10.00005), "V")


async def test_calibrator_goes_to_standby_when_the_caller_fails(serve, instrument, cal_model):
    async with serve(Calibrator5520Sim(cal_model), "visa") as (_, address), \
            instrument("fluke-5520a", address) as cal:
        await cal.source(1.0, "V")
        with pytest.raises(RuntimeError):
            async with cal.operating():
                assert cal_model.operating
                raise RuntimeError("procedure failed")
        assert not cal_model.operating


async def test_calibrator_goes_to_standby_on_close(serve, instrument, cal_model):
    async with serve(Calibrator5520Sim(cal_model), "visa") as (_, address):
        async with instrument("fluke-5520a", address) as cal:
            await cal.source(5.0, "V")
            await cal.operate()
            assert cal_model.operating
        assert not cal_model.operating


async def test_calibrator_error_queue_is_reported(serve, instrument, cal_model):
    async with serve(Calibrator5520Sim(cal_model), "visa") as (_, address), \
            instrument("fluke-5520a", address, options={"max_v": 2000}) as cal:
        with pytest.raises(InstrumentReportedError, match="1301"):
            await cal.source(1500.0, "V")  # beyond the instrument: it refuses and queues an error
        assert await cal.errors() == []


async def test_calibrator_refuses_output_beyond_configured_limit(serve, instrument, cal_model):
    async with serve(Calibrator5520Sim(cal_model), "visa") as (server, address), \
            instrument("fluke-5520a", address, options={"max_v": 100}) as cal:
        with pytest.raises(OutOfRange):
            await cal.source(150.0, "V")
        assert not any(c.startswith("OUT 150") for c in server.commands)


async def test_calibrator_high_voltage_forces_standby(serve, instrument, cal_model):
    async with serve(Calibrator5520Sim(cal_model), "visa") as (_, address), \
            instrument("fluke-5520a", address) as cal:
        await cal.source(10.0, "V")
        await cal.operate()
        await cal.source(100.0, "V")
        assert not await cal.is_operating()
        assert await cal.isr() & (1 << 7)  # HIVOLT


async def test_calibrator_timeout_and_recovery(serve, instrument, cal_model):
    async with serve(Calibrator5520Sim(cal_model), "visa") as (server, address), \
            instrument("fluke-5520a", address, timeout=0.3) as cal:
        await cal.identify()
        server.inject("no_reply")
        with pytest.raises(InstrumentTimeout):
            await cal.isr()
        await asyncio.sleep(0.35)
        assert (await cal.identify()).startswith("FLUKE")


async def test_dmm_reads_the_calibrator_output(serve, instrument, cal_model, dmm_model):
    async with serve(Calibrator5520Sim(cal_model), "visa", "cal") as (_, cal_address), \
            serve(Dmm344xxSim(dmm_model), "visa", "dmm") as (_, dmm_address), \
            instrument("fluke-5520a", cal_address) as cal, instrument("keysight-344xx", dmm_address) as dmm:
        assert "34465A" in await dmm.identify()
        await dmm.configure("VOLT:DC", 10, nplc=10)
        await cal.source(10.0, "V")
        async with cal.operating():
            await cal.wait_settled(timeout=5)
            reading = await dmm.read()
        assert reading.unit == "V" and reading.quantity == "voltage"
        assert reading.value == pytest.approx(10.0 * (1 + 5e-6) * (1 + 1e-5), abs=1e-6)


async def test_dmm_overload_and_bad_configuration(serve, instrument, cal_model, dmm_model):
    cal_model.program(10.0, "V", 0.0)
    cal_model.operate(True)
    async with serve(Dmm344xxSim(dmm_model), "visa") as (_, address), instrument("keysight-344xx", address) as dmm:
        await dmm.configure("VOLT:DC", 1)
        with pytest.raises(OverloadError):
            await dmm.read()
        with pytest.raises(InstrumentReportedError, match="-222"):
            await dmm.configure("VOLT:DC", 10, nplc=7)  # not an NPLC this meter has
        with pytest.raises(ValueError):
            await dmm.configure("TEMP")


async def test_dmm_garbage_reply(serve, instrument, dmm_model):
    async with serve(Dmm344xxSim(dmm_model), "visa") as (server, address), instrument("keysight-344xx", address) as dmm:
        await dmm.configure("VOLT:DC")
        server.inject("garbage")
        with pytest.raises(ProtocolError):
            await dmm.read()


async def test_the_dmm_budget_never_interpolates_across_the_calibrators_ranges():
    """5 V lies on the 33 V range, whose only certificate point is 10 V: no correction from the 1 V and 10 V
    points of two different ranges, but the calibrator's specification; 10 V takes its certificate point."""
    from .simlab import run_procedure, simulated
    async with simulated() as (config, instruments, lab, standards):
        outcome, _ = await run_procedure("dmm-calibration", {"points": "5,10", "repetitions": "3"}, lab=lab,
                                         instruments=instruments, standards=standards, config=config)
    five, ten = outcome.to_json()
    parts5 = {c["name"]: c for c in five["budget"]}
    parts10 = {c["name"]: c for c in ten["budget"]}
    assert five["reference"] == 5.0                                          # no correction borrowed
    assert parts5["calibrator specification"]["standard_uncertainty"] == pytest.approx(
        (12e-6 * 5 + 20e-6) / 3 ** 0.5)
    assert "no certificate point on this range" in parts5["calibrator specification"]["source"]
    assert ten["reference"] == pytest.approx(10.0000410)
    assert parts10["calibrator specification"]["standard_uncertainty"] == 0.0
    assert parts10["calibrator certificate"]["standard_uncertainty"] == pytest.approx(0.0000310 / 2)
    for name in ("thermal EMF", "calibrator noise", "calibrator temperature coefficient", "calibrator stability"):
        assert name in parts5
    # The stability has a floor: not a purely proportional term.
    assert parts5["calibrator stability"]["standard_uncertainty"] == pytest.approx((5e-6 * 5 + 1e-6) / 3 ** 0.5)


@pytest.mark.parametrize("transport", ["pty", "tcp"])        # on its serial port, or through a serial–LAN gateway
async def test_the_calibrator_in_term_mode_is_driven_through_its_echo_fault_lines_and_prompts(serve, instrument,
                                                                                            cal_model, transport):
    sim = Calibrator5520Sim(cal_model, mode="TERM")
    async with serve(sim, transport) as (server, address):
        async with instrument("fluke-5520a", address, options={"serial_mode": "term"}) as cal:
            assert (await cal.identify()).startswith("FLUKE,5520A")
            await cal.source(1.0, "V")
            await cal.operate()
            await cal.wait_settled(timeout=5)
            assert await cal.is_operating() and cal_model.operating
            assert await cal._send("BOGUS") == []                   # the fault line is read past, not taken as data
            assert await cal.errors() == ["1300: Bad syntax"]
            assert not cal_model.operating                           # that error forced standby, as on the real one
        assert not cal_model.operating
    assert sim.sequence > 5                                          # a prompt after every command


async def test_the_calibrator_simulator_in_term_mode_speaks_as_the_terminal_does(cal_model):
    """Echo, a fault line and the prompt `<n>> ` counting from 2 (MCUSH's F5520A driver checks the sequence)."""
    from labd.simulators.line_server import LineServer
    sim = Calibrator5520Sim(cal_model, mode="TERM")
    server = LineServer(sim, "cal")
    port = await server.start_tcp()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"*IDN?\r\n")
        first = await reader.readuntil(b"> ")
        writer.write(b"OUT 1 Q\r\n")
        second = await reader.readuntil(b"> ")
        writer.close()
    finally:
        await server.stop()
    assert first == b"*IDN?\r\nFLUKE,5520A,9205101,1.9+1.3+2.0+*\r\n2> "
    assert second == b"OUT 1 Q\r\nFault 1300: Bad syntax (REM)\r\n3> "


async def test_the_calibrator_answers_the_488_2_common_commands(cal_model):
    sim = Calibrator5520Sim(cal_model)
    for command, reply in (("*ESR?", "0"), ("*STB?", "0"), ("*OPC?", "1"), ("*WAI", None), ("*OPC", None),
                           ("*ESR?", "1"), ("*TST?", "0"), ("ERR?", '0,"No Error"')):
        assert await sim.handle(command, None) == reply, command
    await sim.handle("NONSENSE", None)
    assert await sim.handle("*STB?", None) == "4" and await sim.handle("FAULT?", None) == "1300"
    await sim.handle("*CLS", None)
    assert await sim.handle("ERR?", None) == '0,"No Error"'

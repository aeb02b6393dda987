"""MT-SICS balance driver against its simulator on a pseudo-terminal (and once over TCP)."""
from __future__ import annotations

import asyncio

import pytest
import serial

from labd.drivers import (BusyError, CommandRejected, Disconnected, InstrumentTimeout, OverloadError, ProtocolError,
                     UnderloadError)
from labd.simulators.devices.mt_sics import MtSicsBalanceSim
from labd.simulators.physics import BalanceModel


@pytest.fixture
def balance_model(clock, rng):
    return BalanceModel(clock, rng, capacity=220.0, d=0.0001, repeatability=0.00005, settle_time=4.0)


@pytest.fixture
def sim(balance_model):
    return MtSicsBalanceSim(balance_model, stability_timeout=30.0)


async def test_identify(serve, instrument, sim):
    async with serve(sim) as (_, address), instrument("mettler-sics", address) as bal:
        assert await bal.identify() == "Mettler Toledo XS205 Excellence 220.0000 g, serial 1126493049"


async def test_stable_weight_follows_the_load(serve, instrument, sim, balance_model):
    async with serve(sim) as (_, address), instrument("mettler-sics", address) as bal:
        balance_model.place(100.0)
        reading = await bal.weigh(stable=True)
        assert reading.stable is True and reading.unit == "g"
        assert reading.value == pytest.approx(100.0, abs=0.0005)


async def test_immediate_weight_is_dynamic_while_settling(serve, instrument, sim, balance_model):
    async with serve(sim) as (_, address), instrument("mettler-sics", address) as bal:
        balance_model.place(50.0)
        reading = await bal.weigh(stable=False)
        assert reading.stable is False
        assert reading.value < 50.0


async def test_zero_and_tare(serve, instrument, sim, balance_model):
    async with serve(sim) as (_, address), instrument("mettler-sics", address) as bal:
        balance_model.place(0.0012)
        await bal.zero()
        assert (await bal.weigh()).value == pytest.approx(0.0, abs=0.0004)
        balance_model.place(20.0)
        tare = await bal.tare()
        assert tare.value == pytest.approx(20.0, abs=0.0005)
        balance_model.place(5.0)
        assert (await bal.weigh()).value == pytest.approx(5.0, abs=0.0005)


async def test_overload_and_underload(serve, instrument, sim, balance_model):
    async with serve(sim) as (_, address), instrument("mettler-sics", address) as bal:
        balance_model.place(250.0)
        with pytest.raises(OverloadError) as exc:
            await bal.weigh()
        assert exc.value.raw == b"S +" and exc.value.instrument == "uut"
        balance_model.remove_all()
        balance_model.zero_offset = 10.0
        with pytest.raises(UnderloadError):
            await bal.weigh(stable=False)


async def test_stability_timeout_gives_busy(serve, instrument, sim, balance_model):
    balance_model.settle_time = 1e9  # never stable: the balance gives up after its own 30 s
    async with serve(sim) as (_, address), instrument("mettler-sics", address) as bal:
        balance_model.place(1.0)
        with pytest.raises(BusyError, match="not stable"):
            await bal.weigh()


async def test_streaming_until_cancelled(serve, instrument, sim, balance_model):
    sim.update_interval = 0.01
    async with serve(sim) as (_, address), instrument("mettler-sics", address) as bal:
        balance_model.place(10.0)
        seen = []
        async for reading in bal.stream():
            seen.append(reading)
            if len(seen) == 5:
                break
        assert all(r.unit == "g" for r in seen)
        # The stream was cancelled with `@`: the balance answers ordinary commands again.
        assert (await bal.weigh(stable=False)).unit == "g"
        await bal.cancel()


async def test_unknown_command_is_a_syntax_error(serve, instrument, sim):
    from labd.drivers.instruments.mettler_sics import check_status
    async with serve(sim) as (_, address), instrument("mettler-sics", address) as bal:
        with pytest.raises(CommandRejected) as exc:
            check_status("uut", await bal.line.query("XYZ"), "XYZ")
        assert exc.value.code == "ES"
        with pytest.raises(CommandRejected) as exc:  # a parameter it does not allow
            check_status("uut", await bal.line.query("D"), "D")
        assert exc.value.code == "L"


async def test_fault_busy(serve, instrument, sim):
    async with serve(sim) as (server, address), instrument("mettler-sics", address) as bal:
        server.inject("busy")
        with pytest.raises(BusyError):
            await bal.weigh(stable=False)
        assert (await bal.weigh(stable=False)).unit == "g"


async def test_fault_no_reply_times_out(serve, instrument, sim):
    async with serve(sim) as (server, address), instrument("mettler-sics", address, timeout=0.3) as bal:
        server.inject("no_reply")
        with pytest.raises(InstrumentTimeout) as exc:
            await bal.weigh(stable=False)
        assert exc.value.instrument == "uut"
        assert (await bal.weigh(stable=False)).unit == "g"  # the next command is not confused by the lost one


async def test_fault_garbage_is_a_protocol_error_with_raw_bytes(serve, instrument, sim):
    async with serve(sim) as (server, address), instrument("mettler-sics", address) as bal:
        server.inject("garbage")
        with pytest.raises((ProtocolError, CommandRejected)) as exc:
            await bal.weigh(stable=False)
        assert exc.value.raw


async def test_fault_disconnect_then_reconnect(serve, instrument, sim):
    async with serve(sim) as (server, address), instrument("mettler-sics", address, timeout=1.0) as bal:
        server.inject("disconnect", downtime=0.3)
        with pytest.raises((Disconnected, InstrumentTimeout)):
            await bal.weigh(stable=False)
        await asyncio.sleep(0.4)
        assert (await bal.weigh(stable=False)).unit == "g"


async def test_balance_over_tcp(serve, instrument, sim, balance_model):
    async with serve(sim, "tcp") as (_, address), instrument("mettler-sics", address) as bal:
        balance_model.place(42.0)
        assert (await bal.weigh()).value == pytest.approx(42.0, abs=0.0005)


async def test_plain_pyserial_client_gets_a_stable_weight(serve, sim, balance_model):
    """Done-when of issue 2: `S` + CR LF to the simulated balance gives `S S <value> g`."""
    balance_model.place(100.0)
    await asyncio.sleep(0.2)  # 4 s of simulated settling at ×50
    async with serve(sim) as (_, address):
        def exchange() -> bytes:
            with serial.Serial(address, 9600, timeout=5) as port:
                port.write(b"S\r\n")
                return port.readline()
        reply = await asyncio.to_thread(exchange)
    assert reply.startswith(b"S S ") and reply.endswith(b" g\r\n")
    value_field = reply[4:-4]
    assert len(value_field) == 10  # right-aligned in a 10-character field
    assert float(value_field) == pytest.approx(100.0, abs=0.0005)


async def test_level_0_and_1_commands_answer_in_the_real_reply_formats(serve, sim, balance_model):
    """I0 lists what is implemented (B lines, the last A); I3/I5/TA/TI/D/DW/I10 answer as MT-SICS says."""
    import serial as pyserial
    balance_model.place(20.0)
    await balance_model.clock.sleep(10)
    async with serve(sim, "pty") as (_, port):
        def talk() -> dict[str, list[str]]:
            link = pyserial.Serial(port, 9600, timeout=1.0)
            out = {}
            for command in ("I0", "I3", "I5", "TI", "TA", "TA 1.5 g", "TA 1.5 kg", "TAC", 'D "hello"', "D hello",
                            "DW", 'I10 "Bench 2"', "I10", "XYZ"):
                link.write(command.encode() + b"\r\n")
                lines = [link.readline().decode().rstrip("\r\n")]
                while command == "I0" and not lines[-1].startswith("I0 A"):
                    lines.append(link.readline().decode().rstrip("\r\n"))
                out[command] = lines
            link.close()
            return out
        got = await asyncio.to_thread(talk)
    assert got["I0"][0] == 'I0 B 0 "I0"' and got["I0"][-1] == 'I0 A 1 "I10"' and 'I0 B 1 "TA"' in got["I0"]
    assert got["I3"][0].startswith('I3 A "') and got["I5"][0].startswith('I5 A "')
    assert got["TI"][0].startswith("TI S ") and got["TI"][0].endswith(" g")
    assert got["TA 1.5 g"] == ["TA A     1.5000 g"] and got["TA 1.5 kg"] == ["TA L"] and got["TAC"] == ["TAC A"]
    assert got['D "hello"'] == ["D A"] and got["D hello"] == ["D L"] and got["DW"] == ["DW A"]
    assert got['I10 "Bench 2"'] == ["I10 A"] and got["I10"] == ['I10 A "Bench 2"'] and got["XYZ"] == ["ES"]

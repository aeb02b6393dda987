"""Modbus T/RH transmitter driver against a pymodbus server computing registers from the ambient model."""
from __future__ import annotations

import asyncio

import pytest
from pymodbus.client import AsyncModbusTcpClient

from labd.drivers import Disconnected, InstrumentError, InstrumentReportedError, InstrumentTimeout
from labd.drivers.instruments.modbus_ambient import REGISTER_MAPS, Register, decode, encode
from labd.simulators.modbus_ambient import ModbusAmbientSim
from labd.simulators.physics import AmbientModel


@pytest.fixture
async def ambient(clock, rng):
    model = AmbientModel(clock, rng, temperature=23.0, humidity=50.0)
    model.force(temperature=30.5, humidity=54.6)
    return model


@pytest.mark.parametrize("register_map", ["xy-md02", "vaisala-hmt330"])
async def test_reads_temperature_and_humidity(ambient, instrument, register_map):
    sim = ModbusAmbientSim(ambient, register_map=register_map)
    port = await sim.start()
    try:
        async with instrument("modbus-ambient", f"modbus-tcp://127.0.0.1:{port}?unit=1",
                              options={"register_map": register_map}) as sensor:
            readings = {r.quantity: r for r in await sensor.read()}
            assert readings["temperature"].value == pytest.approx(30.5, abs=1e-4)
            assert readings["humidity"].value == pytest.approx(54.6, abs=1e-4)
            assert readings["humidity"].unit == "%RH"
            assert register_map in await sensor.identify()
    finally:
        await sim.stop()


async def test_plain_pymodbus_client_reads_the_registers(ambient):
    """Done-when of issue 2: the XY-MD02 frames of INSTRUMENT-PROTOCOLS §7.1 (0x131 = 30.5 °C, 546 = 54.6 %RH)."""
    sim = ModbusAmbientSim(ambient)
    port = await sim.start()
    client = AsyncModbusTcpClient("127.0.0.1", port=port)
    try:
        await client.connect()
        reply = await client.read_input_registers(1, count=2, device_id=1)
        assert reply.registers == [0x0131, 0x0222]
    finally:
        client.close()
        await sim.stop()


async def test_custom_register_map_and_unknown_device(ambient, instrument):
    sim = ModbusAmbientSim(ambient)
    port = await sim.start()
    custom = [{"quantity": "temperature", "unit": "°C", "address": 1, "function": 4, "scale": 0.1}]
    try:
        async with instrument("modbus-ambient", f"modbus-tcp://127.0.0.1:{port}?unit=1",
                              options={"register_map": custom}) as sensor:
            assert [r.quantity for r in await sensor.read()] == ["temperature"]
        async with instrument("modbus-ambient", f"modbus-tcp://127.0.0.1:{port}?unit=7", timeout=0.5) as sensor:
            with pytest.raises(InstrumentError):
                await sensor.read()
        bad = [{"quantity": "temperature", "unit": "°C", "address": 500, "function": 4}]
        async with instrument("modbus-ambient", f"modbus-tcp://127.0.0.1:{port}?unit=1",
                              options={"register_map": bad}) as sensor:
            with pytest.raises(InstrumentReportedError) as exc:
                await sensor.read()
            assert exc.value.code == 2  # illegal data address
    finally:
        await sim.stop()


@pytest.mark.parametrize("fault", ["busy", "no_reply", "garbage"])
async def test_faults(ambient, instrument, fault):
    sim = ModbusAmbientSim(ambient)
    port = await sim.start()
    try:
        async with instrument("modbus-ambient", f"modbus-tcp://127.0.0.1:{port}?unit=1", timeout=0.5) as sensor:
            await sensor.read()
            sim.inject(fault)
            with pytest.raises(InstrumentError) as exc:
                await sensor.read()
            if fault == "busy":
                assert isinstance(exc.value, InstrumentReportedError) and exc.value.code == 6
            if fault == "no_reply":
                assert isinstance(exc.value, InstrumentTimeout)
            assert (await sensor.read())[0].value == pytest.approx(30.5)  # recovers
    finally:
        await sim.stop()


async def test_disconnect_and_reconnect(ambient, instrument):
    sim = ModbusAmbientSim(ambient)
    port = await sim.start()
    try:
        async with instrument("modbus-ambient", f"modbus-tcp://127.0.0.1:{port}?unit=1", timeout=0.5) as sensor:
            await sensor.read()
            sim.inject("disconnect", downtime=0.3)
            with pytest.raises((Disconnected, InstrumentTimeout)):
                await sensor.read()
            await asyncio.sleep(0.5)
            assert (await sensor.read())[0].value == pytest.approx(30.5)
    finally:
        await sim.stop()


def test_hmt330_float_word_order():
    # Indigo 520 example: bytes 7A E1 41 F4, least-significant word first → 30.56 %RH.
    reg = REGISTER_MAPS["vaisala-hmt330"][0]
    assert decode(reg, [0x7AE1, 0x41F4]) == pytest.approx(30.56, abs=1e-5)
    assert encode(reg, 30.56) == [0x7AE1, 0x41F4]


def test_xy_md02_negative_temperature():
    reg = Register("temperature", "°C", 1, 4, "int16", 0.1)
    assert decode(reg, [0xFF33]) == pytest.approx(-20.5)


async def test_rtu_over_a_pseudo_terminal(ambient, instrument, tmp_path):
    """Modbus RTU through the serial transport: pymodbus RTU server on one pty, the driver on the other."""
    sim = ModbusAmbientSim(ambient)
    path = await sim.start_rtu(tmp_path)
    try:
        async with instrument("modbus-ambient", f"modbus-rtu://{path}?unit=1", timeout=1.0) as sensor:
            readings = {r.quantity: r.value for r in await sensor.read()}
            assert readings == {"temperature": pytest.approx(30.5), "humidity": pytest.approx(54.6)}
            sim.inject("busy")
            with pytest.raises(InstrumentReportedError) as exc:
                await sensor.read()
            assert exc.value.code == 6
            sim.inject("no_reply")
            with pytest.raises(InstrumentTimeout):
                await sensor.read()
            assert (await sensor.read())[0].value == pytest.approx(30.5)  # the line recovers
    finally:
        await sim.stop()

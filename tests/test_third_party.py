"""Other people's drivers as clients of the simulators (issue 17): pymeasure's HP34401A and Agilent34410A drive
the 344xx simulator over a real VISA socket (pyvisa-py), sending what they send to real instruments. A simulator
that only labd's drivers can talk to proves little."""
from __future__ import annotations

import asyncio
import math
import warnings

import numpy as np
import pytest

from labd.simulators.devices.keysight_344xx import Dmm344xxSim
from labd.simulators.physics import CalibratorModel, MultimeterModel


@pytest.fixture
def dmm_model(clock, rng):
    calibrator = CalibratorModel(clock, rng, gain_error={"V": 0.0}, offset_error={"V": 0.0}, settle_time=0.0)
    calibrator.program(5.0, "V", 0.0)
    calibrator.operate(True)
    return MultimeterModel(rng, calibrator, gain_error=0.0, offset_error=0.0, noise=1e-9)


def _pymeasure(cls_path: str, address: str):
    import importlib
    module, _, name = cls_path.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    return cls(address, visa_library="@py", read_termination="\n", write_termination="\n", timeout=5000)


async def test_pymeasure_hp34401a_configures_triggers_and_reads_the_34465a_simulator(serve, dmm_model):
    async with serve(Dmm344xxSim(dmm_model), "visa") as (server, address):
        def use() -> dict:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")      # pymeasure's deprecation notes for the MEAS properties
                dmm = _pymeasure("pymeasure.instruments.hp.HP34401A", address)
                out = {"idn": dmm.id}
                dmm.function_ = "DCV"
                out["function"] = dmm.function_
                out["v"] = dmm.reading
                dmm.range_ = 10
                out["range"] = dmm.range_
                dmm.autorange = True
                out["autorange"] = dmm.autorange
                dmm.nplc = 1
                out["nplc"] = dmm.nplc
                dmm.autozero_enabled = False
                out["autozero"] = dmm.autozero_enabled
                dmm.trigger_source = "BUS"
                out["trigger_source"] = dmm.trigger_source
                dmm.trigger_count = 3
                dmm.sample_count = 2
                out["counts"] = (dmm.trigger_count, dmm.sample_count)
                dmm.init_trigger()
                out["armed"] = dmm.stored_readings_count        # nothing until the bus triggers come
                for _ in range(3):
                    dmm.write("*TRG")
                out["stored"] = dmm.stored_readings_count
                out["fetched"] = dmm.stored_reading
                out["terminals"] = dmm.terminals_used
                out["scpi"] = dmm.scpi_version
                dmm.displayed_text = "labd sim"
                out["text"] = dmm.displayed_text
                out["errors"] = dmm.check_errors() if hasattr(dmm, "check_errors") else []
                dmm.adapter.close()
                return out
        got = await asyncio.to_thread(use)
    assert got["idn"].startswith("Keysight Technologies,34465A")
    assert got["v"] == pytest.approx(5.0, abs=1e-6)
    assert got["function"] == "DCV" and got["range"] == pytest.approx(10) and got["autorange"] is True
    assert got["nplc"] == pytest.approx(1) and got["autozero"] is False and got["trigger_source"] == "BUS"
    assert [float(x) for x in got["counts"]] == [3.0, 2.0]
    assert float(got["armed"]) == 0
    assert float(got["stored"]) == 6 and len(np.atleast_1d(got["fetched"])) == 6
    assert got["terminals"] == "FRONT" and got["text"] == "labd sim"
    assert not server.device.errors, server.device.errors


async def test_pymeasure_agilent34410a_measures_every_function_it_knows(serve, dmm_model):
    async with serve(Dmm344xxSim(dmm_model), "visa") as (server, address):
        def use() -> list[float]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)    # pymeasure: "whether this device supports SCPI"
                dmm = _pymeasure("pymeasure.instruments.agilent.Agilent34410A", address)
            values = [dmm.voltage_dc, dmm.voltage_ac, dmm.current_dc, dmm.current_ac, dmm.resistance,
                      dmm.resistance_4w]
            dmm.adapter.close()
            return values
        values = await asyncio.to_thread(use)
    assert values[0] == pytest.approx(5.0, abs=1e-6)
    assert all(isinstance(v, float) and math.isfinite(v) for v in values)
    assert not server.device.errors, server.device.errors


async def test_mettler_toledo_device_reads_identity_weights_zero_and_tare_from_the_mt_sics_simulator(serve, clock,
                                                                                                      rng):
    from labd.simulators.devices.mt_sics import MtSicsBalanceSim
    from labd.simulators.physics import BalanceModel
    balance = BalanceModel(clock, rng, capacity=220.0, d=0.0001, repeatability=0.0, settle_time=0.0)
    balance.place(100.0)
    async with serve(MtSicsBalanceSim(balance), "pty") as (server, port):
        def use() -> dict:
            import mettler_toledo_device as mtd
            mtd.MettlerToledoDevice._RESET_DELAY = 0.0                    # its start-up pause: not needed here
            dev = mtd.MettlerToledoDevice(port=port, timeout=2.0)
            try:
                out = {"level": dev.get_mtsics_level(), "data": dev.get_balance_data(),
                       "version": dev.get_software_version(), "serial": dev.get_serial_number(),
                       "id": dev.get_software_id(), "stable": dev.get_weight_stable(), "now": dev.get_weight()}
                try:                                   # 100 g on the pan is beyond the zero range: ZI +
                    dev.zero()
                except mtd.MettlerToledoError as exc:
                    out["loaded_zero"] = str(exc)
                balance.remove_all()
                out["zero"] = dev.zero()
                return out
            finally:
                dev.close()
        got = await asyncio.to_thread(use)
    assert got["serial"] == "1126493049" and got["level"][0] == "01" and got["id"] == "1.2.3.4.5"
    assert got["data"][-1] == "g" and got["version"]
    assert got["stable"] == [pytest.approx(100.0, abs=1e-3), "g"]
    assert got["now"][0] == pytest.approx(100.0, abs=1e-3) and got["now"][-1] in ("S", "D")
    assert "Upper limit of zero setting range" in got["loaded_zero"] and got["zero"] in ("S", "D")


async def test_pymeasure_fluke7341_sets_and_reads_the_classic_hart_simulator_on_a_serial_line(serve, clock, rng):
    from labd.simulators.devices.temperature_sources import HartClassicSim
    from labd.simulators.physics import ThermalBlock
    block = ThermalBlock(clock, rng, tau=20.0, noise=0.001)
    async with serve(HartClassicSim(block, model="7341", firmware="1.00", duplex_full=False), "pty") as (_, port):
        def use() -> dict:
            from pymeasure.instruments.fluke import Fluke7341
            bath = Fluke7341(f"ASRL{port}::INSTR", visa_library="@py")
            out = {"id": bath.id}
            bath.set_point = 37.5
            out["set_point"] = bath.set_point
            out["temperature"] = bath.temperature
            bath.adapter.close()
            return out
        got = await asyncio.to_thread(use)
    assert got["id"] == "Fluke,7341,NA,1.00"
    assert got["set_point"] == pytest.approx(37.5) and block.set_point == pytest.approx(37.5)
    assert 10 < got["temperature"] < 60


async def test_minimalmodbus_reads_the_ambient_transmitter_simulator_over_rtu(tmp_path, clock, rng):
    """XY-MD02 map: input registers 1 and 2 (function 4), temperature and humidity ×10, signed."""
    from labd.simulators.modbus_ambient import ModbusAmbientSim
    from labd.simulators.physics import AmbientModel
    room = AmbientModel(clock, rng, temperature=27.5, humidity=61.0, swing=0.0, wander=0.0)
    sim = ModbusAmbientSim(room)
    path = await sim.start_rtu(tmp_path)
    try:
        def use() -> tuple[float, float]:
            import minimalmodbus
            sensor = minimalmodbus.Instrument(path, 1)
            sensor.serial.baudrate, sensor.serial.timeout = 9600, 1.0
            try:
                return (sensor.read_register(1, 1, functioncode=4, signed=True),
                        sensor.read_register(2, 1, functioncode=4))
            finally:
                sensor.serial.close()
        temperature, humidity = await asyncio.to_thread(use)
    finally:
        await sim.stop()
    assert temperature == pytest.approx(27.5, abs=0.1) and humidity == pytest.approx(61.0, abs=0.1)


async def test_qcodes_keysight34465a_initialises_and_drives_the_34465a_simulator(serve, dmm_model):
    """QCoDeS asks *OPT? and SYST:LFR? at init (it failed there before), then the SENSe and TRIGger trees."""
    async with serve(Dmm344xxSim(dmm_model), "visa") as (server, address):
        def use() -> dict:
            from qcodes.instrument_drivers.Keysight import Keysight34465A
            dmm = Keysight34465A("sim_dmm", address, visalib="@py", terminator="\n")
            try:
                out = {"idn": dmm.IDN(), "dig": dmm.has_DIG, "mem": dmm.has_MEM, "v": dmm.volt()}
                dmm.NPLC(1)
                dmm.autorange("OFF")
                dmm.range(10)
                dmm.autozero("OFF")
                dmm.trigger.source("BUS")
                dmm.sample.count(3)
                dmm.display.text("labd")
                out.update(nplc=dmm.NPLC(), autorange=dmm.autorange(), range=dmm.range(),
                           autozero=dmm.autozero(), source=dmm.trigger.source(), count=dmm.sample.count(),
                           text=dmm.display.text(), function=dmm.sense_function())
                dmm.sense_function("4 Wire Resistance")
                out["resistance_function"] = dmm.sense_function()
                return out
            finally:
                dmm.close()
        got = await asyncio.to_thread(use)
    assert got["idn"]["model"] == "34465A" and got["dig"] and got["mem"]
    assert got["v"] == pytest.approx(5.0, abs=1e-6)
    assert got["nplc"] == 1 and got["autorange"] == "OFF" and got["range"] == 10 and got["autozero"] == "OFF"
    assert got["source"] == "BUS" and got["count"] == 3 and got["text"] == "labd"
    assert got["function"] == "DC Voltage" and got["resistance_function"] == "4 Wire Resistance"
    assert not server.device.errors, server.device.errors

"""The SCPI core of the simulators (issue 17, item 1): IEEE 488.2 common commands and status, SCPI long and
short forms, compound messages, DEF/MIN/MAX, and the error queue with its standard numbers, as a real instrument
answers any client; here through the 34465A simulator."""
from __future__ import annotations

import pytest

from labd.simulators.devices.keysight_344xx import Dmm344xxSim
from labd.simulators.physics import MultimeterModel
from labd.simulators.scpi import compile_header


@pytest.fixture
def dmm(rng):
    return Dmm344xxSim(MultimeterModel(rng, None, gain_error=0.0, offset_error=0.0, noise=1e-9))


async def ask(dev, line):
    return await dev.handle(line, None)


@pytest.mark.parametrize("text", ["VOLT:NPLC", "volt:nplc", "SENS:VOLT:DC:NPLC", ":SENSE:VOLTAGE:DC:NPLCYCLES",
                                  "Sense:Voltage:Nplc"])
def test_headers_match_in_short_and_long_forms_in_any_case(text):
    assert compile_header("[SENSe:]VOLTage[:DC]:NPLCycles").match(text.upper())


@pytest.mark.parametrize("text", ["VOLTA:NPLC", "VOL:NPLC", "SENS:VOLT:DC:NPL", "VOLT:DC:NPLC:X"])
def test_headers_refuse_partial_mnemonics(text):
    assert not compile_header("[SENSe:]VOLTage[:DC]:NPLCycles").match(text.upper())


async def test_common_commands_and_the_status_system(dmm):
    assert (await ask(dmm, "*IDN?")).startswith("Keysight Technologies,34465A,MY57800123,")
    assert await ask(dmm, "*OPC?") == "1" and await ask(dmm, "*TST?") == "0" and await ask(dmm, "*OPT?") == "DIG,MEM"
    assert await ask(dmm, "*ESR?") == "0" and await ask(dmm, "*STB?") == "0"
    await ask(dmm, "*ESE 60")
    await ask(dmm, "*SRE 32")
    assert await ask(dmm, "*ESE?") == "60" and await ask(dmm, "*SRE?") == "32"
    await ask(dmm, "BOGUS:HEADER")                      # a command error: -113, CME (bit 5) in the ESR
    assert int(await ask(dmm, "*STB?")) == 4 | 32 | 64  # error queue, ESB (enabled), MSS (SRE has ESB)
    assert await ask(dmm, "*ESR?") == "32" and await ask(dmm, "*ESR?") == "0"   # reading clears it
    await ask(dmm, "*OPC")
    assert await ask(dmm, "*ESR?") == "1"
    await ask(dmm, "*CLS")                              # clears the queue and the status
    assert await ask(dmm, "SYST:ERR?") == '+0,"No error"' and await ask(dmm, "*STB?") == "0"
    assert await ask(dmm, "*WAI") is None


async def test_the_error_queue_keeps_the_standard_numbers_and_overflows_as_488_2_says(dmm):
    await ask(dmm, "VOLT:NPLC 7")                       # not one of 0.02 … 100
    await ask(dmm, "VOLT:NPLC banana")
    await ask(dmm, "FUNC VOLT")                         # unquoted where a string is expected
    assert await ask(dmm, "SYST:ERR?") == '-222,"Data out of range"'
    assert await ask(dmm, "SYSTem:ERRor:NEXT?") == '-224,"Illegal parameter value"'
    assert await ask(dmm, "syst:err?") == '-104,"Data type error"'
    for _ in range(25):
        await ask(dmm, "NOPE")
    errors = [await ask(dmm, "SYST:ERR?") for _ in range(21)]
    assert errors[18] == '-113,"Undefined header"' and errors[19] == '-350,"Queue overflow"'
    assert errors[20] == '+0,"No error"'


async def test_compound_messages_continue_from_the_last_path_and_answer_together(dmm):
    reply = await ask(dmm, "SENS:VOLT:DC:RANG 1;NPLC 100;:TRIG:COUN 2;:SAMP:COUN?;*IDN?;:VOLT:NPLC?")
    first, idn, nplc = reply.split(";")
    assert first == "+1" and idn.startswith("Keysight") and float(nplc) == 100
    assert float(await ask(dmm, "VOLT:RANG?")) == 1 and float(await ask(dmm, "TRIG:COUN?")) == 2


async def test_min_max_def_and_the_measurement_subsystem(dmm):
    await ask(dmm, "VOLT:NPLC MAX")
    assert float(await ask(dmm, "VOLT:NPLC?")) == 100
    await ask(dmm, "VOLT:NPLC MIN")
    assert float(await ask(dmm, "VOLT:NPLC?")) == 0.02
    await ask(dmm, "CONF:RES 1E4")
    assert await ask(dmm, "FUNC?") == '"RES"' and (await ask(dmm, "CONF?")).startswith('"RES +1.000000E+04,')
    await ask(dmm, 'FUNC "VOLT:AC"')
    assert await ask(dmm, "FUNC?") == '"VOLT:AC"'
    assert len((await ask(dmm, "MEAS:VOLT:DC? DEF,DEF")).split(",")) == 1
    await ask(dmm, "SAMP:COUN 4;:INIT")
    assert await ask(dmm, "DATA:POIN?") == "+4" and len((await ask(dmm, "FETC?")).split(",")) == 4
    assert await ask(dmm, "ROUT:TERM?") == "FRON" and await ask(dmm, "SYST:LFR?") == "+50"
    assert await ask(dmm, "SYST:VERS?") == "1994.0"
    await ask(dmm, 'DISP:TEXT "HELLO, LAB"')
    assert await ask(dmm, "DISP:TEXT?") == '"HELLO, LAB"'
    await ask(dmm, "DISP:TEXT:CLE")
    assert await ask(dmm, "DISP:TEXT?") == '""'
    await ask(dmm, "*RST")
    assert await ask(dmm, "FUNC?") == '"VOLT"'
    assert await ask(dmm, "SYST:ERR?") == '+0,"No error"'


async def test_a_bus_trigger_waits_for_trg(dmm):
    await ask(dmm, "TRIG:SOUR BUS;COUN 2;:SAMP:COUN 3;:INIT")
    assert await ask(dmm, "DATA:POIN?") == "+0"
    await ask(dmm, "*TRG")
    assert await ask(dmm, "DATA:POIN?") == "+3"
    await ask(dmm, "FETC?")                              # one trigger still to come: no answer yet
    assert await ask(dmm, "SYST:ERR?") == '-230,"Data corrupt or stale"'
    await ask(dmm, "*TRG")
    assert len((await ask(dmm, "FETC?")).split(",")) == 6
    await ask(dmm, "*TRG")                               # not armed any more
    await ask(dmm, "READ?")                              # READ? with a bus trigger can never complete
    assert await ask(dmm, "SYST:ERR?") == '-211,"Trigger ignored"'
    assert await ask(dmm, "SYST:ERR?") == '-214,"Trigger deadlock"'

"""Each simulator against the examples its instrument's manual prints (issue 17, "Done when"): the command as the
manual gives it, the reply byte for byte (terminators included) as a pattern, and where the example was read.
A manual example shows one instrument's numbers; the pattern keeps its form exactly and its numbers where the
simulated instrument can be set to them.

Sources (../shared/protocols/INSTRUMENT-PROTOCOLS.md gives the pages and marks):
- 1529: Hart 1529 Chub-E4 Technical Guide §8 (manualsdump 1529, pp. 90–105).
- Hart classic: 9140 manual p.41, 9141 manual p.37 (duplex note), pymeasure's captured Fluke7341 exchanges.
- MT-SICS: MT AT/AL/JS manual pages (`S S     100.00 g`), mp49's StreamDevice file tested on an ML4002E,
  janelia's README outputs (XS204).
- 5520A: 5522A Operators Manual p.6-38 (SP_SET?), p.5-41 (ISR bits); 5500A reference (`FLUKE,5500A,…`).
- 34401A/34465A: pymeasure's HP34401A (quoted FUNC?, FRON/REAR), the Keysight DMM guide's error strings.
"""
from __future__ import annotations

import asyncio
import re

import pytest

from labd.simulators.devices.fluke_1529 import Readout1529Sim
from labd.simulators.devices.fluke_5520a import Calibrator5520Sim
from labd.simulators.devices.keysight_344xx import Dmm344xxSim
from labd.simulators.devices.mt_sics import MtSicsBalanceSim
from labd.simulators.devices.temperature_sources import HartClassicSim, ScpiWellSim
from labd.simulators.physics import BalanceModel, CalibratorModel, MultimeterModel, Probe, ThermalBlock

NUMBER = r"-?\d+\.\d+"


async def exchange(address: str, commands: list[str], terminator: bytes = b"\r\n") -> list[bytes]:
    """Send each command over TCP; collect every byte that comes back until the line goes quiet."""
    host, port = address.removeprefix("tcp://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    replies = []
    try:
        for command in commands:
            writer.write(command.encode() + terminator)
            await writer.drain()
            got = b""
            while True:
                try:
                    got += await asyncio.wait_for(reader.read(4096), 0.25)
                except asyncio.TimeoutError:
                    break
            replies.append(got)
    finally:
        writer.close()
    return replies


def check(replies: list[bytes], expected: list[str | None]) -> None:
    for got, pattern in zip(replies, expected, strict=True):
        if pattern is None:
            assert got == b"", got
        else:
            assert re.fullmatch(pattern.encode(), got, re.S), (pattern, got)


@pytest.fixture
def block(clock, rng):
    b = ThermalBlock(clock, rng, tau=1.0, noise=0.0)
    b.output(True)
    return b


async def test_1529_examples(serve, clock, rng, block):
    readout = Readout1529Sim(clock, {1: Probe(block, (0.0,), 0.0, rng), 2: Probe(block, (0.0,), 0.0, rng)},
                             probe_serials={1: "PRT_A46"}, sample_period=1e6)
    async with serve(readout, "tcp") as (_, address):
        check(await exchange(address, [
            "FETC? 1",                          # p.93: the value alone while FORM:STAM is OFF (its power-up state)
            "FORM:STAM ON", "FETC? 2", "FETC? 2",   # p.93: new,channel,value,unit,hh,mm,ss,yyyy,m,d; then 0
            "FORMAT:STAMP?",                    # long form of the same header (p.92: long and short forms)
            "SENS1:DATA?",                      # p.96: `100.0291, 0.0000`
            "CAL1:DATE:CAL?",                   # p.105: `2000,9,22`
            "CALC2:CONV:PAR:VAL R0,100.01059",  # a probe whose R(0.01 °C) is 100.0145 Ω, as in the example below
            "CALC2:CONV:TEST? 100.0145",        # p.105: `0.0100`
            "CALC1:CONV:SNUM?",                 # p.105: the probe's serial, up to eight characters
            "SYST:PASS:CONV?",                  # p.105: 0, the probe settings are not protected
            "FETC? 1;FETC? 2",                  # p.90: no compound commands
            "SYST:ERR?",
        ]), [
            rf"{NUMBER}\r\n", None, rf"1,2,{NUMBER},C,\d{{1,2}},\d{{1,2}},\d{{1,2}},\d{{4}},\d{{1,2}},\d{{1,2}}\r\n",
            rf"0,2,{NUMBER},C,[\d,]+\r\n", r"1\r\n", r"\d{3}\.\d{4}, 0\.0000\r\n", r"\d{4},\d{1,2},\d{1,2}\r\n", None,
            r"0\.0100\r\n", r'"PRT_A46"\r\n', r"0\r\n", None, r'-113,"Undefined header"\r\n',
        ])


async def test_hart_classic_examples(serve, block):
    well = HartClassicSim(block, model="7341", firmware="1.00", duplex_full=False)
    async with serve(well, "tcp") as (_, address):
        check(await exchange(address, ["*ver", "s=150", "s", "t", "u", "u=f", "u", "s", "u=c",
                                       "lf=of", "u", "lf=on", "du=f", "s"]), [
            r"ver\.7341,1\.00\r\n",             # pymeasure: `ver.7341,1.00`
            None, r"set: 150\.00 C\r\n",        # pymeasure: `s=150` gets nothing, `s` → `set: 150.00 C`
            rf"t: {NUMBER} C\r\n",              # pymeasure: `t: 55.69 C`
            r"u: C\r\n", None, r"u: F\r\n",     # pymeasure: `u` → `u: C`; `u=c|f` gets nothing
            r"set: 302\.00 F\r\n", None,
            None, r"u: C\r",                    # 9102S p.25: with linefeed off a reply ends with CR alone
            None, None,
            r"s\r\nset: 150\.00 C\r\n",         # 9141 p.37: in full duplex the command comes back, CR LF, the value
        ])


async def test_mt_sics_examples(serve, clock, rng):
    model = BalanceModel(clock, rng, capacity=220.0, d=0.01, repeatability=0.0, settle_time=0.1, settle_tau=0.01)
    balance = MtSicsBalanceSim(model, serial="1126493049", type_text="XS204 Excellence")
    model.place(100.0)
    await clock.sleep(5)
    async with serve(balance, "tcp") as (_, address):
        check(await exchange(address, ["S", "SI", "I4", "I2", "@", "Z", "TAC", "DW", "XYZ", "S X"]), [
            r"S S     100\.00 g\r\n",           # MT manual page: `S S     100.00 g` (value right-aligned in 10)
            r"S S     100\.00 g\r\n",           # mp49: SI answers with the ID `S`
            r'I4 A "1126493049"\r\n',           # mp49, janelia: the serial, quoted
            r'I2 A "XS204 Excellence 220\.\d+ g"\r\n',   # janelia (XS204): `I2 A "XS204 Excellence 220.0090 g"`
            r'I4 A "1126493049"\r\n',           # mp49: `@` answers as I4 does
            r"Z \+\r\n",                       # janelia: `+`, the zero range exceeded (100 g is on the pan)
            r"TAC A\r\n", r"DW A\r\n",                # InstrumentKit / pylabrobot
            r"ES\r\n", r"ES\r\n",               # an unknown command, and S with a parameter, are syntax errors
        ])


async def test_5520a_examples(serve, clock, rng):
    calibrator = Calibrator5520Sim(CalibratorModel(clock, rng, settle_time=0.0), serial="7215002", mode="TERM")
    async with serve(calibrator, "tcp") as (_, address):
        check(await exchange(address, ["SP_SET?", "*IDN?", "OUT 10 V, 0 HZ", "OPER", "ISR?", "BOGUS",
                                       "SP_SET 9600,COMP,XON,DBIT8,SBIT1,PNONE,CRLF", "SP_SET?"]), [
            r"SP_SET\?\r\n9600,TERM,XON,DBIT8,SBIT1,PNONE,CRLF\r\n2> ",     # p.6-38: the factory default, TERM
            r"\*IDN\?\r\nFLUKE,5520A,7215002,[\d.+*]+\r\n3> ",              # 5500A: `FLUKE,5500A,7215002,2.4+1.3+2.0+*`
            r"OUT 10 V, 0 HZ\r\n4> ", r"OPER\r\n5> ",
            r"ISR\?\r\n\d+\r\n6> ",
            r"BOGUS\r\nFault 1300: Bad syntax \(REM\)\r\n7> ",              # MCUSH: the fault line, then the prompt
            r"SP_SET 9600,COMP,XON,DBIT8,SBIT1,PNONE,CRLF\r\n",      # [U]: COMP from here, so no prompt
            r"9600,COMP,XON,DBIT8,SBIT1,PNONE,CRLF\n",                      # COMP: no echo, no prompt
        ])
        isr = int((await exchange(address, ["OPER", "ISR?"], b"\n"))[1])    # BOGUS put it in standby
        assert isr & 1 and isr & (1 << 11) and not isr & (1 << 7)            # p.5-41: OPER, REMOTE, not HIVOLT


async def test_34401a_and_34465a_examples(serve, rng):
    dmm = Dmm344xxSim(MultimeterModel(rng, None, gain_error=0.0, offset_error=0.0, noise=1e-9))
    async with serve(dmm, "tcp") as (_, address):
        check(await exchange(address, ['FUNC "VOLT"', "FUNC?", "ROUT:TERM?", "MEAS:VOLT:DC? DEF,DEF", "SYST:ERR?",
                                       "BOGUS", "SYST:ERR?", "*IDN?"], b"\n"), [
            None, r'"VOLT"\n',                  # pymeasure: FUNC? is quoted
            r"FRON\n",                          # pymeasure: FRON or REAR
            r"[-+]\d\.\d{8,9}E[-+]\d{2}\n",     # the 344xx reading format, `+1.23456789E+00`
            r'\+0,"No error"\n', None, r'-113,"Undefined header"\n',       # Keysight DMM guide
            r"Keysight Technologies,34465A,\w+,A\.\d\d\.\d\d-[\d.-]+\n",
        ])


async def test_scpi_well_examples(serve, block, rng):
    well = ScpiWellSim(block, reference_probe=Probe(block, (0.0,), 0.0, rng))
    async with serve(well, "tcp") as (_, address):
        check(await exchange(address, ["*RST", "OUTP:STAT?", "SOUR:SPO 150", "SOUR:SPO?", "SOUR:STAB:TEST?",
                                       "SOUR:SENS:DATA? TEMP", "SOUR:SENS:DATA? RES", "READ?", "SENS1:DATA?",
                                       "*CLS", "SYST:ERR?"], b"\r"), [
            None, r"0\r\n",                     # lab-app checklist: the output is off after *RST
            None, r"150\.000\r\n",              # driver evidence: a bare number
            r"[01]\r\n", rf"{NUMBER}\r\n", r"\d{3}\.\d{4}\r\n",
            rf"{NUMBER}\r\n", r"\d{3}\.\d{5}\r\n",         # the process option: reference temperature, resistance
            None, r'0,"No error"\r\n',
        ])

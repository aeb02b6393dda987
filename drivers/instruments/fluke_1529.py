"""Fluke/Hart 1529 Chub-E4 class thermometer readout (SCPI-like, serial or VISA).

At open the driver switches on the extended reading format (`FORM:STAM ON`, reset at power-up), so that
`FETC? <ch>` answers `new,channel,value,unit,hh,mm,ss,yyyy,m,d` and every reading carries its unit. A reading
whose new flag is 0 was read before: the driver waits for the channel's next one, so polling faster than a
channel updates never records the same reading twice.
"""
from __future__ import annotations

import asyncio
import time
from datetime import date

from ..errors import InstrumentTimeout, ProtocolError
from ..kinds import ProbeInfo, Reading, ThermometerReadout
from ..transport import LineSettings
from pydantic import Field

from .base import Driver, DriverOptions, parse_number


class Fluke1529Options(DriverOptions):
    channel: int = Field(default=1, ge=1, le=4)            # the channel `temperature()` reads by default
    channels: list[int] = Field(default_factory=list)      # the channels a sample reads (default: `channel`)
    # A reading is recorded once: when the channel has not taken a new one since it was last read (the new-reading
    # flag is 0), the driver asks again every `fresh_poll` s, for up to `fresh_timeout` s.
    fresh_timeout: float = Field(default=10.0, gt=0)
    fresh_poll: float = Field(default=0.05, gt=0)

UNITS = {"C": "°C", "F": "°F", "K": "K", "O": "Ω", "OHM": "Ω", "MV": "mV", "V": "V", "R": "ratio"}
QUANTITIES = {"°C": "temperature", "°F": "temperature", "K": "temperature", "Ω": "resistance",
              "mV": "voltage", "V": "voltage", "ratio": "ratio"}


def is_new(line: str) -> bool:
    """The stamped reading's new-reading flag (1: not read before; 0: the same reading again)."""
    return line.split(",", 1)[0].strip() == "1"


def parse_stamped(instrument: str, line: str) -> Reading:
    """`1,2,25.0011,C,14,5,35,2000,9,5` → Reading(temperature, 25.0011, °C, channel=2)."""
    raw = line.encode("utf-8", "replace")
    fields = [f.strip() for f in line.split(",")]
    if len(fields) != 10:
        raise ProtocolError(instrument, "expected 10 fields in a stamped reading", raw)
    if fields[0] not in ("0", "1") or not fields[1].isdigit():
        raise ProtocolError(instrument, "bad new-flag or channel in stamped reading", raw)
    unit = UNITS.get(fields[3].upper())
    if unit is None:
        raise ProtocolError(instrument, f"unknown unit {fields[3]!r}", raw)
    value = parse_number(instrument, fields[2])
    return Reading(QUANTITIES[unit], value, unit, channel=int(fields[1]), raw=line)


def parse_cal_date(instrument: str, line: str) -> date:
    """`2000,9,22` → date(2000, 9, 22)."""
    try:
        y, m, d = (int(p) for p in line.split(","))
        return date(y, m, d)
    except (ValueError, TypeError):
        raise ProtocolError(instrument, "bad calibration date", line.encode("utf-8", "replace")) from None


class Fluke1529Readout(Driver, ThermometerReadout):
    Options = Fluke1529Options
    kind = "thermometer-readout"
    model = "Fluke/Hart 1529"
    line_settings = LineSettings(write_termination="\r", read_termination="\n", timeout=2.0)

    @property
    def default_channel(self) -> int:
        return self.options.channel

    async def open(self) -> None:
        await super().open()
        await self.line.write("FORM:STAM ON")

    async def read(self, channel: int | None = None) -> Reading:
        ch = self.default_channel if channel is None else channel
        if not 1 <= ch <= 4:
            raise ValueError(f"1529 channel must be 1..4, not {ch}")
        deadline = time.monotonic() + self.options.fresh_timeout
        while True:
            reply = await self.line.query(f"FETC? {ch}")
            if "," not in reply and reply.strip():
                # A bare value: the readout lost the stamped format (power cycle). Switch it back on, ask again.
                parse_number(self.id, reply)
                await self.line.write("FORM:STAM ON")
                reply = await self.line.query(f"FETC? {ch}")
            reading = parse_stamped(self.id, reply)
            if reading.channel != ch:
                raise ProtocolError(self.id, f"asked channel {ch}, got channel {reading.channel}",
                                    reading.raw.encode())
            if is_new(reply):
                return reading
            if time.monotonic() > deadline:
                raise InstrumentTimeout(self.id, f"channel {ch} took no new reading within "
                                                 f"{self.options.fresh_timeout:g} s")
            await asyncio.sleep(self.options.fresh_poll)

    async def probe(self, channel: int) -> ProbeInfo:
        # The probe's serial number names it, and the conversion type says how it is read. Both are in the
        # manual's probe command group (§8.4.4, p.105), but neither mnemonic (CALC<n>:CONV:SNUM?, CALC<n>:CONV:NAME?)
        # is confirmed (INSTRUMENT-PROTOCOLS §3.1, [U]).
        serial = (await self.line.query(f"CALC{channel}:CONV:SNUM?")).strip().strip('"')
        conversion = (await self.line.query(f"CALC{channel}:CONV:NAME?")).strip().strip('"')
        cal = parse_cal_date(self.id, await self.line.query(f"CAL{channel}:DATE:CAL?"))
        return ProbeInfo(channel, serial, cal, {"conversion": conversion})

    async def sample(self) -> list[Reading]:
        channels = self.options.channels or [self.default_channel]
        return [await self.read(int(ch)) for ch in channels]

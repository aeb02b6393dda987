"""ACME T-100 digital thermometer: ASCII over RS-232 or a serial-to-LAN server, commands ending in CR,
replies ending in CR LF.

    *IDN?   ->  ACME,T-100,<serial>,<firmware>
    MEAS?   ->  T=+23.456 C        (a reading in degrees Celsius)
            ->  ERR 2              (no probe)
"""
from __future__ import annotations

import re

from pydantic import Field

from labd.drivers import Driver, DriverOptions, ProtocolError, Reading
from labd.drivers.errors import InstrumentReportedError
from labd.drivers.transport import LineSettings

READING = re.compile(r"T=([-+]\d+\.\d+) C")


def parse_reading(instrument: str, reply: str) -> float:
    """The temperature in a MEAS? reply.

    >>> parse_reading("t", "T=+23.456 C")
    23.456
    >>> parse_reading("t", "T=-0.010 C")
    -0.01
    """
    text = reply.strip()
    if text.startswith("ERR"):
        raise InstrumentReportedError(instrument, f"instrument error {text[3:].strip()}")
    m = READING.fullmatch(text)
    if m is None:
        raise ProtocolError(instrument, "expected T=<value> C", reply.encode())
    return float(m[1])


class AcmeT100Options(DriverOptions):
    offset: float = Field(default=0.0, description="°C added to every reading (a fixed probe correction)")


class AcmeT100(Driver):
    kind = "thermometer"
    model = "ACME T-100"
    line_settings = LineSettings(write_termination="\r", read_termination="\r\n", timeout=2.0)
    Options = AcmeT100Options

    async def temperature(self) -> Reading:
        reply = await self.line.query("MEAS?")
        value = parse_reading(self.id, reply) + self.options.offset
        return Reading("temperature", value, "°C", raw=reply)

    async def sample(self) -> list[Reading]:
        return [await self.temperature()]

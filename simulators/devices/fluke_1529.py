"""Fluke/Hart 1529 Chub-E4 thermometer readout (SCPI-like), on the SCPI core (simulators/scpi.py).

Sources (../shared/protocols/INSTRUMENT-PROTOCOLS.md §3.1, marks as there):
- `FETCh? [<chn>]`, `MEASure? [<chn>]`, `READ? [<chn>]`: the latest value of the channel [C] manual p.93, 96.
- `FORMat:STAMp ON|OFF` (reset to OFF at power-up) and then `new,channel,value,unit,hh,mm,ss,yyyy,m,d`, where
  new is 1 for a reading not yet read and 0 for one already read [C] p.93. Each channel takes a new reading
  every `sample_period` (simulated) seconds.
- `SENSe<n>:DATA?` → the raw input, `100.0291, 0.0000` (ohms for a PRT) [C] p.96.
- `STATus:MEASurement?` → a bit per channel with a new reading [C] (mentioned p.93).
- `CALCulate<n>:CONVersion:NAME?` [U], `CALibrate<n>:DATE:CALibrate?` → `2000,9,22` [C] p.105,
  `UNIT:TEMPerature C|F|K` [U].
- No compound commands (`;`) [C] p.90: a message with one is refused with -113 here.
"""
from __future__ import annotations

import math
import time

from ..clock import SimClock
from ..line_server import Session
from ..physics import Probe
from ..scpi import ScpiDevice, ScpiError


def pt100(t: float) -> float:
    """IEC 60751's nominal Pt100: R(t) in Ω."""
    a, b, c = 3.9083e-3, -5.775e-7, -4.183e-12
    return 100.0 * (1 + a * t + b * t * t + (c * (t - 100) * t ** 3 if t < 0 else 0.0))


class Readout1529Sim(ScpiDevice):
    reply_termination = "\r\n"
    error_format = '{code},"{message}"'

    def __init__(self, clock: SimClock, probes: dict[int, Probe], *, serial: str = "A1B234",
                 probe_names: dict[int, str] | None = None, unit: str = "C", sample_period: float = 0.5) -> None:
        super().__init__()
        self.clock, self.probes, self.serial = clock, probes, serial
        self.probe_names = probe_names or {}
        self.stamped = False  # FORM:STAM resets to OFF at power-up
        self.unit = unit
        self.sample_period = sample_period
        # A channel set to read its probe in ohms (the manual's probe conversion "RES"): the probe's resistance
        # by Callendar–Van Dusen with IEC 60751's coefficients and R0 = 100 Ω.
        self.channel_units: dict[int, str] = {}
        self._samples: dict[int, tuple[int, float]] = {}     # channel → (sample number, °C)
        self._read: dict[int, int] = {}                      # channel → the sample number last read out
        for head in ("FETCh", "MEASure", "READ"):
            self.command(head, self._fetch, True)
        self.command("FORMat:STAMp", self._stamp)
        self.command("SENSe<n>:DATa", self._raw, True)
        self.command("STATus:MEASurement[:EVENt]", lambda p, q: str(self._fresh_bits()), True)
        self.command("CALCulate<n>:CONVersion:NAME", lambda p, q, n: f'"{self._name(n)}"', True)
        self.command("CALibrate<n>:DATE:CALibrate", lambda p, q, n: "2026,3,14", True)
        self.command("UNIT:TEMPerature", self._unit)

    def identity(self) -> str:
        return f"HART,1529,{self.serial},2.01"

    async def handle(self, line: str, session: Session) -> str | list[str] | None:
        if ";" in line:
            self.error(-113)
            return None
        return await super().handle(line, session)

    # --- readings ----------------------------------------------------------------------------------------------
    def _channel(self, params: list[str], n: str | None = None) -> int:
        text = n if n else (params[0] if params else "")
        try:
            channel = int(text) if text else min(self.probes)
        except ValueError:
            raise ScpiError(-224) from None
        if channel not in self.probes:
            raise ScpiError(-230)
        return channel

    def _sample(self, channel: int) -> tuple[int, float]:
        """The channel's latest sample: a new one every `sample_period` simulated seconds."""
        number = math.floor(self.clock.now() / self.sample_period) if self.sample_period > 0 else 0
        held = self._samples.get(channel)
        if held is None or held[0] != number or self.sample_period <= 0:
            held = (number if self.sample_period > 0 else (held[0] + 1 if held else 0),
                    self.probes[channel].reading())
            self._samples[channel] = held
        return held

    def _value(self, channel: int, celsius: float) -> tuple[str, str]:
        unit = self.channel_units.get(channel, self.unit)
        # The display unit converts the reading (UNIT:TEMP C|F|K); a probe reads in °C underneath.
        if unit == "O":
            return f"{pt100(celsius):.5f}", unit
        return f"{celsius * 1.8 + 32 if unit == 'F' else celsius + 273.15 if unit == 'K' else celsius:.4f}", unit

    def _fetch(self, params: list[str], query: bool) -> str:
        channel = self._channel(params)
        number, celsius = self._sample(channel)
        new = self._read.get(channel) != number
        self._read[channel] = number
        value, unit = self._value(channel, celsius)
        if not self.stamped:
            return value
        t = time.localtime(self.clock.now())
        return (f"{1 if new else 0},{channel},{value},{unit},{t.tm_hour},{t.tm_min},{t.tm_sec},{t.tm_year},"
                f"{t.tm_mon},{t.tm_mday}")

    def _fresh_bits(self) -> int:
        bits = 0
        for channel in self.probes:
            number, _ = self._sample(channel)
            if self._read.get(channel) != number:
                bits |= 1 << (channel - 1)
        return bits

    def _raw(self, params: list[str], query: bool, n: str | None) -> str:
        channel = self._channel(params, n)
        return f"{pt100(self._sample(channel)[1]):.4f}, 0.0000"

    def _name(self, n: str | None) -> str:
        channel = int(n) if n else 1
        return self.probe_names.get(channel, f"PRT{channel}")

    def _stamp(self, params: list[str], query: bool) -> str | None:
        if query:
            return "1" if self.stamped else "0"
        word = params[0].strip().upper() if params else ""
        if word not in ("ON", "1", "OFF", "0"):
            raise ScpiError(-224)
        self.stamped = word in ("ON", "1")
        return None

    def _unit(self, params: list[str], query: bool) -> str | None:
        if query:
            return self.unit
        word = params[0].strip().upper() if params else ""
        if word not in ("C", "F", "K"):
            raise ScpiError(-224)
        self.unit = word
        return None

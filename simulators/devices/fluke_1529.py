"""Fluke/Hart 1529 Chub-E4 thermometer readout (SCPI-like), on the SCPI core (simulators/scpi.py).

Sources (../shared/protocols/INSTRUMENT-PROTOCOLS.md §3.1, marks as there):
- `FETCh? [<chn>]`, `MEASure? [<chn>]`, `READ? [<chn>]`: the latest value of the channel [C] manual p.93, 96.
- `FORMat:STAMp ON|OFF` (reset to OFF at power-up) and then `new,channel,value,unit,hh,mm,ss,yyyy,m,d`, where
  new is 1 for a reading not yet read and 0 for one already read [C] p.93. Each channel takes a new reading
  every `sample_period` (simulated) seconds.
- `SENSe<n>:DATA?` → the raw input, `100.0291, 0.0000` (ohms for a PRT) [C] p.96.
- `STATus:MEASurement?` → a bit per channel with a new reading [C] (mentioned p.93).
- Probe settings, `CALCulate<n>:CONVert:…` (§8.4.4): `TEST? <res>` → the temperature the channel's conversion
  gives for a resistance, in the current units (`CALC2:CONV:TEST? 100.0145` → `0.0100`) [C] p.105; a probe
  setting of up to eight letters, digits or `_` and the password rule (`SYST:PASS:CONV?` 1 → `SYST:PASS:CEN
  <pass>` first, else -203) [C] p.105 — here the probe's serial number, `SNUMber[?]`, whose mnemonic is [U]; the
  conversion type `NAME[?]` (`CVD`, `RES`), `CATalog?`, and the coefficients `PARameter:CATalog?` /
  `PARameter:VALue[?] <R0|A|B|C>[,<value>]` are the manual's command group (§8.4.4) but their exact mnemonics
  are [U] (§11 of the protocol notes).
- `CALibrate<n>:DATE:CALibrate?` → `2000,9,22` [C] p.105, `UNIT:TEMPerature C|F|K` [U].
- No compound commands (`;`) [C] p.90: a message with one is refused with -113 here.

The probe is a platinum resistance: its resistance follows IEC 60751 with R0 = 100 Ω (`pt100`), and the
channel shows the temperature its own conversion coefficients give for that resistance. With the default
coefficients (the same nominal ones) that is the probe's reading; a client that sets other coefficients sees
the displayed temperature move as a real readout's would.
"""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field

from ..clock import SimClock
from ..line_server import Session
from ..physics import Probe
from ..scpi import ScpiDevice, ScpiError, boolean, number


IEC_60751 = {"R0": 100.0, "A": 3.9083e-3, "B": -5.775e-7, "C": -4.183e-12}
SERIAL = re.compile(r"^[A-Za-z0-9_]{0,8}$")          # p.105: up to eight letters, digits or underscores
PASSWORD = "1234"                                     # [U]: the default the 1551 and the wells document


def cvd(t: float, r0: float, a: float, b: float, c: float) -> float:
    """Callendar–Van Dusen (IEC 60751): R(t) in Ω, the C term below 0 °C only."""
    return r0 * (1 + a * t + b * t * t + (c * (t - 100) * t ** 3 if t < 0 else 0.0))


def pt100(t: float) -> float:
    """IEC 60751's nominal Pt100: R(t) in Ω."""
    return cvd(t, **{k.lower(): v for k, v in IEC_60751.items()})


def cvd_temperature(r: float, r0: float, a: float, b: float, c: float) -> float:
    """The inverse of `cvd`: t(R) by Newton's method from the quadratic's root (converges in a few steps)."""
    disc = a * a - 4 * b * (1 - r / r0)
    t = (-a + math.sqrt(disc)) / (2 * b) if b and disc >= 0 else (r / r0 - 1) / a
    for _ in range(20):
        slope = r0 * (a + 2 * b * t + (c * (4 * t ** 3 - 300 * t * t) if t < 0 else 0.0))
        step = (cvd(t, r0, a, b, c) - r) / slope
        t -= step
        if abs(step) < 1e-10:
            break
    return t


@dataclass
class Conversion:
    """A channel's probe settings: its conversion type, coefficients and the probe's serial number."""
    name: str = "CVD"
    coefficients: dict[str, float] = field(default_factory=lambda: dict(IEC_60751))
    serial: str = ""

    def temperature(self, resistance: float) -> float:
        return cvd_temperature(resistance, *(self.coefficients[k] for k in ("R0", "A", "B", "C")))


class Readout1529Sim(ScpiDevice):
    reply_termination = "\r\n"
    error_format = '{code},"{message}"'

    def __init__(self, clock: SimClock, probes: dict[int, Probe], *, serial: str = "A1B234",
                 probe_serials: dict[int, str] | None = None, unit: str = "C", sample_period: float = 0.5) -> None:
        super().__init__()
        self.clock, self.probes, self.serial = clock, probes, serial
        self.conversions = {ch: Conversion(serial=(probe_serials or {}).get(ch, "")) for ch in probes}
        for ch, conv in self.conversions.items():
            if not SERIAL.match(conv.serial):
                raise ValueError(f"channel {ch}: a probe serial number is up to eight letters, digits or '_', "
                                 f"not {conv.serial!r}")
        self.protected = False          # SYST:PASS:CONV: the probe settings need the password when 1
        self.unlocked = False           # SYST:PASS:CEN given since power-up
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
        self.command("CALCulate<n>:CONVert:TEST", self._test, True)
        self.command("CALCulate<n>:CONVert:CATalog", lambda p, q, n: '"CVD","RES"', True)
        self.command("CALCulate<n>:CONVert:NAME", self._conversion_name)
        self.command("CALCulate<n>:CONVert:PARameter:CATalog", lambda p, q, n: '"R0","A","B","C"', True)
        self.command("CALCulate<n>:CONVert:PARameter:VALue", self._parameter)
        self.command("CALCulate<n>:CONVert:SNUMber", self._probe_serial)
        self.command("SYSTem:PASSword:CONVert", self._protection)
        self.command("SYSTem:PASSword:CENable", self._enable, False)
        self.command("SYSTem:PASSword:CENable:STATe", lambda p, q: "1" if self.unlocked else "0", True)
        self.command("SYSTem:PASSword:CDISable", lambda p, q: self._lock(), False)
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
        if unit == "O" or self.conversions[channel].name == "RES":
            return f"{pt100(celsius):.5f}", "O"
        shown = self.conversions[channel].temperature(pt100(celsius))
        return self._in_unit(shown), unit

    def _in_unit(self, celsius: float) -> str:
        unit = self.unit
        return f"{celsius * 1.8 + 32 if unit == 'F' else celsius + 273.15 if unit == 'K' else celsius:.4f}"

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

    # --- probe settings (§8.4.4) --------------------------------------------------------------------------------
    def _conversion(self, n: str | None) -> Conversion:
        if not n:
            raise ScpiError(-114, "Header suffix out of range")     # p.92: a suffix that must be given
        channel = int(n)
        if channel not in self.conversions:
            raise ScpiError(-114, "Header suffix out of range")
        return self.conversions[channel]

    def _guard(self) -> None:
        if self.protected and not self.unlocked:
            raise ScpiError(-203, "Command protected")

    def _test(self, params: list[str], query: bool, n: str | None) -> str:
        conv = self._conversion(n)
        resistance = number(params[0], default=100.0, minimum=0.0, maximum=500.0)
        return f"{resistance:.4f}" if conv.name == "RES" else self._in_unit(conv.temperature(resistance))

    def _conversion_name(self, params: list[str], query: bool, n: str | None) -> str | None:
        conv = self._conversion(n)
        if query:
            return conv.name
        word = params[0].strip().strip('"').upper()
        if word not in ("CVD", "RES"):
            raise ScpiError(-224)
        self._guard()
        conv.name = word
        return None

    def _parameter(self, params: list[str], query: bool, n: str | None) -> str | None:
        conv = self._conversion(n)
        key = params[0].strip().strip('"').upper()
        if key not in conv.coefficients:
            raise ScpiError(-224)
        if query:
            return f"{conv.coefficients[key]:.8E}"
        value = number(params[1], default=IEC_60751[key], minimum=-1e3, maximum=1e3)
        self._guard()
        conv.coefficients[key] = value
        return None

    def _probe_serial(self, params: list[str], query: bool, n: str | None) -> str | None:
        conv = self._conversion(n)
        if query:
            return f'"{conv.serial}"'
        text = params[0].strip().strip('"')
        if not SERIAL.match(text):
            raise ScpiError(-224)
        self._guard()
        conv.serial = text
        return None

    def _protection(self, params: list[str], query: bool) -> str | None:
        if query:
            return "1" if self.protected else "0"
        self._guard()                           # changing the protection itself takes the password
        self.protected = boolean(params[0])
        return None

    def _enable(self, params: list[str], query: bool) -> None:
        if params[0].strip() != PASSWORD:
            raise ScpiError(-224)
        self.unlocked = True

    def _lock(self) -> None:
        self.unlocked = False

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

"""Fluke/Hart 1529 thermometer readout: FETC? with or without the stamped format, probe data, SCPI errors."""
from __future__ import annotations

import time

from ..clock import SimClock
from ..line_server import LineDevice, Session
from ..physics import Probe


def pt100(t: float) -> float:
    """IEC 60751's nominal Pt100: R(t) in Ω."""
    a, b, c = 3.9083e-3, -5.775e-7, -4.183e-12
    return 100.0 * (1 + a * t + b * t * t + (c * (t - 100) * t ** 3 if t < 0 else 0.0))


class Readout1529Sim(LineDevice):
    reply_termination = "\r\n"

    def __init__(self, clock: SimClock, probes: dict[int, Probe], *, serial: str = "A1B234",
                 probe_names: dict[int, str] | None = None, unit: str = "C") -> None:
        self.clock, self.probes, self.serial = clock, probes, serial
        self.probe_names = probe_names or {}
        self.stamped = False  # FORM:STAM resets to OFF at power-up
        self.unit = unit
        # A channel set to read its probe in ohms (the manual's probe conversion "RES"): the probe's resistance
        # by Callendar–Van Dusen with IEC 60751's coefficients and R0 = 100 Ω.
        self.channel_units: dict[int, str] = {}
        self.errors: list[str] = []

    def _reading(self, channel: int) -> str | None:
        probe = self.probes.get(channel)
        if probe is None:
            self.errors.append('-230,"Data corrupt or stale"')
            return None
        celsius = probe.reading()
        unit = self.channel_units.get(channel, self.unit)
        # The display unit converts the reading (manual: UNIT:TEMP C|F|K); a probe reads in °C underneath.
        if unit == "O":
            value = f"{pt100(celsius):.5f}"
        else:
            value = f"{celsius * 1.8 + 32 if unit == 'F' else celsius + 273.15 if unit == 'K' else celsius:.4f}"
        if not self.stamped:
            return value
        t = time.localtime(self.clock.now())
        return f"1,{channel},{value},{unit},{t.tm_hour},{t.tm_min},{t.tm_sec},{t.tm_year},{t.tm_mon},{t.tm_mday}"

    async def handle(self, line: str, session: Session) -> str | list[str] | None:
        cmd = line.strip()
        head, _, arg = cmd.partition(" ")
        head = head.upper()
        if head == "*IDN?":
            return f"HART,1529,{self.serial},2.01"
        if head in ("FETC?", "FETCH?", "MEAS?", "READ?"):
            try:
                channel = int(arg) if arg else min(self.probes)
            except ValueError:
                self.errors.append('-224,"Illegal parameter value"')
                return None
            return self._reading(channel)
        if head in ("FORM:STAM", "FORM:TSTAMP"):
            self.stamped = arg.strip().upper() in ("ON", "1")
            return None
        if head == "FORM:STAM?":
            return "1" if self.stamped else "0"
        if head.startswith("CALC") and head.endswith(":CONV:NAME?"):
            channel = int(head[4:-len(":CONV:NAME?")] or 1)
            return f'"{self.probe_names.get(channel, f"PRT{channel}")}"'
        if head.startswith("CAL") and head.endswith(":DATE:CAL?"):
            return "2026,3,14"
        if head == "SYST:ERR?":
            return self.errors.pop(0) if self.errors else '0,"No error"'
        if head == "*CLS":
            self.errors.clear()
            return None
        self.errors.append('-113,"Undefined header"')
        return None

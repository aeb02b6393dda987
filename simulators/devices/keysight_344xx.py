"""Keysight 34465A-class DMM over a VISA TCP socket (port-5025 style, LF terminated)."""
from __future__ import annotations

from ..line_server import LineDevice, Session
from ..physics import MultimeterModel

FUNCS = {"VOLT": "VOLT:DC", "VOLT:DC": "VOLT:DC", "VOLT:AC": "VOLT:AC", "CURR": "CURR:DC", "CURR:DC": "CURR:DC",
         "CURR:AC": "CURR:AC", "RES": "RES", "FRES": "FRES"}
UNIT = {"VOLT:DC": "V", "VOLT:AC": "V", "CURR:DC": "A", "CURR:AC": "A", "RES": "OHM", "FRES": "OHM"}


class Dmm344xxSim(LineDevice):
    reply_termination = "\n"

    def __init__(self, model: MultimeterModel, *, name: str = "34465A", serial: str = "MY57800123") -> None:
        self.model, self.name, self.serial = model, name, serial
        self.function, self.nplc = "VOLT:DC", 10.0
        self.range: float | None = None
        self.errors: list[str] = []

    async def handle(self, line: str, session: Session) -> str | list[str] | None:
        head, _, arg = line.strip().partition(" ")
        head, arg = head.upper(), arg.strip().upper()
        if head == "*IDN?":
            return f"Keysight Technologies,{self.name},{self.serial},A.02.16-02.40-02.16-00.51-03-01"
        if head.startswith("CONF:"):
            func = FUNCS.get(head[5:])
            if func is None:
                self.errors.append('-113,"Undefined header"')
                return None
            self.function = func
            try:
                self.range = None if arg in ("", "AUTO", "DEF") else float(arg)
            except ValueError:
                self.errors.append('-224,"Illegal parameter value"')
            return None
        if head.endswith(":NPLC"):
            try:
                value = float(arg)
            except ValueError:
                self.errors.append('-224,"Illegal parameter value"')
                return None
            if value not in (0.02, 0.06, 0.2, 1, 10, 100):
                self.errors.append('-222,"Data out of range"')
                return None
            self.nplc = value
            return None
        if head in ("READ?", "MEAS?", "FETC?"):
            value = self.model.measure(UNIT[self.function])
            if self.range is not None and abs(value) > 1.2 * self.range:
                return "+9.90000000E+37"
            return f"{value:+.8E}"
        if head == "SYST:ERR?":
            return self.errors.pop(0) if self.errors else '+0,"No error"'
        if head in ("*RST", "*CLS", "SYST:REM"):
            return None
        self.errors.append('-113,"Undefined header"')
        return None

"""Fluke 5520A multifunction calibrator (SCPI-like over a VISA TCP socket): OUT, OPER/STBY, ISR?, ERR?."""
from __future__ import annotations

import re

from ..line_server import LineDevice, Session
from ..physics import CalibratorModel

OUT = re.compile(r"^OUT\s+([-+]?[\d.]+(?:E[-+]?\d+)?)\s*(MV|UV|V|KV|MA|UA|A|OHM|KOHM|MOHM)"
                 r"(?:\s*,\s*([-+]?[\d.]+(?:E[-+]?\d+)?)\s*(HZ|KHZ|MHZ))?$", re.I)
SCALE = {"UV": ("V", 1e-6), "MV": ("V", 1e-3), "V": ("V", 1.0), "KV": ("V", 1e3), "UA": ("A", 1e-6),
         "MA": ("A", 1e-3), "A": ("A", 1.0), "OHM": ("OHM", 1.0), "KOHM": ("OHM", 1e3), "MOHM": ("OHM", 1e6)}
FREQ = {"HZ": 1.0, "KHZ": 1e3, "MHZ": 1e6}


class Calibrator5520Sim(LineDevice):
    reply_termination = "\n"

    def __init__(self, model: CalibratorModel, *, serial: str = "9205101", name: str = "5520A") -> None:
        self.model, self.serial, self.name = model, serial, name
        self.errors: list[tuple[int, str]] = []

    def _error(self, code: int, text: str, standby: bool = False) -> None:
        self.errors.append((code, text))
        if standby:
            self.model.operate(False)

    async def handle(self, line: str, session: Session) -> str | list[str] | None:
        cmd = line.strip().upper()
        if cmd == "*IDN?":
            return f"FLUKE,{self.name},{self.serial},1.9+1.3+2.0+*"
        if cmd in ("*RST",):
            self.model.operate(False)
            self.model.program(0.0, "V", 0.0)
            return None
        if cmd == "*CLS":
            self.errors.clear()
            return None
        if cmd == "*OPC?":
            return "1"
        if cmd.startswith("OUT?"):
            m = self.model
            return f"{m.value:.6E},{m.unit},0E+00,0,{m.frequency:.2E}"
        if cmd.startswith("OUT"):
            match = OUT.match(cmd)
            if not match:
                self._error(1300, "Bad syntax", standby=True)
                return None
            unit, scale = SCALE[match.group(2).upper()]
            value = float(match.group(1)) * scale
            freq = float(match.group(3)) * FREQ[match.group(4).upper()] if match.group(3) else self.model.frequency
            limits = {"V": 1020.0, "A": 20.5, "OHM": 1.1e9}
            if abs(value) > limits[unit]:
                self._error(1301, "Output limit exceeded", standby=True)
                return None
            was_low = abs(self.model.value) < 33 or self.model.unit != "V"
            self.model.program(value, unit, freq)
            if unit == "V" and abs(value) >= 33 and was_low:
                self.model.operate(False)  # moving to high voltage forces standby until OPER is sent again
            return None
        if cmd == "OPER":
            self.model.operate(True)
            return None
        if cmd == "STBY":
            self.model.operate(False)
            return None
        if cmd == "ISR?":
            bits = (1 if self.model.operating else 0) | (1 << 11)
            if self.model.unit == "V" and abs(self.model.value) >= 33:
                bits |= 1 << 7
            if self.model.settled():
                bits |= 1 << 12
            return str(bits)
        if cmd == "ERR?":
            if not self.errors:
                return '0,"No Error"'
            code, text = self.errors.pop(0)
            return f'{code},"{text}"'
        if cmd == "FAULT?":
            return str(self.errors[0][0] if self.errors else 0)
        self._error(1300, "Bad syntax")
        return None

"""Fluke 5520A multifunction calibrator: over a VISA TCP socket or GPIB (COMP behaviour), and on its serial port
in the factory-default TERM mode, on the SCPI core (simulators/scpi.py) for the IEEE 488.2 common commands and
the status system.

Sources (../shared/protocols/INSTRUMENT-PROTOCOLS.md §5, marks as there):
- `OUT <value> <unit>[, <freq> HZ]` with the coupled-parameter rule, `OUT?` (format [U]), `OPER`, `STBY`,
  `ISR?` bits 0 OPER, 7 HIVOLT, 11 REMOTE, 12 SETTLED [C] 5522A manual p.5-41; `*RST` → standby [C].
- `ERR?` → first queued error, `0,"No Error"` when empty (punctuation [U]); `FAULT?` → its code [C].
- `REMOTE`, `LOCAL`, `LOCKOUT` (RS-232 only) [C]; `RANGE?` [C].
- `SP_SET?` → the serial port's settings, `9600,TERM,XON,DBIT8,SBIT1,PNONE,CRLF` at the factory default [C]
  5522A manual p.6-38; `SP_SET 9600,COMP,…` switches the host port's mode (when it takes effect on a real unit is
  [U]: here from the next command).
- TERM mode (RS-232 factory default) [C]: the calibrator echoes each command,
  prints a fault line `Fault 1300: Bad syntax (REM)` for an error and a prompt `<n>> ` after each command,
  n counting up from 2 [D] MCUSH F5520A driver.
"""
from __future__ import annotations

import re

from ..line_server import Session
from ..physics import CalibratorModel
from ..scpi import ScpiDevice, ScpiError

OUT = re.compile(r"^([-+]?[\d.]+(?:E[-+]?\d+)?)\s*(MV|UV|V|KV|MA|UA|A|OHM|KOHM|MOHM)"
                 r"(?:\s*,\s*([-+]?[\d.]+(?:E[-+]?\d+)?)\s*(HZ|KHZ|MHZ))?$", re.I)
SCALE = {"UV": ("V", 1e-6), "MV": ("V", 1e-3), "V": ("V", 1.0), "KV": ("V", 1e3), "UA": ("A", 1e-6),
         "MA": ("A", 1e-3), "A": ("A", 1.0), "OHM": ("OHM", 1.0), "KOHM": ("OHM", 1e3), "MOHM": ("OHM", 1e6)}
FREQ = {"HZ": 1.0, "KHZ": 1e3, "MHZ": 1e6}
LIMITS = {"V": 1020.0, "A": 20.5, "OHM": 1.1e9}


class Calibrator5520Sim(ScpiDevice):
    error_format = '{code},"{message}"'
    no_error = "No Error"
    undefined = (1300, "Bad syntax")

    def __init__(self, model: CalibratorModel, *, serial: str = "9205101", name: str = "5520A",
                 mode: str = "COMP") -> None:
        super().__init__()
        if mode not in ("COMP", "TERM"):
            raise ValueError(f"mode {mode!r}: COMP or TERM")
        self.model, self.serial, self.name, self.mode = model, serial, name, mode
        self.echo = mode == "TERM"
        self.reply_termination = "\r\n" if mode == "TERM" else "\n"
        self.sequence = 1               # TERM prompts count up from 2 (MCUSH: "Ctrl-C will clear" it to 2)
        self.remote = False
        self._faults: list[str] = []
        self.command("OUT", self._out)
        self.command("OPER", lambda p, q: self._operate(True) if not q else ("1" if self.model.operating else "0"))
        self.command("STBY", lambda p, q: self._operate(False), False)
        self.command("ISR", lambda p, q: str(self._isr()), True)
        self.command("ERR", lambda p, q: self.next_error(), True)
        self.command("FAULT", lambda p, q: str(self.errors[0][0] if self.errors else 0), True)
        self.command("RANGE", lambda p, q: self._range(), True)
        self.command("SP_SET", self._serial_port)
        for word, remote in (("REMOTE", True), ("LOCAL", False), ("LOCKOUT", True)):
            self.command(word, lambda p, q, r=remote: self._set_remote(r), False)

    def identity(self) -> str:
        return f"FLUKE,{self.name},{self.serial},1.9+1.3+2.0+*"

    def reset(self) -> None:
        self.model.operate(False)
        self.model.program(0.0, "V", 0.0)

    def error(self, code: int, message: str | None = None) -> None:
        super().error(code, message)
        if code > 0:
            self.model.operate(False)      # the 5520A's S-flagged errors force standby; all of these do here
        if self.mode == "TERM":
            self._faults.append(f"Fault {code}: {message or self.errors[-1][1]} (REM)")

    async def handle(self, line: str, session: Session) -> str | list[str] | None:
        reply = await super().handle(line, session)
        if self.mode != "TERM":
            return reply
        lines = self._faults + ([reply] if isinstance(reply, str) else reply or [])
        self._faults = []
        return lines or None

    def prompt(self) -> str | None:
        if self.mode != "TERM":
            return None
        self.sequence += 1
        return f"{self.sequence}> "

    def _operate(self, on: bool) -> None:
        self.model.operate(on)

    def _set_remote(self, remote: bool) -> None:
        self.remote = remote

    def _isr(self) -> int:
        bits = (1 if self.model.operating else 0) | (1 << 11)
        if self.model.unit == "V" and abs(self.model.value) >= 33:
            bits |= 1 << 7
        if self.model.settled():
            bits |= 1 << 12
        return bits

    def _serial_port(self, params: list[str], query: bool) -> str | None:
        if query:
            return f"9600,{self.mode},XON,DBIT8,SBIT1,PNONE,CRLF"
        if len(params) != 7 or params[1].upper() not in ("TERM", "COMP"):
            raise ScpiError(1300, "Bad syntax")
        self.mode = params[1].upper()
        self.echo = self.mode == "TERM"
        self.reply_termination = "\r\n" if self.mode == "TERM" else "\n"
        return None

    def _range(self) -> str:
        m = self.model
        return f"{m.unit},{LIMITS[m.unit]:.6E}"

    def _out(self, params: list[str], query: bool) -> str | None:
        m = self.model
        if query:
            return f"{m.value:.6E},{m.unit},0E+00,0,{m.frequency:.2E}"
        match = OUT.match(", ".join(params))
        if not match:
            raise ScpiError(1300, "Bad syntax")
        unit, scale = SCALE[match.group(2).upper()]
        value = float(match.group(1)) * scale
        freq = float(match.group(3)) * FREQ[match.group(4).upper()] if match.group(3) else m.frequency
        if abs(value) > LIMITS[unit]:
            raise ScpiError(1301, "Output limit exceeded")
        was_low = abs(m.value) < 33 or m.unit != "V"
        m.program(value, unit, freq)
        if unit == "V" and abs(value) >= 33 and was_low:
            m.operate(False)  # moving to high voltage forces standby until OPER is sent again
        return None

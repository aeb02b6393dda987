"""Temperature sources: the SCPI metrology well / dry-block and the classic Hart dry-well or bath."""
from __future__ import annotations

from ..line_server import LineDevice, Session
from ..physics import ThermalBlock


class ScpiWellSim(LineDevice):
    reply_termination = "\r\n"

    def __init__(self, block: ThermalBlock, *, model: str = "9142", serial: str = "B51234",
                 min_set_point: float = -25.0, max_set_point: float = 150.0) -> None:
        self.block, self.model, self.serial = block, model, serial
        self.min_set_point, self.max_set_point = min_set_point, max_set_point
        self.errors: list[str] = []

    async def handle(self, line: str, session: Session) -> str | list[str] | None:
        head, _, arg = line.strip().partition(" ")
        head = head.upper()
        arg = arg.strip()
        try:
            if head == "*IDN?":
                return f"FLUKE,{self.model},{self.serial},1.10"
            if head in ("SOUR:SPO", "SOURCE:SPOINT"):
                value = float(arg)
                if not self.min_set_point <= value <= self.max_set_point:
                    self.errors.append('-222,"Data out of range"')
                else:
                    self.block.set(value)
                return None
            if head in ("SOUR:SPO?", "SOURCE:SPOINT?"):
                return f"{self.block.set_point:.3f}"
            if head in ("SOUR:SENS:DATA?", "SOUR:SENS:DAT?"):
                return f"{self.block.control_reading():.3f}"
            if head == "SOUR:STAB:TEST?":
                return "1" if self.block.is_stable() else "0"
            if head == "SOUR:STAB:LIM":
                self.block.stability_limit = float(arg)
                return None
            if head == "SOUR:STAB:LIM?":
                return f"{self.block.stability_limit:.2f}"
            if head == "OUTP:STAT":
                self.block.output(arg in ("1", "ON"))
                return None
            if head == "OUTP:STAT?":
                return "1" if self.block.output_on else "0"
            if head == "UNIT:TEMP?":
                return "C"
            if head == "SYST:ERR?":
                return self.errors.pop(0) if self.errors else '0,"No error"'
        except ValueError:
            self.errors.append('-224,"Illegal parameter value"')
            return None
        self.errors.append('-113,"Undefined header"')
        return None


class HartClassicSim(LineDevice):
    """`s=150` sets (no reply), `s` → `set: 150.00 C`, `t` → `t: 149.98 C`; echo with duplex full."""

    reply_termination = "\r\n"

    def __init__(self, block: ThermalBlock, *, model: str = "9140", firmware: str = "1.21", duplex_full: bool = True,
                 decimals: int = 2) -> None:
        self.block, self.model, self.firmware = block, model, firmware
        self.echo = duplex_full
        self.decimals = decimals
        block.output(True)  # classic units have no output switch: heating is always on

    async def handle(self, line: str, session: Session) -> str | list[str] | None:
        cmd = line.replace(" ", "").lower()  # the protocol ignores spaces and case
        if cmd == "*ver":
            return f"ver.{self.model},{self.firmware}"
        if cmd.startswith("s="):
            try:
                self.block.set(float(cmd[2:]))
            except ValueError:
                return None  # classic units silently ignore what they cannot parse
            return None
        if cmd in ("s", "setpoint"):
            return f"set: {self.block.set_point:.2f} C"
        if cmd == "t":
            return f"t: {self.block.control_reading():.{self.decimals}f} C"
        if cmd == "u":
            return "u: C"
        if cmd.startswith("du="):
            self.echo = cmd[3:].startswith("f")
            return None
        return None

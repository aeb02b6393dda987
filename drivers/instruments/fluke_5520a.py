"""Fluke 5520A/5522A-class multifunction calibrator over VISA, or on its RS-232 port (directly or through a
serial–LAN gateway) in either of the port's modes.

Safety first: the output never comes on without an explicit `operate()`, the frequency is always sent
(a new OUT inherits unspecified parameters from the previous one), and the driver goes to standby when it
closes or when the caller fails inside `operating()`.

The RS-232 port leaves the factory in TERM mode (`SP_SET?` → `9600,TERM,…`): it echoes each command, prints
`Fault 1300: Bad syntax (REM)` lines and a prompt `<n>> ` after every command. With `serial_mode = "term"` the
driver reads each exchange up to the prompt and keeps only the replies; errors are still taken from the error
queue (`ERR?`), so the fault lines add nothing it would miss.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from dataclasses import replace
from collections.abc import AsyncIterator

from ..errors import InstrumentReportedError, InstrumentTimeout, OutOfRange, ProtocolError
from ..kinds import MultifunctionCalibrator, Reading
from ..transport import LineSettings
from pydantic import Field
from typing import Literal

from .base import Driver, DriverOptions, parse_number


class Fluke5520Options(DriverOptions):
    # The lab's own output limits, below the instrument's (a UUT's input rating, say); refused before sending.
    max_v: float = Field(default=1020.0, gt=0)
    max_a: float = Field(default=20.5, gt=0)
    max_ohm: float = Field(default=1.1e9, gt=0)
    # The RS-232 port's mode: "comp" (a computer: replies only) or "term" (the factory default: echo, fault lines
    # and a prompt after every command).
    serial_mode: Literal["comp", "term"] = "comp"

log = logging.getLogger("labd.drivers")

ISR_OPER = 1 << 0
ISR_SETTLED = 1 << 12

UNITS = {"V": "V", "A": "A", "OHM": "OHM", "Ω": "OHM"}
QUANTITIES = {"V": "voltage", "A": "current", "OHM": "resistance"}


def parse_error(instrument: str, line: str) -> tuple[int, str]:
    """`0,"No Error"` or `1300,"Bad syntax"` → (code, text)."""
    code_text, _, message = line.partition(",")
    try:
        code = int(code_text.strip())
    except ValueError:
        raise ProtocolError(instrument, "bad error-queue reply", line.encode("utf-8", "replace")) from None
    return code, message.strip().strip('"')


class Fluke5520Calibrator(Driver, MultifunctionCalibrator):
    Options = Fluke5520Options
    kind = "multifunction-calibrator"
    model = "Fluke 5520A/5522A"
    line_settings = LineSettings(write_termination="\n", read_termination="\n", timeout=3.0)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.options.serial_mode == "term":        # every exchange ends at the prompt, not at a line end
            self.line.settings = replace(self.line.settings, read_termination="> ", write_termination="\r\n")

    async def _send(self, command: str) -> list[str]:
        """One command; its reply lines (none for a command that answers nothing)."""
        if self.options.serial_mode == "comp":
            if "?" in command.split(" ")[0]:
                return [await self.line.query(command)]
            await self.line.write(command)
            return []
        text = await self.line.query(command)      # echo, fault lines, replies, the prompt's number
        lines = [x.strip() for x in re.split(r"[\r\n]+", text) if x.strip()]
        if lines and lines[-1].isdigit():
            lines.pop()
        if lines and lines[0].upper() == command.upper():
            lines.pop(0)
        for fault in (x for x in lines if x.startswith("Fault ")):
            log.info("%s: %s (after %r)", self.id, fault, command)
        return [x for x in lines if not x.startswith("Fault ")]

    async def _ask(self, command: str) -> str:
        replies = await self._send(command)
        if not replies:
            raise ProtocolError(self.id, f"no reply to {command!r}", b"")
        return replies[-1]

    async def identify(self) -> str:
        return (await self._ask("*IDN?")).strip()

    async def open(self) -> None:
        await super().open()
        await self.standby()

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.standby()
        await super().close()

    async def safe_state(self) -> None:
        await self.standby()

    def _limit(self, unit: str) -> float:
        return float(getattr(self.options, f"max_{unit.lower()}"))

    async def source(self, value: float, unit: str, frequency: float | None = None) -> None:
        u = UNITS.get(unit.upper())
        if u is None:
            raise ValueError(f"unsupported output unit {unit!r} (V, A, OHM)")
        if abs(value) > self._limit(u):
            raise OutOfRange(self.id, f"output {value} {u} beyond the configured limit {self._limit(u)}")
        if u == "OHM":
            command = f"OUT {value:.9g} OHM"
        else:
            command = f"OUT {value:.9g} {u}, {0.0 if frequency is None else frequency:.9g} HZ"
        await self._send(command)
        await self._raise_errors(command)

    async def operate(self) -> None:
        await self._send("OPER")
        await self._raise_errors("OPER")

    async def standby(self) -> None:
        """Standby, confirmed from the operate bit: the one command whose loss would leave a live output."""
        await self._send("STBY")
        if await self.isr() & ISR_OPER:
            await self._send("STBY")
            if await self.isr() & ISR_OPER:
                raise InstrumentReportedError(self.id, "calibrator did not go to standby")

    async def isr(self) -> int:
        return int(parse_number(self.id, await self._ask("ISR?")))

    async def is_operating(self) -> bool:
        return bool(await self.isr() & ISR_OPER)

    async def wait_settled(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if await self.isr() & ISR_SETTLED:
                return
            if time.monotonic() > deadline:
                raise InstrumentTimeout(self.id, f"output not settled within {timeout:g} s")
            await asyncio.sleep(0.02)

    async def errors(self) -> list[str]:
        """Drain the error queue (`ERR?` until code 0)."""
        found = []
        for _ in range(32):
            code, text = parse_error(self.id, await self._ask("ERR?"))
            if code == 0:
                break
            found.append(f"{code}: {text}")
        return found

    async def _raise_errors(self, command: str) -> None:
        errors = await self.errors()
        if errors:
            raise InstrumentReportedError(self.id, f"{command!r} refused: {'; '.join(errors)}", code=errors[0])

    @contextlib.asynccontextmanager
    async def operating(self) -> AsyncIterator[None]:
        """Output on for the block; standby when it ends, however it ends."""
        try:
            await self.operate()
            yield
        finally:
            await asyncio.shield(self.standby())

    async def sample(self) -> list[Reading]:
        line = await self._ask("OUT?")
        fields = line.split(",")
        if len(fields) < 2:
            raise ProtocolError(self.id, "bad OUT? reply", line.encode("utf-8", "replace"))
        unit = fields[1].strip().upper()
        return [Reading(QUANTITIES.get(unit, "output"), parse_number(self.id, fields[0]), unit if unit != "OHM" else "Ω",
                        raw=line)]

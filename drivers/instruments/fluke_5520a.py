"""Fluke 5520A/5522A-class multifunction calibrator over VISA.

Safety first: the output never comes on without an explicit `operate()`, the frequency is always sent
(a new OUT inherits unspecified parameters from the previous one), and the driver goes to standby when it
closes or when the caller fails inside `operating()`.
"""
from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from ..errors import InstrumentReportedError, InstrumentTimeout, OutOfRange, ProtocolError
from ..kinds import MultifunctionCalibrator, Reading
from ..transport import LineSettings
from pydantic import Field

from .base import Driver, DriverOptions, parse_number


class Fluke5520Options(DriverOptions):
    # The lab's own output limits, below the instrument's (a UUT's input rating, say); refused before sending.
    max_v: float = Field(default=1020.0, gt=0)
    max_a: float = Field(default=20.5, gt=0)
    max_ohm: float = Field(default=1.1e9, gt=0)

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
        await self.line.write(command)
        await self._raise_errors(command)

    async def operate(self) -> None:
        await self.line.write("OPER")
        await self._raise_errors("OPER")

    async def standby(self) -> None:
        """Standby, confirmed from the operate bit: the one command whose loss would leave a live output."""
        await self.line.write("STBY")
        if await self.isr() & ISR_OPER:
            await self.line.write("STBY")
            if await self.isr() & ISR_OPER:
                raise InstrumentReportedError(self.id, "calibrator did not go to standby")

    async def isr(self) -> int:
        return int(parse_number(self.id, await self.line.query("ISR?")))

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
            code, text = parse_error(self.id, await self.line.query("ERR?"))
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
        line = await self.line.query("OUT?")
        fields = line.split(",")
        if len(fields) < 2:
            raise ProtocolError(self.id, "bad OUT? reply", line.encode("utf-8", "replace"))
        unit = fields[1].strip().upper()
        return [Reading(QUANTITIES.get(unit, "output"), parse_number(self.id, fields[0]), unit if unit != "OHM" else "Ω",
                        raw=line)]

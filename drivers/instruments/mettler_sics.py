"""Mettler Toledo MT-SICS balance (levels 0 and 1), over serial or TCP.

Replies are `<ID> <status> [params]`; weight replies are `S S|D <value> <unit>`. S, T and Z block until
the balance is stable, so they get the long timeout; the balance itself gives up after about 30 s (`S I`).
"""
from __future__ import annotations

from collections.abc import AsyncIterator

from ..errors import BusyError, CommandRejected, OverloadError, ProtocolError, UnderloadError
from ..kinds import Balance, Reading
from ..transport import LineSettings
from pydantic import Field

from .base import Driver, DriverOptions, Identity, parse_number


class MettlerSicsOptions(DriverOptions):
    stable_timeout: float = Field(default=60.0, gt=0)   # s to wait for a stable weight before giving up
    capacity: float | None = Field(default=None, gt=0)  # g, Max: loads above it are refused before a run

LINE_ERRORS = {
    "ES": "syntax error: command not recognised",
    "ET": "transmission error (parity or interface break)",
    "EL": "logical error: command cannot be executed",
}


def check_status(instrument: str, line: str, command_id: str) -> list[str]:
    """Split an MT-SICS reply and raise the typed error its status carries; return the fields."""
    raw = line.encode("utf-8", "replace")
    fields = line.split()
    if not fields:
        raise ProtocolError(instrument, "empty reply", raw)
    if fields[0] in LINE_ERRORS and len(fields) == 1:
        raise CommandRejected(instrument, LINE_ERRORS[fields[0]], raw, code=fields[0])
    if fields[0] != command_id or len(fields) < 2:
        raise ProtocolError(instrument, f"expected a reply to {command_id}", raw)
    status = fields[1]
    if status == "I":
        raise BusyError(instrument, "balance busy or not stable in time (I)", raw, code="I")
    if status == "L":
        raise CommandRejected(instrument, "parameter not allowed (L)", raw, code="L")
    if status == "+":
        raise OverloadError(instrument, "overload: above the weighing or zero/tare range (+)", raw, code="+")
    if status == "-":
        raise UnderloadError(instrument, "underload: below the weighing or zero/tare range (-)", raw, code="-")
    return fields


def parse_weight(instrument: str, line: str, command_id: str = "S") -> Reading:
    """`S S     100.00 g` → Reading(mass, 100.0, g, stable=True); every error status → typed exception."""
    fields = check_status(instrument, line, command_id)
    raw = line.encode("utf-8", "replace")
    if len(fields) >= 3 and fields[2] == "Error":
        raise CommandRejected(instrument, f"weigh-module error {' '.join(fields[3:])}", raw, code="Error")
    if fields[1] not in ("S", "D") or len(fields) != 4:
        raise ProtocolError(instrument, "malformed weight reply", raw)
    value = parse_number(instrument, fields[2])
    return Reading("mass", value, fields[3], stable=fields[1] == "S", raw=line)


def parse_quoted(instrument: str, line: str, command_id: str) -> str:
    """`I4 A "1126493049"` → `1126493049`."""
    fields = check_status(instrument, line, command_id)
    if fields[1] != "A":
        raise ProtocolError(instrument, f"expected status A to {command_id}", line.encode("utf-8", "replace"))
    parts = line.split(None, 2)
    return parts[2].strip().strip('"') if len(parts) > 2 else ""


class MettlerSicsBalance(Driver, Balance):
    Options = MettlerSicsOptions
    kind = "balance"
    model = "Mettler Toledo MT-SICS"
    line_settings = LineSettings(write_termination="\r\n", read_termination="\r\n", timeout=2.0)

    @property
    def stable_timeout(self) -> float:
        return self.options.stable_timeout

    async def identify(self) -> str:
        return (await self.identity()).text

    async def identity(self) -> Identity:
        """I2 (type and capacity) and I4 (serial number), MT-SICS level 0."""
        serial = parse_quoted(self.id, await self.line.query("I4"), "I4")
        data = parse_quoted(self.id, await self.line.query("I2"), "I2")
        return Identity("Mettler Toledo", data, serial or None, "", f"Mettler Toledo {data}, serial {serial}")

    async def weigh(self, stable: bool = True) -> Reading:
        if stable:
            return parse_weight(self.id, await self.line.query("S", timeout=self.stable_timeout))
        return parse_weight(self.id, await self.line.query("SI"))

    async def zero(self) -> None:
        check_status(self.id, await self.line.query("Z", timeout=self.stable_timeout), "Z")

    async def tare(self) -> Reading:
        reply = await self.line.query("T", timeout=self.stable_timeout)
        return parse_weight(self.id, reply, "T")

    async def cancel(self) -> None:
        # `@` resets the balance and answers with its serial number, like I4.
        parse_quoted(self.id, await self.line.query("@"), "I4")

    async def stream(self) -> AsyncIterator[Reading]:
        """Weights at the balance's update rate (SIR), until the consumer stops iterating."""
        async with self.line.session() as s:
            await s.write("SIR")
            try:
                while True:
                    yield parse_weight(self.id, await s.read_line())
            finally:
                await s.write("@")
                # Drain streamed lines until the cancel's acknowledgement.
                for _ in range(1000):
                    if (await s.read_line()).startswith("I4"):
                        break

    async def sample(self) -> list[Reading]:
        return [await self.weigh(stable=False)]

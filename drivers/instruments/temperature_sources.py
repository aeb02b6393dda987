"""Temperature sources: Fluke/Hart SCPI metrology wells and dry-blocks (914x, 917x, 6109A/7109A baths)
and the classic Hart `x=value` protocol of older dry-wells and baths (9140, 9141, 7341)."""
from __future__ import annotations

import re

from ..errors import InstrumentReportedError, NotSupported, OutOfRange, ProtocolError
from ..kinds import Reading, TemperatureSource
from ..transport import LineSettings
from typing import Literal

from pydantic import Field, model_validator

from .base import Driver, DriverOptions, parse_number


class SourceOptions(DriverOptions):
    min_set_point: float = -50.0     # °C; set points outside are refused before they are sent
    max_set_point: float = 660.0
    safe_set_point: float = 25.0     # where the source is left after a run, an abort or a failure
    stability_limit: float | None = Field(default=None, gt=0)   # °C, pushed to a well that has its own flag

    @model_validator(mode="after")
    def _range(self) -> "SourceOptions":
        if self.min_set_point >= self.max_set_point:
            raise ValueError("min_set_point must be below max_set_point")
        if not self.min_set_point <= self.safe_set_point <= self.max_set_point:
            raise ValueError("safe_set_point must lie within min_set_point .. max_set_point")
        return self


class HartClassicOptions(SourceOptions):
    duplex: Literal["full", "half"] = "full"   # FULL echoes every command before its reply


class _Source(Driver, TemperatureSource):
    Options = SourceOptions
    kind = "temperature-source"

    async def _confirm_set_point(self, value: float) -> None:
        """Set points get no reply: read back, so a lost or refused command is never taken as done."""
        actual = await self.get_set_point()
        if abs(actual - value) > 0.006:
            raise InstrumentReportedError(self.id, f"set point {value} not accepted (instrument has {actual})")

    def _limits(self) -> tuple[float, float]:
        return self.options.min_set_point, self.options.max_set_point

    def _check_set_point(self, value: float) -> None:
        low, high = self._limits()
        if not low <= value <= high:
            raise OutOfRange(self.id, f"set point {value} outside the configured range {low} .. {high}")

    @property
    def safe_set_point(self) -> float:
        return self.options.safe_set_point

    async def safe_state(self) -> None:
        """A heat source is left at a safe set point, so that it is neither hot nor forcing cold unattended."""
        await self.set_point(self.safe_set_point)

    async def sample(self) -> list[Reading]:
        return [await self.temperature()]


class FlukeScpiWell(_Source):
    model = "Fluke/Hart SCPI metrology well / dry-block"
    line_settings = LineSettings(write_termination="\r", read_termination="\n", timeout=2.0)

    async def open(self) -> None:
        await super().open()
        limit = self.options.stability_limit
        if limit is not None:
            # The well's flag is relative to its own limit: push ours so the flag means what the procedure means.
            await self.line.write(f"SOUR:STAB:LIM {float(limit):g}")

    async def set_point(self, value: float) -> None:
        self._check_set_point(value)
        await self.line.write(f"SOUR:SPO {value:.3f}")
        await self._confirm_set_point(value)

    async def get_set_point(self) -> float:
        return self._number(await self.line.query("SOUR:SPO?"))

    async def temperature(self) -> Reading:
        line = await self.line.query("SOUR:SENS:DATA? TEMP")
        return Reading("temperature", self._number(line), "°C", raw=line)

    async def is_stable(self) -> bool | None:
        line = (await self.line.query("SOUR:STAB:TEST?")).strip()
        if line not in ("0", "1"):
            raise ProtocolError(self.id, "stability flag must be 0 or 1", line.encode("utf-8", "replace"))
        return line == "1"

    async def output(self, on: bool) -> None:
        await self.line.write(f"OUTP:STAT {1 if on else 0}")

    async def output_state(self) -> bool:
        return parse_number(self.id, await self.line.query("OUTP:STAT?")) == 1


HART_REPLY = re.compile(r"^\s*([a-z]+)\s*:\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([CFK])?\s*$", re.I)


def parse_hart(instrument: str, line: str, label: str) -> tuple[float, str | None]:
    """`t: -55.69 C` → (-55.69, "C"); negative values are accepted (cold baths break naive parsers)."""
    m = HART_REPLY.match(line)
    if not m or not m.group(1).lower().startswith(label):
        raise ProtocolError(instrument, f"expected a '{label}:' reply", line.encode("utf-8", "replace"))
    return float(m.group(2)), (m.group(3) or None)


class HartClassicSource(_Source):
    Options = HartClassicOptions
    """Classic Hart protocol. With duplex FULL (the 9140's default) every command is echoed before the reply."""
    model = "Hart classic dry-well / bath"
    # Replies end with CR, then LF unless the unit's linefeed is off (`lf=of`): reading up to the CR takes
    # both, the LF left over is stripped from the next line (protocol notes §4.1, 9102S: CR-only replies).
    line_settings = LineSettings(write_termination="\r", read_termination="\r", timeout=2.0)

    @property
    def echo(self) -> bool:
        return self.options.duplex == "full"

    async def _command(self, command: str, replies: int) -> list[str]:
        lines = await self.line.transaction(command, replies + (1 if self.echo else 0))
        if self.echo:
            if lines[0].strip().lower() != command.lower():
                raise ProtocolError(self.id, f"echo of {command!r} expected", lines[0].encode("utf-8", "replace"))
            lines = lines[1:]
        return lines

    async def identify(self) -> str:
        line = (await self._command("*ver", 1))[0].strip()
        if not line.lower().startswith("ver."):
            raise ProtocolError(self.id, "expected 'ver.<model>,<firmware>'", line.encode("utf-8", "replace"))
        model, _, firmware = line[4:].partition(",")
        return f"Hart {model} firmware {firmware}"

    async def set_point(self, value: float) -> None:
        self._check_set_point(value)
        await self._command(f"s={value:.2f}", 0)
        await self._confirm_set_point(round(value, 2))

    async def get_set_point(self) -> float:
        return parse_hart(self.id, (await self._command("s", 1))[0], "set")[0]

    async def temperature(self) -> Reading:
        line = (await self._command("t", 1))[0]
        value, unit = parse_hart(self.id, line, "t")
        return Reading("temperature", value, {"F": "°F", "K": "K"}.get((unit or "C").upper(), "°C"), raw=line)

    async def is_stable(self) -> bool | None:
        return None  # the classic protocol has no stability query: the procedure judges stability itself

    async def output(self, on: bool) -> None:
        raise NotSupported(self.id, "the classic Hart protocol has no output on/off (heating is always on)")

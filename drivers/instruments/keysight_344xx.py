"""Keysight/Agilent 34401A and 34465A-class digital multimeter, SCPI over VISA."""
from __future__ import annotations

from ..errors import InstrumentReportedError, OverloadError, ProtocolError
from ..kinds import Multimeter, Reading
from ..transport import LineSettings
from .base import Driver, parse_number

FUNCTIONS = {  # SCPI function → (quantity, unit, takes NPLC)
    "VOLT:DC": ("voltage", "V", True), "VOLT:AC": ("voltage", "V", False),
    "CURR:DC": ("current", "A", True), "CURR:AC": ("current", "A", False),
    "RES": ("resistance", "Ω", True), "FRES": ("resistance", "Ω", True),
}
OVERLOAD = 9.9e37


def parse_reading(instrument: str, line: str) -> float:
    """`+1.00000123E+01` → 10.0000123; ±9.9E37 is the meter's overload value."""
    value = parse_number(instrument, line)
    if abs(value) >= OVERLOAD * 0.999:
        raise OverloadError(instrument, "multimeter overload", line.encode("utf-8", "replace"))
    return value


def parse_scpi_error(instrument: str, line: str) -> tuple[int, str]:
    """`+0,"No error"` / `-113,"Undefined header"` → (code, text)."""
    code_text, sep, text = line.partition(",")
    try:
        code = int(code_text.strip())
    except ValueError:
        raise ProtocolError(instrument, "bad SYST:ERR? reply", line.encode("utf-8", "replace")) from None
    if not sep:
        raise ProtocolError(instrument, "bad SYST:ERR? reply", line.encode("utf-8", "replace"))
    return code, text.strip().strip('"')


class Keysight344xxMultimeter(Driver, Multimeter):
    kind = "multimeter"
    model = "Keysight 34401A/34465A"
    line_settings = LineSettings(write_termination="\n", read_termination="\n", timeout=5.0)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.function = "VOLT:DC"
        self.nplc: float | None = None

    async def configure(self, function: str, range: float | None = None, nplc: float | None = None) -> None:
        function = function.upper()
        if function not in FUNCTIONS:
            raise ValueError(f"unsupported function {function!r}; one of {', '.join(FUNCTIONS)}")
        await self.line.write(f"CONF:{function} {'AUTO' if range is None else f'{range:g}'}")
        if nplc is not None and FUNCTIONS[function][2]:
            await self.line.write(f"{function}:NPLC {nplc:g}")
        self.function, self.nplc = function, nplc
        await self._raise_errors(f"configure {function}")

    async def _raise_errors(self, what: str) -> None:
        errors = []
        for _ in range(32):
            code, text = parse_scpi_error(self.id, await self.line.query("SYST:ERR?"))
            if code == 0:
                break
            errors.append(f"{code}: {text}")
        if errors:
            raise InstrumentReportedError(self.id, f"{what} failed: {'; '.join(errors)}", code=errors[0])

    async def read(self) -> Reading:
        # At 100 NPLC on 50 Hz mains one reading takes about 2 s, plus auto-zero: scale the timeout.
        timeout = self.line.settings.timeout + 0.05 * (self.nplc or 1)
        line = await self.line.query("READ?", timeout=timeout)
        quantity, unit, _ = FUNCTIONS[self.function]
        return Reading(quantity, parse_reading(self.id, line), unit, raw=line)

    async def sample(self) -> list[Reading]:
        return [await self.read()]

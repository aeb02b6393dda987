"""What every driver shares: its transport, its identity, number parsing that fails with a typed error."""
from __future__ import annotations

import math
import re
from typing import Any, ClassVar

from ..errors import ProtocolError
from ..kinds import Reading
from ..stream import SerialSettings
from ..transport import LineSettings, LineTransport, Transport

NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def parse_number(instrument: str, text: str) -> float:
    """A finite float from an instrument reply, or ProtocolError carrying the raw text."""
    stripped = text.strip()
    if not NUMBER.fullmatch(stripped):
        raise ProtocolError(instrument, "expected a number", text.encode("utf-8", "replace"))
    value = float(stripped)
    if not math.isfinite(value):
        raise ProtocolError(instrument, "number out of range", text.encode("utf-8", "replace"))
    return value


class Driver:
    kind: ClassVar[str]
    model: ClassVar[str]
    line_settings: ClassVar[LineSettings] = LineSettings()
    serial_settings: ClassVar[SerialSettings] = SerialSettings()

    def __init__(self, id: str, transport: Transport, options: dict[str, Any] | None = None) -> None:
        self.id = id
        self.transport = transport
        self.options = dict(options or {})

    @property
    def line(self) -> LineTransport:
        assert isinstance(self.transport, LineTransport)
        return self.transport

    def _number(self, text: str) -> float:
        return parse_number(self.id, text)

    async def open(self) -> None:
        await self.transport.open()

    async def close(self) -> None:
        await self.transport.close()

    async def safe_state(self) -> None:
        """Most instruments are safe as they are; sources and calibrators override this."""

    async def identify(self) -> str:
        return (await self.line.query("*IDN?")).strip()

    async def sample(self) -> list[Reading]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id}>"

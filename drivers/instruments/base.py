"""What every driver shares: its transport, its identity, number parsing that fails with a typed error."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

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


@dataclass(frozen=True)
class Identity:
    """Who an instrument says it is: from `*IDN?` (IEEE 488.2 10.14: manufacturer, model, serial, firmware) or
    the driver's own query. `serial` is None when the instrument does not report one.

    >>> Identity.parse("FLUKE,5520A,9311022,1.4+1.0+2.0+*")
    Identity(manufacturer='FLUKE', model='5520A', serial='9311022', firmware='1.4+1.0+2.0+*', text='FLUKE,5520A,9311022,1.4+1.0+2.0+*')
    >>> Identity.parse("Mettler Toledo XS205 Excellence, serial 1126493049").serial
    '1126493049'
    >>> Identity.parse("Hart 9140 firmware 1.1").serial is None
    True
    """
    manufacturer: str
    model: str
    serial: str | None
    firmware: str
    text: str

    @classmethod
    def parse(cls, text: str) -> "Identity":
        text = text.strip()
        fields = [f.strip() for f in text.split(",")]
        if len(fields) == 4 and all(fields[:3]):
            return cls(fields[0], fields[1], fields[2] if fields[2] not in ("0", "") else None, fields[3], text)
        m = re.search(r"\bserial (\S+)", text)
        return cls("", text, m[1] if m else None, "", text)


class DriverOptions(BaseModel):
    """A driver's `options` in instruments.toml. Each driver declares its own subclass, so that an unknown or
    mistyped option (`stable_timout`) is an error naming the key instead of a silently ignored setting."""
    model_config = ConfigDict(extra="forbid", frozen=True)


def options_error(exc: ValidationError) -> str:
    """One line for the first problem of a driver's options: `key: reason`."""
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"]) or "options"
    msg = "unknown option" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
    return f"{key}: {msg}"


class Driver:
    kind: ClassVar[str]
    model: ClassVar[str]
    line_settings: ClassVar[LineSettings] = LineSettings()
    serial_settings: ClassVar[SerialSettings] = SerialSettings()
    Options: ClassVar[type[DriverOptions]] = DriverOptions

    def __init__(self, id: str, transport: Transport, options: dict[str, Any] | DriverOptions | None = None) -> None:
        self.id = id
        self.transport = transport
        self.options = self.check_options(options)

    @classmethod
    def check_options(cls, options: dict[str, Any] | DriverOptions | None) -> Any:
        """The driver's typed options; ValueError naming the key when one is unknown or of the wrong type."""
        if isinstance(options, cls.Options):
            return options
        try:
            return cls.Options.model_validate(dict(options or {}))
        except ValidationError as exc:
            raise ValueError(f"options: {options_error(exc)}") from None

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

    async def identity(self) -> Identity:
        """The identification, parsed: what a standard's certificate is matched against."""
        return Identity.parse(await self.identify())

    async def sample(self) -> list[Reading]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id}>"

"""Typed instrument errors. Every one names the instrument and keeps the raw bytes it saw."""
from __future__ import annotations


class InstrumentError(Exception):
    """Base of every error raised while talking to an instrument."""

    def __init__(self, instrument: str, message: str, raw: bytes | None = None) -> None:
        self.instrument = instrument
        self.message = message
        self.raw = raw
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"{self.instrument}: {self.message}"
        if self.raw:
            text += f" (raw {self.raw!r})"
        return text


class InstrumentTimeout(InstrumentError):
    """No complete reply within the command's timeout; `raw` holds any partial reply."""


class ProtocolError(InstrumentError):
    """A reply that does not follow the instrument's protocol (garbage, wrong echo, bad number)."""


class Disconnected(InstrumentError):
    """The connection was lost or could not be (re)established."""


class InstrumentReportedError(InstrumentError):
    """The instrument understood the exchange and reported an error of its own."""

    def __init__(self, instrument: str, message: str, raw: bytes | None = None, code: str | int | None = None) -> None:
        self.code = code
        super().__init__(instrument, message, raw)


class BusyError(InstrumentReportedError):
    """Command understood but not executable now (busy, or stability not reached in time)."""


class OverloadError(InstrumentReportedError):
    """Reading above the instrument's range (balance overload, DMM overload)."""


class UnderloadError(InstrumentReportedError):
    """Reading below the instrument's range."""


class CommandRejected(InstrumentReportedError):
    """Syntax, transmission or logical error: the instrument refused the command."""


class NotSupported(InstrumentError):
    """The instrument model has no such function (e.g. output on/off on a classic Hart dry-well)."""


class OutOfRange(InstrumentError):
    """A requested set point or output is outside the limits configured for the instrument."""

"""Transports and instrument drivers. Public API: `create_instrument`, the kind interfaces and the errors."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from .address import open_transport, parse_address
from .errors import (BusyError, CommandRejected, Disconnected, InstrumentError, InstrumentReportedError,
                     InstrumentTimeout, NotSupported, OutOfRange, OverloadError, ProtocolError, UnderloadError)
from .instruments import DRIVERS
from .instruments.base import Driver, DriverOptions, Identity, parse_number
from .kinds import (AmbientSensor, Balance, Instrument, MultifunctionCalibrator, Multimeter, ProbeInfo, Reading,
                    TemperatureSource, ThermometerReadout)
from .stream import SerialSettings


def create_instrument(id: str, driver: str, address: str, *, options: dict[str, Any] | None = None,
                      serial: dict[str, Any] | None = None, timeout: float | None = None,
                      line: dict[str, str] | None = None) -> Driver:
    """A driver for `driver` at `address`; it connects on `open()` or on first use. `line` overrides the driver's
    terminators (`write_termination`, `read_termination`) for an instrument set up otherwise than its default."""
    try:
        cls = DRIVERS[driver]
    except KeyError:
        raise ValueError(f"unknown driver {driver!r}; known drivers: {', '.join(sorted(DRIVERS))}") from None
    settings = cls.line_settings if timeout is None else replace(cls.line_settings, timeout=timeout)
    if line:
        unknown = set(line) - {"write_termination", "read_termination"}
        if unknown:
            raise ValueError(f"unknown line settings {sorted(unknown)}: write_termination, read_termination")
        settings = replace(settings, write_termination=line.get("write_termination", settings.write_termination),
                           read_termination=line.get("read_termination", settings.read_termination))
    serial_settings = replace(cls.serial_settings, **serial) if serial else cls.serial_settings
    transport = open_transport(id, address, line=settings, serial=serial_settings)
    return cls(id, transport, options)


__all__ = [
    "AmbientSensor", "Balance", "BusyError", "CommandRejected", "DRIVERS", "Disconnected", "Driver", "DriverOptions",
    "Identity", "Instrument", "parse_number",
    "InstrumentError", "InstrumentReportedError", "InstrumentTimeout", "MultifunctionCalibrator", "Multimeter",
    "NotSupported", "OutOfRange", "OverloadError", "ProbeInfo", "ProtocolError", "Reading", "SerialSettings",
    "TemperatureSource", "ThermometerReadout", "UnderloadError", "create_instrument", "parse_address",
]

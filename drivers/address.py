"""Instrument addresses as written in config, and the transport each one opens."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse

from .modbus import ModbusTransport
from .stream import SerialSettings, SerialTransport, TcpTransport
from .transport import LineSettings, Transport
from .visa import VisaTransport

VISA_PREFIXES = ("TCPIP", "ASRL", "GPIB", "USB", "VXI", "PXI")


@dataclass(frozen=True)
class Address:
    kind: str          # "serial", "tcp", "visa", "modbus-tcp", "modbus-rtu"
    target: str        # device path, URL, host, or VISA resource string
    port: int | None = None
    unit: int = 1


def parse_address(text: str) -> Address:
    """Parse an address; raises ValueError with the reason when it is not understood."""
    text = text.strip()
    if not text:
        raise ValueError("empty address")
    if "::" in text and text.upper().startswith(VISA_PREFIXES):
        return Address("visa", text)
    if text.startswith(("modbus-tcp://", "modbus-rtu://")):
        url = urlparse(text)
        query = parse_qs(url.query)
        try:
            unit = int(query.get("unit", ["1"])[0])
        except ValueError:
            raise ValueError(f"modbus unit must be an integer in {text!r}") from None
        if not 0 <= unit <= 247:
            raise ValueError(f"modbus unit {unit} outside 0..247")
        if url.scheme == "modbus-tcp":
            if not url.hostname:
                raise ValueError(f"modbus-tcp address needs a host: {text!r}")
            return Address("modbus-tcp", url.hostname, url.port or 502, unit)
        if not url.path:
            raise ValueError(f"modbus-rtu address needs a serial device path: {text!r}")
        return Address("modbus-rtu", url.path, None, unit)
    if text.startswith("tcp://"):
        url = urlparse(text)
        if not url.hostname or not url.port:
            raise ValueError(f"tcp address needs host and port: {text!r}")
        return Address("tcp", url.hostname, url.port)
    if "://" in text and not text.startswith(("socket://", "loop://", "rfc2217://")):
        raise ValueError(f"unknown address scheme in {text!r}")
    return Address("serial", text)


def open_transport(instrument: str, address: str, *, line: LineSettings | None = None,
                   serial: SerialSettings | None = None) -> Transport:
    """The transport for `address` (not yet connected: it connects on first use)."""
    addr = parse_address(address)
    transport: Transport
    if addr.kind == "visa":
        transport = VisaTransport(instrument, addr.target, line)
    elif addr.kind == "tcp":
        transport = TcpTransport(instrument, addr.target, addr.port or 0, line)
    elif addr.kind == "serial":
        transport = SerialTransport(instrument, addr.target, serial, line)
    elif addr.kind == "modbus-tcp":
        transport = ModbusTransport(instrument, unit=addr.unit, host=addr.target, port=addr.port or 502, settings=line)
    else:
        transport = ModbusTransport(instrument, unit=addr.unit, serial_port=addr.target, serial_settings=serial,
                                    settings=line)
    transport.address = address
    return transport

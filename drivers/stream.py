"""Byte-stream transports: serial (pyserial-asyncio-fast, device paths and socket://) and raw TCP."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

import serial
import serial_asyncio_fast

from .errors import Disconnected, InstrumentTimeout
from .transport import LineSettings, LineTransport


class _LineProtocol(asyncio.Protocol):
    """Collects received bytes; the transport parses lines from the buffer so partial replies stay visible."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.lost = False
        self.transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def wait_data(self, deadline: float) -> None:
        """Until bytes arrive, the connection is lost, or the loop's clock reaches `deadline` (the caller then
        finds the time up). One future and one timer: asyncio.timeout's bookkeeping of the task (a Timeout
        object, the current task, a reschedule and an uncancel per line) cost more than the line (issue 18).
        A cancellation of the reader propagates unchanged: the future is awaited directly, not via wait_for."""
        loop = asyncio.get_running_loop()
        self._waiter = waiter = loop.create_future()
        timer = loop.call_at(deadline, self._wake)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None


@dataclass(frozen=True)
class SerialSettings:
    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1
    xonxoff: bool = False
    rtscts: bool = False


class StreamTransport(LineTransport):
    """Common line handling over an asyncio byte stream."""

    _protocol: _LineProtocol | None = None

    async def _disconnect(self) -> None:
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()
        self._protocol = None

    def _flush_input(self) -> None:
        if self._protocol is not None:
            self._protocol.buffer.clear()

    async def _send(self, data: bytes, timeout: float) -> None:
        proto = self._protocol
        if proto is None or proto.lost or proto.transport is None or proto.transport.is_closing():
            raise Disconnected(self.instrument, "connection lost")
        proto.transport.write(data)

    async def _read_line(self, timeout: float) -> bytes:
        proto = self._protocol
        if proto is None:
            raise Disconnected(self.instrument, "not connected")
        term = self.settings.read_termination.encode(self.settings.encoding)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            idx = proto.buffer.find(term)
            if idx >= 0:
                line = bytes(proto.buffer[:idx])
                del proto.buffer[: idx + len(term)]
                return line
            if proto.lost:
                raise Disconnected(self.instrument, "connection lost while reading", bytes(proto.buffer))
            if loop.time() >= deadline:
                raise InstrumentTimeout(self.instrument, f"no reply within {timeout:g} s", bytes(proto.buffer))
            await proto.wait_data(deadline)


class SerialTransport(StreamTransport):
    """A serial port (device path, pty) or a pyserial URL such as socket://host:port."""

    def __init__(self, instrument: str, url: str, serial_settings: SerialSettings | None = None,
                 settings: LineSettings | None = None) -> None:
        super().__init__(instrument, settings)
        self.url = url
        self.serial_settings = serial_settings or SerialSettings()

    async def _connect(self) -> None:
        s = self.serial_settings
        proto = _LineProtocol()
        parity = {"N": serial.PARITY_NONE, "E": serial.PARITY_EVEN, "O": serial.PARITY_ODD}[s.parity.upper()[0]]
        transport, _ = await serial_asyncio_fast.create_serial_connection(
            asyncio.get_running_loop(), lambda: proto, self.url,
            baudrate=s.baudrate, bytesize=s.bytesize, parity=parity, stopbits=s.stopbits,
            xonxoff=s.xonxoff, rtscts=s.rtscts,
        )
        proto.transport = transport  # connection_made may only run on a later loop iteration
        self._protocol = proto


class TcpTransport(StreamTransport):
    """A raw TCP socket (Ethernet-to-serial servers, instruments with a socket port)."""

    def __init__(self, instrument: str, host: str, port: int, settings: LineSettings | None = None) -> None:
        super().__init__(instrument, settings)
        self.host, self.port = host, port

    async def _connect(self) -> None:
        proto = _LineProtocol()
        async with asyncio.timeout(self.settings.timeout):
            transport, _ = await asyncio.get_running_loop().create_connection(lambda: proto, self.host, self.port)
        proto.transport = transport
        self._protocol = proto

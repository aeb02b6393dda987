"""Transport base: one request in flight per instrument, per-command timeouts, reconnect with backoff.

Concrete transports implement `_connect`, `_disconnect`, `_send` and `_read_line`; the base class owns
the lock, the timeouts, the reconnection policy and the debug log of raw I/O.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass

from .errors import Disconnected, InstrumentError

log = logging.getLogger("labd.io")


@dataclass(frozen=True)
class LineSettings:
    write_termination: str = "\r\n"
    read_termination: str = "\r\n"
    encoding: str = "ascii"
    timeout: float = 2.0             # seconds, per command unless the command says otherwise
    connect_timeout: float = 10.0    # total time spent reconnecting before giving up
    backoff_initial: float = 0.05
    backoff_max: float = 2.0


class Transport(ABC):
    """Connection to one instrument, reconnected on demand after a loss."""

    def __init__(self, instrument: str, settings: LineSettings | None = None) -> None:
        self.instrument = instrument
        self.address = ""  # as written in config, for messages and listings
        self.settings = settings or LineSettings()
        self.lock = asyncio.Lock()
        self._connected = False

    @property
    def connected(self) -> bool:
        return self._connected

    async def open(self) -> None:
        async with self.lock:
            await self._ensure_connected()

    async def close(self) -> None:
        async with self.lock:
            await self._drop()

    async def _drop(self) -> None:
        if self._connected:
            self._connected = False
            with contextlib.suppress(Exception):
                await self._disconnect()

    async def _ensure_connected(self) -> None:
        if self._connected:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.connect_timeout
        delay = self.settings.backoff_initial
        while True:
            try:
                await self._connect()
                self._connected = True
                log.info("%s connected", self.instrument)
                return
            except InstrumentError:
                raise
            except Exception as exc:  # OS errors, pyvisa errors, refused connections
                if loop.time() + delay > deadline:
                    raise Disconnected(self.instrument, f"cannot connect: {exc}") from exc
                log.debug("%s connect failed (%s); retrying in %.2f s", self.instrument, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.backoff_max)

    @abstractmethod
    async def _connect(self) -> None: ...

    @abstractmethod
    async def _disconnect(self) -> None: ...


class LineTransport(Transport):
    """Text protocols terminated by a line ending (SCPI, MT-SICS, Hart)."""

    async def transaction(self, command: str | None, replies: int = 1, timeout: float | None = None) -> list[str]:
        """Send `command` (if any) and read `replies` lines, holding the instrument for the whole exchange."""
        async with self.lock:
            return await self._exchange(command, replies, timeout)

    async def query(self, command: str, timeout: float | None = None) -> str:
        return (await self.transaction(command, 1, timeout))[0]

    async def write(self, command: str, timeout: float | None = None) -> None:
        await self.transaction(command, 0, timeout)

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator["LineSession"]:
        """Exclusive use of the instrument for a multi-step exchange (streaming, echo handling)."""
        async with self.lock:
            yield LineSession(self)

    async def _exchange(self, command: str | None, replies: int, timeout: float | None) -> list[str]:
        await self._ensure_connected()
        timeout = self.settings.timeout if timeout is None else timeout
        try:
            if command is not None:
                self._flush_input()
                await self._send(self._encode(command), timeout)
            return [self._received(await self._read_line(timeout)) for _ in range(replies)]
        except Disconnected:
            await self._drop()
            raise

    def _encode(self, command: str) -> bytes:
        """The bytes of `command` with its terminator, logged at debug (labd.io)."""
        data = (command + self.settings.write_termination).encode(self.settings.encoding)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s > %r", self.instrument, data)
        return data

    def _received(self, raw: bytes) -> str:
        """A reply line as read, logged at debug (labd.io), then decoded."""
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s < %r", self.instrument, raw)
        return self._decode(raw)

    def _decode(self, raw: bytes) -> str:
        # Stray CR/LF around a line are common when read and write terminators differ (Hart, 1529 over serial).
        return raw.decode(self.settings.encoding, errors="replace").strip("\r\n")

    def _flush_input(self) -> None:
        """Discard stale input before a command so that a late reply is never taken for the next one."""

    @abstractmethod
    async def _send(self, data: bytes, timeout: float) -> None: ...

    @abstractmethod
    async def _read_line(self, timeout: float) -> bytes: ...


class LineSession:
    """Steps of an exchange done under the instrument's lock."""

    def __init__(self, transport: LineTransport) -> None:
        self._t = transport

    async def write(self, command: str, timeout: float | None = None) -> None:
        await self._t._exchange(command, 0, timeout)

    async def query(self, command: str, timeout: float | None = None) -> str:
        return (await self._t._exchange(command, 1, timeout))[0]

    async def read_line(self, timeout: float | None = None) -> str:
        return (await self._t._exchange(None, 1, timeout))[0]

"""VISA transport (pyvisa with the pyvisa-py backend).

pyvisa is blocking, so every call runs on a single worker thread owned by the instrument: the event
loop never blocks, and commands to one instrument keep their order. The worker is a bare thread fed by a
queue rather than a ThreadPoolExecutor: the executor's future chaining cost about 40 µs per round trip,
a third of a loopback VISA round trip (bench/drivers_roundtrip.py).

A raw TCP socket (`TCPIP::host::port::SOCKET`, the LAN instruments of this lab) skips even that thread when it
can: the command is sent from the event loop with one non-blocking send (the rest, if the send buffer is full,
goes to the worker), and the loop waits for the reply to become readable like any other asyncio socket, moving
what arrives into pyvisa-py's own read buffer until the terminator is there; the reply is then taken from that
buffer as pyvisa's read would take it. A reply in pieces is gathered the same way, the loop free in between.
Other kinds of session, or a pyvisa-py without the attributes relied on, go to the worker as before. Two thread
wake-ups per round trip, then pyvisa's read through its resource, library and attribute layers, were most of
what the driver added to bare pyvisa (docs/performance.md).
"""
from __future__ import annotations

from typing import Any

import asyncio
import queue
import socket
import threading

import pyvisa
from pyvisa import constants, errors as visa_errors

from .errors import Disconnected, InstrumentTimeout
from .transport import LineSettings, LineTransport


_rm_lock = threading.Lock()
_rm: pyvisa.ResourceManager | None = None


def resource_manager() -> pyvisa.ResourceManager:
    global _rm
    with _rm_lock:
        if _rm is None:
            _rm = pyvisa.ResourceManager("@py")
        return _rm


def _settle(fut: asyncio.Future, result, error: BaseException | None) -> None:
    if fut.done():  # the caller was cancelled while the worker was busy
        return
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(result)


def _wake(fut: asyncio.Future, readable: bool) -> None:
    if not fut.done():
        fut.set_result(readable)


def _socket_session(res: Any) -> Any:
    """The pyvisa-py SOCKET session under `res` when it has what the loop path reads (its socket and its
    buffer of bytes read past a terminator: pyvisa-py 0.7-0.8, bounded in pyproject.toml); None otherwise."""
    try:
        session = res.visalib.sessions[res.session]
    except (AttributeError, KeyError, TypeError):
        return None
    if type(session).__name__ != "TCPIPSocketSession":
        return None
    if not isinstance(getattr(session, "interface", None), socket.socket):
        return None
    if not isinstance(getattr(session, "_pending_buffer", None), bytearray):
        return None
    return session


class _Worker:
    """One thread that runs blocking calls in order and hands each result back to the caller's loop."""

    def __init__(self, name: str) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            loop, fut, fn, args = job
            try:
                result, error = fn(*args), None
            except BaseException as exc:  # handed to the awaiting coroutine, never lost in the thread
                result, error = None, exc
            try:
                loop.call_soon_threadsafe(_settle, fut, result, error)
            except RuntimeError:  # the loop closed while the call ran
                pass

    def call(self, fn, *args) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._queue.put((loop, fut, fn, args))
        return fut

    def stop(self) -> None:
        self._queue.put(None)


class VisaTransport(LineTransport):
    def __init__(self, instrument: str, resource: str, settings: LineSettings | None = None) -> None:
        super().__init__(instrument, settings or LineSettings(write_termination="\n", read_termination="\n"))
        self.resource_name = resource
        self._resource: Any = None          # a pyvisa MessageBasedResource once open
        self._timeout_ms: float | None = None
        self._worker: _Worker | None = None
        self._term = b""
        self._socket_session: Any = None   # set when the loop path can serve this resource
        self._late_reply_possible = False  # an exchange ended before its replies came: they may come yet

    async def _run(self, fn, *args):
        if self._worker is None:  # started lazily so that a closed transport can be opened again
            self._worker = _Worker(f"visa-{self.instrument}")
        return await self._worker.call(fn, *args)

    def _open_blocking(self) -> None:
        res: Any = resource_manager().open_resource(self.resource_name)   # message-based for SOCKET/INSTR
        res.read_termination = self.settings.read_termination
        self._term = self.settings.read_termination.encode(self.settings.encoding)
        res.write_termination = ""  # the base class appends the terminator itself
        res.timeout = self.settings.timeout * 1000
        self._timeout_ms = res.timeout
        self._resource = res
        self._socket_session = _socket_session(res) if self._term else None

    async def _connect(self) -> None:
        await self._run(self._open_blocking)

    async def _disconnect(self) -> None:
        res, self._resource = self._resource, None
        self._socket_session = None
        if res is not None:
            await self._run(res.close)

    def _set_timeout(self, timeout: float) -> None:
        ms = timeout * 1000
        if self._timeout_ms != ms:  # setting it goes through pyvisa's attribute machinery: only when it changes
            self._resource.timeout = ms
            self._timeout_ms = ms

    def _translate(self, exc: Exception, timeout: float) -> Exception:
        if isinstance(exc, visa_errors.VisaIOError) and exc.error_code == constants.StatusCode.error_timeout:
            return InstrumentTimeout(self.instrument, f"no reply within {timeout:g} s")
        return Disconnected(self.instrument, f"VISA I/O failed: {exc}")

    def _send_blocking(self, data: bytes, timeout: float) -> None:
        if self._resource is None:
            raise Disconnected(self.instrument, "not connected")
        self._set_timeout(timeout)
        try:
            self._resource.write_raw(data)
        except (visa_errors.VisaIOError, OSError, visa_errors.InvalidSession) as exc:
            raise self._translate(exc, timeout) from exc

    def _read_blocking(self, timeout: float) -> bytes:
        if self._resource is None:
            raise Disconnected(self.instrument, "not connected")
        self._set_timeout(timeout)
        try:
            # The raw bytes: read() would decode them, and the base class decodes (and strips) them again.
            raw = self._resource.read_raw()
        except (visa_errors.VisaIOError, OSError, visa_errors.InvalidSession) as exc:
            raise self._translate(exc, timeout) from exc
        return self._without_terminator(raw)

    def _without_terminator(self, raw: bytes) -> bytes:
        """A reply as read (pyvisa's read_raw, or taken from pyvisa-py's buffer) less its read terminator."""
        return raw[:-len(self._term)] if self._term and raw.endswith(self._term) else raw

    async def _send(self, data: bytes, timeout: float) -> None:
        await self._run(self._send_blocking, data, timeout)

    async def _read_line(self, timeout: float) -> bytes:
        return await self._run(self._read_blocking, timeout)

    def _exchange_blocking(self, command: str | None, replies: int, timeout: float) -> list[str]:
        if command is not None and self._late_reply_possible:
            self._discard_read_buffer()
        if command is not None:
            self._send_blocking(self._encode(command), timeout)
        self._late_reply_possible = replies > 0   # as on the loop path: cleared once every reply is read
        lines = [self._received(self._read_blocking(timeout)) for _ in range(replies)]
        self._late_reply_possible = False
        return lines

    def _discard_read_buffer(self) -> None:
        """The worker path's `_discard_input`: VISA's viFlush of the read buffer (pyvisa-py empties a serial
        port's input with it). A session kind that cannot flush keeps its input: its replies are requested
        one by one (VXI-11, HiSLIP), so a late one is not left waiting in a stream."""
        try:
            self._resource.flush(constants.BufferOperation.discard_read_buffer)
        except (visa_errors.VisaIOError, NotImplementedError, AttributeError, OSError):
            pass

    async def _exchange(self, command: str | None, replies: int, timeout: float | None) -> list[str]:
        # One hop to the worker thread per exchange, not one per write and per line: that halves the cost. The
        # rest of the path is kept to plain calls (no coroutine when already connected): at a 1 ms reply every
        # 10 µs here is 1 % of the round trip (bench/drivers_roundtrip.py).
        if not self._connected:
            await self._ensure_connected()
        timeout = self.settings.timeout if timeout is None else timeout
        worker = self._worker
        if worker is None:
            worker = self._worker = _Worker(f"visa-{self.instrument}")
        try:
            if self._socket_session is not None:
                return await self._exchange_on_loop(worker, command, replies, timeout)
            return await worker.call(self._exchange_blocking, command, replies, timeout)
        except Disconnected:
            await self._drop()
            raise

    async def _exchange_on_loop(self, worker: _Worker, command: str | None, replies: int,
                                timeout: float) -> list[str]:
        """`_exchange_blocking` for a SOCKET session, with the waiting done by the event loop (module docstring)."""
        sock = self._socket_session.interface
        if command is not None and self._late_reply_possible:
            self._discard_input(sock)
        if command is not None:
            rest = self._send_now(sock, self._encode(command))
            if rest:   # the send buffer is full: the rest is sent by pyvisa, off the loop
                await worker.call(self._send_blocking, rest, timeout)
        # Until every reply is read, a timeout, an error or a cancellation leaves a reply that may still come.
        self._late_reply_possible = replies > 0
        lines = []
        for _ in range(replies):
            await self._buffer_reply(sock, timeout)
            lines.append(self._received(self._take_reply()))
        self._late_reply_possible = False
        return lines

    def _send_now(self, sock: socket.socket, data: bytes) -> bytes:
        """Send what the socket takes without waiting (pyvisa-py's write is select, then send); the part it
        could not take is returned."""
        try:
            sent = sock.send(data, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return data
        except OSError as exc:
            raise Disconnected(self.instrument, f"VISA I/O failed: {exc}") from exc
        return data[sent:]

    def _take_reply(self) -> bytes:
        """The first reply in pyvisa-py's buffer, taken as its read takes it (up to and including the termchar,
        the read terminator's last byte), without its read terminator. pyvisa's read_raw would do the same through
        its resource, library and attribute layers: 40-90 µs a reply here, most of what the driver added to a
        1 ms round trip."""
        pending = self._socket_session._pending_buffer
        end = pending.index(self._term[-1:]) + 1
        raw = bytes(pending[:end])
        del pending[:end]
        return self._without_terminator(raw)

    async def _buffer_reply(self, sock: socket.socket, timeout: float) -> None:
        """Wait on the loop until a whole reply (up to the terminator's last byte, pyvisa's termchar) is in
        pyvisa-py's buffer, moving what the socket has into that buffer with one non-blocking recv per
        readiness (pyvisa-py's own read would select and recv again). A reply in pieces is gathered the same
        way, with the loop free in between. The buffer stays pyvisa-py's, so whatever it holds past this reply
        is where a later pyvisa call (the worker's path, a flush) looks for it."""
        term = self._term[-1:]
        session = self._socket_session
        if term in session._pending_buffer:   # read past the previous reply's terminator (two in one segment)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            await self._readable(sock, deadline - loop.time(), timeout)
            try:
                data = sock.recv(65536, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as exc:
                raise Disconnected(self.instrument, f"VISA I/O failed: {exc}") from exc
            if not data:   # the peer closed: pyvisa-py would wait out its timeout on a socket that never fills
                raise Disconnected(self.instrument, "the instrument closed the connection")
            session._pending_buffer.extend(data)   # pyvisa-py replaces the bytearray on each read: look it up
            if term in data:
                return

    async def _readable(self, sock: socket.socket, remaining: float, timeout: float) -> None:
        """Until `sock` is readable, or InstrumentTimeout once `remaining` seconds (of the exchange's `timeout`)
        have passed."""
        if remaining <= 0:
            raise InstrumentTimeout(self.instrument, f"no reply within {timeout:g} s")
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        fd = sock.fileno()
        loop.add_reader(fd, _wake, fut, True)
        expiry = loop.call_later(remaining, _wake, fut, False)
        try:
            readable = await fut
        finally:
            loop.remove_reader(fd)
            expiry.cancel()
        if not readable:
            raise InstrumentTimeout(self.instrument, f"no reply within {timeout:g} s")

    def _discard_input(self, sock: socket.socket) -> None:
        """What arrived since a timeout is the late reply to an earlier command: dropped before the next command so
        that it is never taken for that command's reply (as the stream transports drop their buffer)."""
        self._socket_session._pending_buffer.clear()
        try:
            while sock.recv(65536, socket.MSG_DONTWAIT):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as exc:
            raise Disconnected(self.instrument, f"VISA I/O failed: {exc}") from exc

    async def close(self) -> None:
        await super().close()
        if self._worker is not None:
            self._worker.stop()
            self._worker = None

"""Serve a line-protocol device on a pseudo-terminal or a TCP socket, with faults on demand.

Faults: `no_reply` (the command is swallowed), `garbage` (random bytes then the terminator), `busy` (the
device's own busy reply), `disconnect` (the link drops; it comes back after `downtime` seconds).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import tty
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("labd.sim")

FAULTS = ("no_reply", "garbage", "busy", "disconnect")


class Session:
    """One client connection as the device handler sees it."""

    def __init__(self, send: Callable[[str], None]) -> None:
        self.send = send
        self.stream_task: asyncio.Task | None = None

    def start_stream(self, coro: Awaitable[None]) -> None:
        self.stop_stream()
        self.stream_task = asyncio.ensure_future(coro)

    def stop_stream(self) -> None:
        if self.stream_task is not None:
            self.stream_task.cancel()
            self.stream_task = None


class LineDevice:
    """A device's protocol: override `handle`. Replies are strings (the terminator is added) or lists of them."""

    reply_termination = "\r\n"
    encoding = "ascii"
    echo = False

    async def handle(self, line: str, session: Session) -> str | list[str] | None:
        raise NotImplementedError

    def busy_reply(self, line: str) -> str | None:
        return None

    def prompt(self) -> str | None:
        """Sent after each command's replies, without a terminator (a terminal-mode prompt such as `3> `)."""
        return None


@dataclass
class Fault:
    mode: str
    remaining: int | None  # None: until cleared
    downtime: float = 0.5


class LineServer:
    def __init__(self, device: LineDevice, name: str) -> None:
        self.device, self.name = device, name
        self.fault: Fault | None = None
        self.commands: list[str] = []       # every command received, for tests
        self._tasks: set[asyncio.Task] = set()
        self._pty: tuple[int, int] | None = None
        self._link: Path | None = None
        self._tcp: asyncio.AbstractServer | None = None
        self._tcp_writers: set[asyncio.StreamWriter] = set()
        self._down_until = 0.0
        # The device's own time to answer (real instruments take from about a millisecond to a second):
        # zero by default, set by benches that measure overhead against a realistic reply time.
        self.latency = 0.0

    # --- faults ---------------------------------------------------------------------------------
    def inject(self, mode: str, count: int | None = 1, downtime: float = 0.5) -> None:
        if mode not in FAULTS:
            raise ValueError(f"unknown fault {mode!r}; one of {', '.join(FAULTS)}")
        self.fault = Fault(mode, count, downtime)

    def clear(self) -> None:
        self.fault = None

    def _take_fault(self) -> Fault | None:
        fault = self.fault
        if fault is None:
            return None
        if fault.remaining is not None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                self.fault = None
        return fault

    # --- command processing ---------------------------------------------------------------------
    def _encode(self, line: str) -> bytes:
        return (line + self.device.reply_termination).encode(self.device.encoding, errors="replace")

    async def _process(self, queue: asyncio.Queue[str], session: Session, send_raw: Callable[[bytes], None],
                       drop: Callable[[float], None]) -> None:
        while True:
            line = await queue.get()
            self.commands.append(line)
            if self.device.echo:
                send_raw(self._encode(line))
            fault = self._take_fault()
            if fault is not None:
                log.debug("%s fault %s on %r", self.name, fault.mode, line)
                if fault.mode == "no_reply":
                    continue
                if fault.mode == "garbage":
                    # "~" first: random characters alone can spell a valid reply ("7" is a number)
                    junk = b"~" + bytes(random.randrange(33, 127) for _ in range(random.randint(0, 11)))
                    send_raw(junk + self.device.reply_termination.encode())
                    continue
                if fault.mode == "busy":
                    busy = self.device.busy_reply(line)
                    if busy is not None:
                        send_raw(self._encode(busy))
                    continue
                if fault.mode == "disconnect":
                    drop(fault.downtime)
                    return
            try:
                reply: str | list[str] | None = await self.device.handle(line, session)
            except Exception:  # a simulator bug must not look like an instrument fault
                log.exception("%s: simulator failed on %r", self.name, line)
                continue
            if reply is not None:
                if self.latency:
                    await asyncio.sleep(self.latency)
                for item in [reply] if isinstance(reply, str) else reply:
                    send_raw(self._encode(item))
            prompt = self.device.prompt()
            if prompt is not None:
                send_raw(prompt.encode(self.device.encoding, errors="replace"))

    @staticmethod
    def _split(buffer: bytearray) -> list[str]:
        """Commands end with CR or LF (or both): real instruments accept either."""
        lines: list[str] = []
        while True:
            idx = next((i for i, b in enumerate(buffer) if b in (10, 13)), -1)
            if idx < 0:
                return lines
            raw = bytes(buffer[:idx])
            del buffer[: idx + 1]
            if raw:
                lines.append(raw.decode("ascii", errors="replace"))

    def _spawn(self, coro: Awaitable[None]) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- pseudo-terminal ------------------------------------------------------------------------
    async def start_pty(self, directory: Path) -> str:
        """Serve on a pty; returns a stable path (a symlink that follows the pty across disconnects)."""
        self._link = Path(directory) / self.name
        self._open_pty()
        return str(self._link)

    def _open_pty(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._pty = (master, slave)
        assert self._link is not None
        tmp = self._link.with_name(self._link.name + ".tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tmp.symlink_to(os.ttyname(slave))
        os.replace(tmp, self._link)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str] = asyncio.Queue()
        buffer = bytearray()

        def send_raw(data: bytes) -> None:
            if self._pty and self._pty[0] == master:
                with contextlib.suppress(BlockingIOError, OSError):
                    os.write(master, data)

        session = Session(lambda line: send_raw(self._encode(line)))

        def readable() -> None:
            try:
                data = os.read(master, 4096)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data = b""
            if not data:
                return
            buffer.extend(data)
            for line in self._split(buffer):
                queue.put_nowait(line)

        def drop(downtime: float) -> None:
            session.stop_stream()
            self._close_pty()
            loop.call_later(downtime, self._reopen_pty)

        loop.add_reader(master, readable)
        self._spawn(self._process(queue, session, send_raw, drop))

    def _reopen_pty(self) -> None:
        if self._link is not None and self._pty is None:
            self._open_pty()

    def _close_pty(self) -> None:
        if self._pty is None:
            return
        master, slave = self._pty
        self._pty = None
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(master)
        for fd in (master, slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    # --- TCP ------------------------------------------------------------------------------------
    async def start_tcp(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self._tcp = await asyncio.start_server(self._serve_client, host, port)
        return self._tcp.sockets[0].getsockname()[1]

    async def _serve_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() < self._down_until:
            writer.close()
            return
        self._tcp_writers.add(writer)
        queue: asyncio.Queue[str] = asyncio.Queue()

        def send_raw(data: bytes) -> None:
            if not writer.is_closing():
                writer.write(data)

        session = Session(lambda line: send_raw(self._encode(line)))
        closed = asyncio.Event()

        def drop(downtime: float) -> None:
            self._down_until = loop.time() + downtime
            session.stop_stream()
            writer.close()
            closed.set()

        worker = self._spawn(self._process(queue, session, send_raw, drop))
        buffer = bytearray()
        try:
            while not closed.is_set():
                data = await reader.read(4096)
                if not data:
                    break
                buffer.extend(data)
                for line in self._split(buffer):
                    queue.put_nowait(line)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            session.stop_stream()
            worker.cancel()
            self._tcp_writers.discard(writer)
            writer.close()

    # --- lifetime -------------------------------------------------------------------------------
    async def stop(self) -> None:
        self._close_pty()
        if self._link is not None:
            with contextlib.suppress(FileNotFoundError):
                self._link.unlink()
        if self._tcp is not None:
            self._tcp.close()
            for w in list(self._tcp_writers):
                w.close()
            with contextlib.suppress(Exception):
                await self._tcp.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

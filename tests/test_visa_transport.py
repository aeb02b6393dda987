"""The VISA transport over a raw TCP socket through pyvisa-py: the event-loop path and its fall-backs.

The server here writes bytes exactly as a test wants them (whole, in pieces, never, or by hanging up), which
a simulator would smooth over.
"""
from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from labd.drivers import Disconnected, InstrumentTimeout
from labd.drivers import visa as visa_module
from labd.drivers.transport import LineSettings
from labd.drivers.visa import VisaTransport


@contextlib.asynccontextmanager
async def connected(reply, timeout=2.0):
    """A VISA SOCKET transport to a server that answers each line with `await reply(line, writer)`; both
    closed on leaving."""
    async def on_client(reader, writer):
        try:
            while line := await reader.readline():
                await reply(line.decode().strip(), writer)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
    server = await asyncio.start_server(on_client, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    t = VisaTransport("dmm", f"TCPIP0::127.0.0.1::{port}::SOCKET",
                      LineSettings(write_termination="\n", read_termination="\n", timeout=timeout,
                                   connect_timeout=1.0))
    try:
        yield t
    finally:
        await t.close()
        server.close()


async def test_whole_replies_are_read_on_the_loop_without_the_worker_thread(monkeypatch):
    async def reply(line, writer):
        writer.write(f"{line}=1.5\n".encode())
    async with connected(reply) as t:
        try:
            await t.open()
            assert t._socket_session is not None

            def no_thread(*args):
                raise AssertionError("the worker thread was used for a whole reply")
            monkeypatch.setattr(visa_module._Worker, "call", no_thread)
            assert [await t.query(f"Q{i}") for i in range(50)] == [f"Q{i}=1.5" for i in range(50)]
            assert await t.transaction("TWO", 0) == []
        finally:
            monkeypatch.undo()


async def test_a_reply_in_pieces_is_gathered_on_the_loop_without_blocking_it_and_read_whole(monkeypatch):
    async def reply(line, writer):
        writer.write(b"+1.2345")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(b"6E-03\n")
    async with connected(reply) as t:
        # The loop keeps running while the rest of the reply is awaited: a ticker proves it was not blocked.
        ticks = 0

        async def tick():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.005)
                ticks += 1
        ticker = asyncio.create_task(tick())
        await t.open()

        def no_thread(*args):
            raise AssertionError("the worker thread was used for a reply in pieces")
        monkeypatch.setattr(visa_module._Worker, "call", no_thread)
        assert await t.query("READ?") == "+1.23456E-03"
        monkeypatch.undo()
        ticker.cancel()
        assert ticks >= 5


async def test_two_replies_in_one_segment_are_both_read():
    async def reply(line, writer):
        writer.write(b"first\nsecond\n")
    async with connected(reply) as t:
        assert await t.transaction("BOTH?", 2) == ["first", "second"]


async def test_no_reply_is_a_timeout_at_the_configured_time():
    async def reply(line, writer):
        pass
    async with connected(reply, timeout=0.3) as t:
        start = time.monotonic()
        with pytest.raises(InstrumentTimeout, match="dmm: no reply within 0.3 s"):
            await t.query("SILENT?")
        assert 0.25 < time.monotonic() - start < 1.5


async def test_a_hang_up_is_a_disconnection_at_once_not_a_timeout():
    async def reply(line, writer):
        writer.close()
    async with connected(reply, timeout=5.0) as t:
        start = time.monotonic()
        with pytest.raises(Disconnected, match="dmm: the instrument closed the connection"):
            await t.query("BYE?")
        assert time.monotonic() - start < 1.0
        assert not t.connected


async def test_a_reply_that_comes_after_its_timeout_is_not_taken_for_the_next_commands():
    async def reply(line, writer):
        if line == "SLOW?":
            await asyncio.sleep(0.3)
        writer.write(f"{line}-reply\n".encode())
    async with connected(reply, timeout=0.15) as t:
        with pytest.raises(InstrumentTimeout):
            await t.query("SLOW?")
        await asyncio.sleep(0.3)                     # the late reply is in the socket now
        assert await t.query("NEXT?") == "NEXT?-reply"


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_the_loop_path_works_on_both_event_loops_the_daemon_can_run(loop):
    """The daemon runs on uvloop (daemon/eventloop.py) and the suite on asyncio's loop: the readiness wait on
    pyvisa-py's socket, a reply gathered in pieces and the timeout must behave alike on both."""
    from labd.daemon import eventloop

    async def scenario():
        async def reply(line, writer):
            if line == "PIECES?":
                writer.write(b"+1.2")
                await writer.drain()
                await asyncio.sleep(0.03)
                writer.write(b"5\n")
            elif line != "SILENT?":
                writer.write(f"{line}=ok\n".encode())
        async with connected(reply, timeout=0.2) as t:
            got = [await t.query("A?"), await t.query("PIECES?")]
            try:
                await t.query("SILENT?")
                got.append("no timeout")
            except InstrumentTimeout:
                got.append("timeout")
            got.append(await t.query("B?"))
            return type(asyncio.get_running_loop()).__module__, got
    module, got = eventloop.run(scenario(), loop)
    assert module.startswith(loop)
    assert got == ["A?=ok", "+1.25", "timeout", "B?=ok"]


async def test_over_a_serial_line_too_a_late_reply_is_not_taken_for_the_next_commands(serve):
    """A serial resource (ASRL, on a pty) goes through the worker thread: the same rule holds there."""
    from labd.simulators.line_server import LineDevice

    class Late(LineDevice):
        async def handle(self, line, session):
            if line == "SLOW?":
                await asyncio.sleep(0.3)
            return f"{line}-reply"
    async with serve(Late(), "pty") as (_, pty):
        t = VisaTransport("bath", f"ASRL{pty}::INSTR",
                          LineSettings(write_termination="\r\n", read_termination="\r\n", timeout=0.15))
        try:
            assert t._socket_session is None and await t.query("FIRST?") == "FIRST?-reply"
            with pytest.raises(InstrumentTimeout):
                await t.query("SLOW?")
            await asyncio.sleep(0.3)                 # the late reply is in the port's input now
            assert await t.query("NEXT?") == "NEXT?-reply"
        finally:
            await t.close()

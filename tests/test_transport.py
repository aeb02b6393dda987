"""Transport behaviour shared by every driver: addresses, ordering, reconnect with backoff, raw I/O log."""
from __future__ import annotations

import asyncio
import logging

import pytest

from labd.drivers import Disconnected, InstrumentTimeout, create_instrument, parse_address
from labd.drivers.stream import TcpTransport
from labd.drivers.transport import LineSettings
from labd.simulators.line_server import LineDevice, LineServer


class Echo(LineDevice):
    """Replies `<command>!` after a delay proportional to the number in the command."""

    async def handle(self, line, session):
        await asyncio.sleep(float(line.split()[1]) if " " in line else 0)
        return line + "!"


@pytest.mark.parametrize("text, kind", [
    ("/dev/ttyUSB0", "serial"), ("socket://10.0.0.5:4001", "serial"), ("COM3", "serial"),
    ("TCPIP0::127.0.0.1::5025::SOCKET", "visa"), ("ASRL/dev/ttyS0::INSTR", "visa"),
    ("modbus-tcp://127.0.0.1:502?unit=3", "modbus-tcp"), ("modbus-rtu:///dev/ttyUSB1?unit=240", "modbus-rtu"),
    ("tcp://10.0.0.9:2000", "tcp"),
])
def test_address_forms(text, kind):
    assert parse_address(text).kind == kind


@pytest.mark.parametrize("text", ["", "http://x", "modbus-tcp://h:1?unit=x", "modbus-tcp://h?unit=300", "tcp://host"])
def test_bad_addresses_say_why(text):
    with pytest.raises(ValueError):
        parse_address(text)


def test_unknown_driver_is_named():
    with pytest.raises(ValueError, match="unknown driver 'nope'"):
        create_instrument("x", "nope", "/dev/null")


async def test_one_request_in_flight_keeps_replies_paired():
    server = LineServer(Echo(), "echo")
    port = await server.start_tcp()
    t = TcpTransport("echo", "127.0.0.1", port, LineSettings())
    try:
        # A slow command first: a transport without a lock would pair the replies wrongly.
        replies = await asyncio.gather(t.query("A 0.05"), t.query("B 0"), t.query("C 0.01"))
        assert replies == ["A 0.05!", "B 0!", "C 0.01!"]
    finally:
        await t.close()
        await server.stop()


async def test_timeout_carries_partial_bytes():
    class Partial(LineDevice):
        reply_termination = ""

        async def handle(self, line, session):
            return "12.3"  # no terminator ever comes
    server = LineServer(Partial(), "partial")
    port = await server.start_tcp()
    t = TcpTransport("partial", "127.0.0.1", port, LineSettings(timeout=0.2))
    try:
        with pytest.raises(InstrumentTimeout) as exc:
            await t.query("X")
        assert exc.value.raw == b"12.3" and exc.value.instrument == "partial"
    finally:
        await t.close()
        await server.stop()


async def test_a_silent_instrument_times_out_at_the_deadline_not_at_its_late_reply():
    """The read's own timer ends the wait (issue 18 replaced asyncio.timeout by one timer per wait): a reply that
    comes after the deadline is not taken for this one."""
    server = LineServer(Echo(), "echo")
    port = await server.start_tcp()
    t = TcpTransport("echo", "127.0.0.1", port, LineSettings(timeout=0.2))
    try:
        with pytest.raises(InstrumentTimeout, match="no reply within 0.2 s"):
            await t.query("A 1.0")
    finally:
        await t.close()
        await server.stop()


async def test_a_cancelled_read_stops_and_its_late_reply_is_not_taken_for_the_next():
    server = LineServer(Echo(), "echo")
    port = await server.start_tcp()
    t = TcpTransport("echo", "127.0.0.1", port, LineSettings(timeout=5))
    try:
        task = asyncio.create_task(t.query("A 0.3"))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.5)                # "A 0.3!" arrives now, with nobody reading it
        assert await t.query("B 0") == "B 0!"
    finally:
        await t.close()
        await server.stop()


async def test_reconnects_with_backoff_when_the_instrument_comes_up_late():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = TcpTransport("late", "127.0.0.1", port, LineSettings(connect_timeout=3.0))
    server = LineServer(Echo(), "late")

    async def come_up():
        await asyncio.sleep(0.3)
        await server.start_tcp(port=port)
    try:
        starter = asyncio.create_task(come_up())
        assert await t.query("hello") == "hello!"
        await starter
    finally:
        await t.close()
        await server.stop()


async def test_gives_up_with_disconnected_after_connect_timeout():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = TcpTransport("gone", "127.0.0.1", port, LineSettings(connect_timeout=0.3))
    with pytest.raises(Disconnected, match="gone: cannot connect"):
        await t.query("x")


async def test_raw_io_is_logged_at_debug(caplog):
    server = LineServer(Echo(), "echo")
    port = await server.start_tcp()
    t = TcpTransport("echo", "127.0.0.1", port, LineSettings())
    try:
        with caplog.at_level(logging.DEBUG, logger="labd.io"):
            await t.query("ping")
        assert "echo > b'ping\\r\\n'" in caplog.text and "echo < b'ping!'" in caplog.text
    finally:
        await t.close()
        await server.stop()

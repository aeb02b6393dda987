"""Live readings on a broker connection of their own: MQTT 3.1.1, QoS 0, each publish tick in one write.

Why not through the service's paho client: live readings are the only messages the service sends by the
thousand, and there paho spends more per message than the reading it carries — a message object, MQTT 5
properties, a reason code for the publish callback, one socket send per packet (profile in docs/performance.md).
A QoS 0 PUBLISH is a few bytes of header before the topic and the payload (MQTT 3.1.1 §3.3), nothing comes
back for it, and a tick of them goes out in one `write`. Everything that needs the protocol — commands, replies,
retained states, the last will, QoS 1 — stays on the paho connection (`mqtt.py`).

The connection logs in as the service does (the broker's ACL already lets the service write its station's
topics), with the client id `<service id>-live`, keeps itself alive with PINGREQ, reconnects with backoff, and
drops a tick rather than queue it when it is down or the broker reads too slowly: a live view wants the latest
reading, and every reading is recorded and streamed regardless.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import struct

log = logging.getLogger("labd.mqtt")

CONNACK_REASONS = {1: "unacceptable protocol version", 2: "client identifier rejected", 3: "server unavailable",
                   4: "bad user name or password", 5: "not authorised"}
PINGREQ, DISCONNECT = b"\xc0\x00", b"\xe0\x00"
MAX_BUFFER = 4 << 20      # bytes waiting for the broker beyond which a tick is dropped


def remaining_length(n: int) -> bytes:
    """MQTT's variable-length integer (§2.2.3): 7 bits a byte, the high bit saying more follow."""
    if not 0 <= n <= 268_435_455:
        raise ValueError(f"an MQTT packet of {n} bytes is too long")
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(text: str | bytes) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return struct.pack("!H", len(data)) + data


def publish_packet(topic: str, payload: bytes) -> bytes:
    """A QoS 0, not retained PUBLISH (§3.3): fixed header 0x30, remaining length, topic, payload."""
    body = _string(topic) + payload
    return b"\x30" + remaining_length(len(body)) + body


def connect_packet(identifier: str, username: str | None, password: str | None, keepalive: int) -> bytes:
    """CONNECT (§3.1): protocol MQTT level 4, a clean session, the credentials when given."""
    flags = 0x02 | (0x80 if username is not None else 0) | (0x40 if password is not None else 0)
    body = _string("MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive) + _string(identifier)
    if username is not None:
        body += _string(username)
    if password is not None:
        body += _string(password)
    return b"\x10" + remaining_length(len(body)) + body


class LivePublisher:
    def __init__(self, host: str, port: int, *, identifier: str, username: str | None = None,
                 password: str | None = None, tls_context: ssl.SSLContext | None = None,
                 keepalive: int = 30) -> None:
        self.host, self.port, self.identifier = host, port, identifier
        self.username, self.password, self.tls_context, self.keepalive = username, password, tls_context, keepalive
        self.connected = asyncio.Event()
        self.dropped = 0             # messages not sent: no connection, or the broker reading too slowly
        self._writer: asyncio.StreamWriter | None = None
        self._last_failure: str | None = None

    def send(self, messages: list[tuple[str, bytes]]) -> int:
        """Write one tick's messages at once; returns how many went (0 when the tick is dropped)."""
        writer = self._writer
        if writer is None or writer.is_closing() or not self.connected.is_set() or \
                writer.transport.get_write_buffer_size() > MAX_BUFFER:
            self.dropped += len(messages)
            return 0
        writer.write(b"".join([publish_packet(topic, payload) for topic, payload in messages]))
        return len(messages)

    async def run(self) -> None:
        """Connect, stay connected, reconnect with backoff; until cancelled."""
        backoff = 0.5
        while True:
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(
                    self.host, self.port, ssl=self.tls_context,
                    server_hostname=self.host if self.tls_context else None), 10)
                try:
                    await self._session(reader, writer)
                    backoff = 0.5
                finally:
                    self.connected.clear()
                    self._writer = None
                    writer.close()
                    with contextlib.suppress(Exception):
                        await writer.wait_closed()
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError) as exc:
                reason = str(exc) or type(exc).__name__
                if reason != self._last_failure:
                    log.warning("live readings: cannot use the broker at %s:%d: %s (retrying)", self.host,
                                self.port, reason)
                self._last_failure = reason
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(connect_packet(self.identifier, self.username, self.password, self.keepalive))
        ack = await asyncio.wait_for(reader.readexactly(4), 10)
        if ack[0] != 0x20:
            raise ConnectionError(f"the broker answered CONNECT with packet type {ack[0] >> 4}")
        if ack[3] != 0:
            raise ConnectionError(f"the broker refused the live connection: "
                                  f"{CONNACK_REASONS.get(ack[3], f'code {ack[3]}')}")
        self._writer = writer
        self._last_failure = None
        self.connected.set()
        log.info("live readings: connected to the broker at %s:%d", self.host, self.port)
        ping = asyncio.create_task(self._ping(writer))
        try:
            while True:                       # only PINGRESP comes back; end of stream ends the session
                if not await reader.read(1024):
                    raise ConnectionError("the broker closed the live connection")
        finally:
            ping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ping

    async def _ping(self, writer: asyncio.StreamWriter) -> None:
        while True:
            await asyncio.sleep(self.keepalive / 2)
            writer.write(PINGREQ)

    async def close(self) -> None:
        """A clean DISCONNECT, so the broker logs a goodbye rather than a lost client."""
        writer = self._writer
        if writer is not None and not writer.is_closing():
            writer.write(DISCONNECT)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.drain(), 2)

"""The MQTT side of the service (aiomqtt, MQTT 5): status with a last will, live readings, run states, commands.

The connection is kept up by a loop that reconnects with backoff; while the broker is away the service goes on
(readings are recorded and streamed regardless). Retained messages (status, run states) are remembered and
published again on every reconnect, so a broker restarted without persistence still shows the truth. Live
readings are best effort (QoS 0, dropped while disconnected); replies and run states use QoS 1.

Live readings are coalesced: each publish tick (`live_interval`, 10 ms by default) sends the latest reading of
each instrument channel, on the documented topic. At a lab's rates (a reading a second or two per channel)
nothing is left out; an instrument read faster than the tick shows its latest value, as a live view should, and
its every reading is still recorded and streamed. Why: a message through paho and the broker costs more than
the reading it carries, and at a hundred instruments the publishing was the daemon's largest cost (issue 18).
For the same reason a tick goes out over a second connection of its own, in one write (`live.py`); while that
connection is down the tick goes through paho.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from .live import LivePublisher

log = logging.getLogger("labd.mqtt")


class MqttUrlError(ValueError):
    pass


def masked(url: str) -> str:
    """The URL as it may be shown: a password in it is replaced, so an error message never carries it."""
    u = urlparse(url)
    if u.password is None:
        return url
    netloc = u.netloc.replace(f":{u.password}@", ":***@", 1)
    return u._replace(netloc=netloc).geturl()


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool

    @classmethod
    def parse(cls, url: str) -> "BrokerAddress":
        """mqtt://user:password@host:port, or mqtts:// for TLS (port 8883 by default)."""
        u = urlparse(url)
        if u.scheme not in ("mqtt", "mqtts") or not u.hostname:
            raise MqttUrlError(f"MQTT URL {masked(url)!r}: expected mqtt://host[:port] or mqtts://…")
        try:
            port = u.port or (8883 if u.scheme == "mqtts" else 1883)
        except ValueError:
            raise MqttUrlError(f"MQTT URL {masked(url)!r}: bad port") from None
        return cls(u.hostname, port, unquote(u.username) if u.username else None,
                   unquote(u.password) if u.password else None, u.scheme == "mqtts")


# Built once: json.dumps with options makes a new encoder at every call, and live readings call it by the thousand.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str)


def dumps(data: Any) -> bytes:
    return _ENCODER.encode(data).encode()


# payload, MQTT 5 response topic, correlation data, the broker login the topic names (None: the shared topic)
Handler = Callable[[bytes, str | None, bytes | None, str | None], Coroutine[Any, Any, None]]


class Bus:
    def __init__(self, url: str, root: str, *, identifier: str, on_command: Handler,
                 tls_context: ssl.SSLContext | None = None, queue_size: int = 100_000,
                 username: str | None = None, password: str | None = None, live_interval: float = 0.01,
                 watch: tuple[str, ...] = (), on_watched: Callable[[str, bytes], None] | None = None) -> None:
        address = BrokerAddress.parse(url)
        # Credentials from the configuration (a password file, the environment) win over any in the URL.
        self.address = BrokerAddress(address.host, address.port, username or address.username,
                                     password or address.password, address.tls)
        self.root = root.rstrip("/")
        self.identifier = identifier
        self.on_command = on_command
        self.tls_context = tls_context or (ssl.create_default_context() if self.address.tls else None)
        self.connected = asyncio.Event()
        self.retained: dict[str, bytes] = {}
        self._out: asyncio.Queue[tuple[str, bytes, int, bool, Properties | None]] = asyncio.Queue(queue_size)
        self._client: aiomqtt.Client | None = None
        self._leaving = asyncio.Event()
        self._quiet = asyncio.Event()      # set while nothing queued is waiting for the broker
        self._last_failure: str | None = None
        self.dropped = 0
        self.live_interval = live_interval
        self._live: dict[Any, tuple[str, Any]] = {}
        self._live_tick: asyncio.Handle | None = None
        self._last_tick = float("-inf")    # the loop time of the last publish tick
        self.coalesced = 0              # live readings replaced by a later one within the same tick
        # Other topics followed read-only (the lab's other stations: fleet.py), handed to `on_watched`.
        self.watch, self.on_watched = watch, on_watched
        a = self.address
        self.live_publisher = LivePublisher(a.host, a.port, identifier=f"{identifier}-live", username=a.username,
                                            password=a.password, tls_context=self.tls_context)
        self._live_task: asyncio.Task | None = None

    # --- publishing (never blocks the caller) -------------------------------------------------------------------
    def publish(self, topic: str, data: Any, *, qos: int = 0, retain: bool = False,
                properties: Properties | None = None, absolute: bool = False) -> None:
        """`topic` is under the root unless `absolute` (a client's MQTT 5 response topic)."""
        payload = data if isinstance(data, bytes) else dumps(data)
        full = topic if absolute else f"{self.root}/{topic}"
        if retain:
            self.retained[full] = payload
        if not self.connected.is_set() and qos == 0:
            self.dropped += 1
            return
        try:
            self._out.put_nowait((full, payload, qos, retain, properties))
        except asyncio.QueueFull:
            self.dropped += 1

    def live(self, topic: str, data: Any, key: Any = None) -> None:
        """A live reading (QoS 0, not retained), coalesced per `key` (the topic unless given: an instrument's
        channel) until the next publish tick. Ticks are at least `live_interval` apart; a reading after a quiet
        interval goes out at the end of this event-loop iteration rather than on a timer: at a lab's rates (an
        instrument every few hundred ms) each reading would otherwise cost a wake-up of its own (issue 18)."""
        if not self.connected.is_set():
            self.dropped += 1
            return
        key = topic if key is None else key
        if key in self._live:
            self.coalesced += 1
        self._live[key] = (topic, data)
        if self._live_tick is None:
            loop = asyncio.get_running_loop()
            wait = self._last_tick + self.live_interval - loop.time()
            self._live_tick = loop.call_later(wait, self._publish_live) if wait > 0 else \
                loop.call_soon(self._publish_live)

    def _publish_live(self) -> None:
        self._live_tick = None
        self._last_tick = asyncio.get_running_loop().time()
        live, self._live = self._live, {}
        messages = [(f"{self.root}/{topic}", data if isinstance(data, bytes) else dumps(data))
                    for topic, data in live.values()]
        if self.live_publisher.connected.is_set():
            self.live_publisher.send(messages)
            return
        client = self._client
        paho = getattr(client, "_client", None)     # aiomqtt's paho client: QoS 0 needs no await
        for full, payload in messages:
            if paho is None or not self.connected.is_set():
                self.dropped += 1
            elif paho.publish(full, payload, 0, False).rc != 0:
                self.dropped += 1

    def reply(self, command_id: str, data: Any, response_topic: str | None = None,
              correlation: bytes | None = None) -> None:
        self.publish(f"reply/{command_id}", data, qos=1)
        if response_topic:
            props = Properties(PacketTypes.PUBLISH)
            if correlation is not None:
                props.CorrelationData = correlation
            self.publish(response_topic, data, qos=1, properties=props, absolute=True)

    # --- the connection -----------------------------------------------------------------------------------------
    async def run(self) -> None:
        if self._live_task is None or self._live_task.done():
            self._live_task = asyncio.create_task(self.live_publisher.run(), name="mqtt-live")
        try:
            await self._run()
        finally:
            self._live_task.cancel()
            await asyncio.gather(self._live_task, return_exceptions=True)

    async def _run(self) -> None:
        a = self.address
        will = aiomqtt.Will(f"{self.root}/status", dumps({"state": "offline", "reason": "connection lost"}), qos=1,
                            retain=True)
        backoff = 0.5
        while True:
            try:
                async with aiomqtt.Client(a.host, a.port, username=a.username, password=a.password,
                                          identifier=self.identifier, protocol=aiomqtt.ProtocolVersion.V5,
                                          will=will, tls_context=self.tls_context, keepalive=15,
                                          timeout=10) as client:
                    self._client = client
                    client.pending_calls_threshold = 1000   # our batches are bounded; no warning per publish
                    # <root>/cmd/<username>: the broker's ACL (pattern write labd/+/cmd/%u) lets only that user
                    # write it, so the topic says who sent the command. <root>/cmd: status and list only.
                    await client.subscribe(f"{self.root}/cmd", qos=1)
                    await client.subscribe(f"{self.root}/cmd/+", qos=1)
                    for pattern in self.watch:
                        await client.subscribe(pattern, qos=1)
                    for topic, payload in list(self.retained.items()):
                        await client.publish(topic, payload, qos=1, retain=True)
                    self.connected.set()
                    self._last_failure = None
                    log.info("connected to the broker at %s:%d", a.host, a.port)
                    backoff = 0.5
                    # Until the connection fails, or goodbye() asks to leave: then the context exits by itself
                    # and sends a clean DISCONNECT, so the broker does not publish the will over the goodbye.
                    tasks = [asyncio.create_task(self._send(client)), asyncio.create_task(self._receive(client)),
                             asyncio.create_task(self._leaving.wait())]
                    try:
                        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        for t in tasks:
                            t.cancel()
                        await asyncio.gather(*tasks, return_exceptions=True)
                    if self._leaving.is_set():
                        return
                    for t in done:
                        t.result()       # the failure that ended the connection
            except aiomqtt.MqttError as exc:
                reason = str(exc) or type(exc).__name__
                if self.connected.is_set():
                    log.warning("broker connection lost: %s", reason)
                elif reason != self._last_failure:
                    # Refused credentials, a certificate that does not verify, nobody listening: said once per
                    # reason, not at every retry.
                    log.warning("cannot connect to the broker at %s:%d: %s (retrying)", a.host, a.port, reason)
                else:
                    log.debug("broker still not reachable: %s", reason)
                self._last_failure = reason
            finally:
                self.connected.clear()
                self._client = None
            if self._leaving.is_set():
                return
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            props = message.properties
            response = getattr(props, "ResponseTopic", None) if props else None
            correlation = getattr(props, "CorrelationData", None) if props else None
            payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
            topic = str(message.topic)
            if topic != f"{self.root}/cmd" and not topic.startswith(f"{self.root}/cmd/"):
                if self.on_watched is not None:        # a watched topic: read, never a command
                    self.on_watched(topic, payload)
                continue
            user = topic[len(self.root) + 5:] if topic.startswith(f"{self.root}/cmd/") else None
            asyncio.create_task(self.on_command(payload, response, correlation, user))

    async def _send(self, client: aiomqtt.Client) -> None:
        # What is queued goes out together: each publish waits for paho to write it, and waiting for them one
        # by one would cost a loop iteration per message. Batches stay small because aiomqtt counts its pending
        # calls on every publish.
        while True:
            if self._out.empty():
                self._quiet.set()
            batch = [await self._out.get()]
            self._quiet.clear()
            while len(batch) < 200 and not self._out.empty():
                batch.append(self._out.get_nowait())
            results = await asyncio.gather(*(client.publish(t, p, qos=q, retain=r, properties=pr, timeout=10)
                                             for t, p, q, r, pr in batch), return_exceptions=True)
            failed = [m for m, res in zip(batch, results) if isinstance(res, Exception)]
            if failed:
                for m in failed:
                    if m[2] > 0 or m[3]:   # replies and states wait for the next connection; readings do not
                        with contextlib.suppress(asyncio.QueueFull):
                            self._out.put_nowait(m)
                raise aiomqtt.MqttError(f"{len(failed)} publishes failed")

    async def goodbye(self, reason: str) -> None:
        """Retained offline status before a clean stop (the will covers the unclean ones).

        Every queued message is acknowledged before leaving: Mosquitto before 2.0.22 takes a DISCONNECT that
        arrives while it still owes a PUBACK for an error ("out of memory") and publishes the will over the
        goodbye (eclipse-mosquitto#3253)."""
        self.retained[f"{self.root}/status"] = dumps({"state": "offline", "reason": reason})
        client = self._client
        if client is not None and self.connected.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5.0):
                    while not (self._out.empty() and self._quiet.is_set()):
                        await self._quiet.wait()
                        await asyncio.sleep(0)
        if client is not None:
            try:
                await client.publish(f"{self.root}/status", self.retained[f"{self.root}/status"], qos=1,
                                     retain=True, timeout=5)
            except aiomqtt.MqttError:
                pass
        await self.live_publisher.close()
        self._leaving.set()      # run() leaves its connection cleanly and returns

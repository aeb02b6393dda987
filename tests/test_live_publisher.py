"""Live readings' own broker connection (daemon/service/live.py, issue 18): the packets as MQTT 3.1.1 spells
them, delivered intact by a real Mosquitto to an ordinary client, refused logins said, the ACL obeyed."""
from __future__ import annotations

import asyncio
import logging

import aiomqtt
import pytest

from labd.daemon.service.live import LivePublisher, publish_packet, remaining_length

from .realparts import USERS


@pytest.mark.parametrize("n, encoded", [
    # MQTT 3.1.1 §2.2.3, Table 2.4: the limits of each length of the remaining-length field
    (0, "00"), (127, "7f"), (128, "8001"), (16_383, "ff7f"), (16_384, "808001"), (2_097_151, "ffff7f"),
    (2_097_152, "80808001"), (268_435_455, "ffffff7f"),
])
def test_the_remaining_length_is_encoded_as_the_standard_tabulates_it(n, encoded):
    assert remaining_length(n).hex() == encoded


def test_a_length_beyond_the_protocol_is_refused():
    with pytest.raises(ValueError, match="too long"):
        remaining_length(268_435_456)


def test_a_publish_packet_is_header_topic_payload():
    assert publish_packet("a/b", b"xy") == b"\x30\x07\x00\x03a/bxy"


async def _publisher(mosquitto, user: str = "labd", password: str | None = None) -> tuple[LivePublisher,
                                                                                           asyncio.Task]:
    pub = LivePublisher("127.0.0.1", mosquitto.port, identifier=f"test-live-{user}", username=user,
                        password=password or USERS[user], keepalive=2)
    return pub, asyncio.create_task(pub.run())


async def test_a_tick_of_messages_of_every_size_arrives_intact_and_in_order(mosquitto):
    payloads = [b"1", b"x" * 200, b"y" * 20_000, "°C ± 0,01".encode()]
    async with aiomqtt.Client("127.0.0.1", mosquitto.port, username="viewer", password=USERS["viewer"]) as sub:
        await sub.subscribe("labd/bench-1/instruments/+/reading")
        pub, task = await _publisher(mosquitto)
        try:
            await asyncio.wait_for(pub.connected.wait(), 10)
            sent = pub.send([(f"labd/bench-1/instruments/i{n}/reading", p) for n, p in enumerate(payloads)])
            assert sent == len(payloads)
            got = []
            async with asyncio.timeout(10):
                async for message in sub.messages:
                    got.append((str(message.topic), message.payload))
                    if len(got) == len(payloads):
                        break
            assert got == [(f"labd/bench-1/instruments/i{n}/reading", p) for n, p in enumerate(payloads)]
            await asyncio.sleep(2.5)            # past a keep-alive interval: the pings keep the session up
            assert pub.connected.is_set()
            await pub.close()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_a_refused_login_is_said_once_and_nothing_is_sent(mosquitto, caplog):
    caplog.set_level(logging.WARNING, "labd.mqtt")
    pub, task = await _publisher(mosquitto, password="wrong")
    try:
        await asyncio.sleep(1.5)
        assert not pub.connected.is_set()
        assert pub.send([("labd/bench-1/instruments/x/reading", b"1")]) == 0 and pub.dropped == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    refusals = [r.getMessage() for r in caplog.records if "live readings" in r.getMessage()]
    assert refusals and "refused the live connection" in refusals[0]
    assert len(refusals) == 1                   # retried, but said once per reason


async def test_the_brokers_acl_still_decides_what_the_live_connection_may_publish(mosquitto):
    """A viewer's login may read the lab's topics but not write them: its live messages never arrive."""
    async with aiomqtt.Client("127.0.0.1", mosquitto.port, username="labd", password=USERS["labd"]) as sub:
        await sub.subscribe("labd/bench-1/instruments/+/reading")
        pub, task = await _publisher(mosquitto, user="viewer")
        try:
            await asyncio.wait_for(pub.connected.wait(), 10)
            pub.send([("labd/bench-1/instruments/x/reading", b"forged")])
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(1.0):
                    async for _ in sub.messages:
                        break
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

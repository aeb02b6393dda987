"""The service end to end with the real parts: simulated lab + labd serve + Mosquitto + VictoriaMetrics, driven
by a plain MQTT client as a technician's tablet would."""
from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path

import aiomqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from labd.daemon.config import load_config
from labd.daemon.records import RecordsReader
from labd.daemon.service import Service

from .conftest import CONFIG
from .realparts import USERS

ROOT = "labd/bench-1"
QUICK = {"set_points": [30.0], "repetitions": 3, "stability.window": 6, "interval": 10.0}


@contextlib.asynccontextmanager
async def running_service(tmp_path: Path, mosquitto, victoria=None, **kw):
    # The example lab's schedules would start their runs whenever the simulated clock passes their time of day,
    # which depends on when the test runs: only a test about schedules keeps them.
    config = load_config(CONFIG)
    if not kw.pop("schedules", False):
        config = config.model_copy(update={"schedules": []})
    service = Service(config, simulate=True, speed=kw.pop("speed", 400), seed=kw.pop("seed", 3),
                      mqtt_url=mosquitto.url("labd"), influx_url=victoria.url if victoria else None,
                      records_path=str(tmp_path / "labd.sqlite"), sim_start=time.time() - 2 * 86400, **kw)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    await asyncio.wait_for(service.ready.wait(), 30)
    await asyncio.wait_for(service.bus.connected.wait(), 10)
    try:
        yield service
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)


def tablet(mosquitto, user: str = "demo") -> aiomqtt.Client:
    """A person's tablet, logged in to the broker as `user` (the example lab's operator of that id)."""
    client = aiomqtt.Client("127.0.0.1", mosquitto.port, username=user, password=USERS[user],
                            protocol=aiomqtt.ProtocolVersion.V5, identifier=f"tablet-{user}-{time.monotonic_ns()}")
    client.labd_user = user   # type: ignore[attr-defined]
    return client


async def send(client: aiomqtt.Client, **command) -> None:
    """On the tablet's own command topic, the one its login may write."""
    await client.publish(f"{ROOT}/cmd/{client.labd_user}", json.dumps(command), qos=1)


async def follow_calibration(client: aiomqtt.Client, *, on_reading=None, timeout: float = 120.0) -> dict:
    """Start a quick calibration, answer its prompt, follow it to its result. Returns what was seen."""
    seen = {"readings": [], "states": [], "reply": None, "result": None}
    await send(client, id="c1", action="start", operator="demo", procedure="thermometer-calibration", params=QUICK)
    answered = False
    async with asyncio.timeout(timeout):
        async for m in client.messages:
            topic, data = str(m.topic), json.loads(m.payload)
            if topic == f"{ROOT}/reply/c1":
                assert data["ok"], data
                seen["reply"] = data
            elif topic.endswith("/state") and "/runs/" in topic:
                seen["states"].append(data)
                if data["prompt"] and data["prompt"]["key"] == "insert_probes" and not answered:
                    answered = True
                    await send(client, id="a1", action="answer", operator="demo", run_id=data["run_id"],
                               prompt="insert_probes", value="done")
            elif "/instruments/" in topic and data.get("run_id") and "value" in data:   # readings, not markers
                seen["readings"].append(data)
                if on_reading:
                    await on_reading(len(seen["readings"]))
            elif topic.endswith("/result"):
                seen["result"] = data
                return seen
    return seen


async def test_a_technician_runs_a_calibration_over_mqtt_and_every_reading_is_recorded_and_streamed(
        tmp_path, mosquitto, victoria):
    async with running_service(tmp_path, mosquitto, victoria) as service:
        async with tablet(mosquitto) as client:
            await client.subscribe(f"{ROOT}/#", qos=1)
            seen = await follow_calibration(client)
            run_id = seen["reply"]["run_id"]
            assert seen["result"]["run_id"] == run_id
            assert seen["result"]["results"][0]["nominal"] == 30.0
            assert any(s["prompt"] and s["prompt"]["key"] == "insert_probes" for s in seen["states"])
            assert seen["states"][-1]["state"] == "completed"
            # The draft certificate, as labd run writes it, beside the records.
            assert sorted(seen["result"]["documents"]) == sorted(
                [f"certificate-{run_id}-{lang}.{ext}" for lang in ("en", "id") for ext in ("html", "pdf")]
                + [f"dcc-{run_id}.xml"])
            assert all((tmp_path / "documents" / d).is_file() for d in seen["result"]["documents"])
        assert await service.streamer.drained(30)
    with RecordsReader(tmp_path / "labd.sqlite") as reader:
        recorded = reader.readings(run_id)
        assert reader.run(run_id).state == "completed"
        assert reader.verify().ok
        commands = reader.conn.execute("SELECT outcome FROM commands WHERE source = 'mqtt:demo'").fetchall()
        configuration = reader.last_configuration()
    assert len(recorded) == len(seen["readings"]) >= 6          # every live reading of the run is on record
    assert [tuple(c) for c in commands] == [("ok",), ("ok",)]    # the start and the answer
    assert configuration is not None and "operators.toml" in configuration["files"]   # on record at the start
    series = [s for s in victoria.export('{__name__="reading_raw_value"}') if s["metric"].get("run") == run_id]
    streamed = sorted((t, v) for s in series for t, v in zip(s["timestamps"], s["values"]))
    expected = sorted((round(r["time"] * 1000), r["value"]) for r in recorded)
    assert len(streamed) == len(expected)
    for (t1, v1), (t2, v2) in zip(streamed, expected):
        assert t1 == t2 and v1 == pytest.approx(v2, rel=1e-9)


async def test_bad_commands_get_a_clear_reply_and_disturb_nothing(tmp_path, mosquitto):
    async with running_service(tmp_path, mosquitto):
        async with tablet(mosquitto) as client:
            await client.subscribe(f"{ROOT}/reply/#", qos=1)
            props = Properties(PacketTypes.PUBLISH)
            props.ResponseTopic = "labd/tablets/t1/inbox"
            props.CorrelationData = b"corr-42"
            await client.subscribe("labd/tablets/t1/inbox", qos=1)
            cases = [
                (b"not json", "invalid", "not valid JSON"),
                (b'{"id": "b1", "action": "fly"}', "b1", "unknown action 'fly'"),
                (b'{"id": "b2", "action": "start", "operator": "demo"}', "b2", "needs procedure"),
                (b'{"id": "b3", "action": "start", "operator": "supervisor", "procedure": "thermometer-calibration"}',
                 "b3", "names operator 'supervisor' but was sent by 'demo'"),
                (b'{"id": "b4", "action": "start", "operator": "demo", "procedure": "thermometer-calibration", '
                 b'"params": {"repetitions": "many"}}', "b4", "repetitions"),
                (b'{"id": "b5", "action": "abort", "operator": "demo"}', "b5", "no run in progress"),
                (b'{"id": "b6", "action": "status", "bogus": 1}', "b6", "unknown field"),
                (b'[1, 2]', "invalid", "must be a JSON object"),
            ]
            for payload, _, _ in cases:
                await client.publish(f"{ROOT}/cmd/demo", payload, qos=1)
            await client.publish(f"{ROOT}/cmd", json.dumps({"id": "s1", "action": "status"}), qos=1, properties=props)
            replies, inbox = {}, None
            async with asyncio.timeout(20):
                async for m in client.messages:
                    data = json.loads(m.payload)
                    if str(m.topic) == "labd/tablets/t1/inbox":
                        inbox = (data, m.properties.CorrelationData)
                    else:
                        replies.setdefault(str(m.topic).rsplit("/", 1)[1], []).append(data)
                    if inbox and "s1" in replies and len(replies) >= 8:
                        break
    for _, key, text in cases:
        assert any(text in r["error"] and not r["ok"] for r in replies[key]), (key, replies.get(key))
    assert replies["s1"][0]["ok"] and replies["s1"][0]["state"] == "online"
    assert inbox[0]["id"] == "s1" and inbox[1] == b"corr-42"        # MQTT 5 request/response
    with RecordsReader(tmp_path / "labd.sqlite") as reader:
        outcomes = [r[0] for r in reader.conn.execute("SELECT outcome FROM commands")]
        assert reader.runs() == []                                   # nothing was started
    assert sum(o.startswith(("invalid", "refused")) for o in outcomes) == len(cases)
    assert any("names operator 'supervisor'" in o for o in outcomes)   # the claimed identity is on record


async def test_the_broker_going_away_mid_run_loses_nothing(tmp_path, mosquitto):
    async with running_service(tmp_path, mosquitto) as service:
        async with tablet(mosquitto) as client:
            await client.subscribe(f"{ROOT}/#", qos=1)
            await send(client, id="c1", action="start", operator="demo", procedure="thermometer-calibration",
                       params=QUICK)
            async with asyncio.timeout(30):
                async for m in client.messages:
                    data = json.loads(m.payload)
                    if "/runs/" in str(m.topic) and data.get("prompt"):
                        await send(client, id="a1", action="answer", operator="demo", run_id=data["run_id"],
                                   prompt="insert_probes", value="done")
                        run_id = data["run_id"]
                        break
        mosquitto.stop()                                   # the broker dies mid-run…
        await asyncio.sleep(1.0)
        assert not service.bus.connected.is_set()
        mosquitto.start()                                  # …and comes back (without its retained messages)
        await asyncio.wait_for(service.bus.connected.wait(), 20)
        async with tablet(mosquitto, "viewer") as client:
            await client.subscribe(f"{ROOT}/runs/{run_id}/result", qos=1)
            async with asyncio.timeout(120):
                async for m in client.messages:
                    result = json.loads(m.payload)
                    break
            await client.subscribe(f"{ROOT}/status", qos=1)
            async with asyncio.timeout(10):
                async for m in client.messages:
                    if str(m.topic).endswith("/status"):
                        assert json.loads(m.payload)["state"] == "online"   # republished after the restart
                        break
    assert result["run_id"] == run_id
    with RecordsReader(tmp_path / "labd.sqlite") as reader:
        assert reader.run(run_id).state == "completed"
        assert len([r for r in reader.readings(run_id) if r["role"] == "unit under test"]) == 3


async def test_a_live_reading_after_a_quiet_tick_goes_out_at_once_and_the_next_waits_for_the_tick(mosquitto):
    """Issue 18: ticks stay at least `live_interval` apart, but a reading after a quiet interval is published at
    the end of the loop iteration, not on a timer of its own (a wake-up per reading at a lab's rates)."""
    from labd.daemon.service.mqtt import Bus
    bus = Bus(mosquitto.url("labd"), ROOT, identifier="labd-leading", on_command=lambda *a: asyncio.sleep(0),
              live_interval=2.0)
    task = asyncio.create_task(bus.run())
    loop = asyncio.get_running_loop()
    arrivals: list[tuple[float, int]] = []
    try:
        await asyncio.wait_for(bus.connected.wait(), 10)
        await asyncio.wait_for(bus.live_publisher.connected.wait(), 10)
        async with tablet(mosquitto) as client:
            await client.subscribe(f"{ROOT}/instruments/#", qos=0)
            await asyncio.sleep(0.2)
            sent = loop.time()
            bus.live("instruments/dmm/1/voltage", {"value": 1})
            await asyncio.sleep(0)
            bus.live("instruments/dmm/1/voltage", {"value": 2})    # within the tick: replaced by the next
            bus.live("instruments/dmm/1/voltage", {"value": 3})
            with contextlib.suppress(asyncio.TimeoutError):
                async with asyncio.timeout(4):
                    async for m in client.messages:
                        arrivals.append((loop.time() - sent, json.loads(m.payload)["value"]))
                        if len(arrivals) == 2:
                            break
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [value for _, value in arrivals] == [1, 3]
    (first, _), (second, _) = arrivals
    assert first < 1.0, "the reading after a quiet interval waited for a tick"
    assert second >= 1.5, "the next reading did not wait for the tick"


async def test_live_readings_are_coalesced_per_channel_and_each_channel_keeps_its_latest(mosquitto):
    """Issue 18: one message per instrument channel per publish tick, on the documented topics; two channels of
    one readout never replace each other's value."""
    from labd.daemon.service.mqtt import Bus
    bus = Bus(mosquitto.url("labd"), ROOT, identifier="labd-coalesce", on_command=lambda *a: asyncio.sleep(0),
              live_interval=0.3)
    task = asyncio.create_task(bus.run())
    try:
        await asyncio.wait_for(bus.connected.wait(), 10)
        async with tablet(mosquitto) as client:
            await client.subscribe(f"{ROOT}/instruments/#", qos=0)
            await asyncio.sleep(0.2)
            for i in range(10):
                for channel in (1, 2):
                    bus.live(f"instruments/ref_readout/{channel}/temperature", {"value": channel * 100 + i},
                             key=("ref_readout", channel, "temperature"))
            got: dict[str, list] = {}
            with contextlib.suppress(asyncio.TimeoutError):
                async with asyncio.timeout(1.5):
                    async for m in client.messages:
                        got.setdefault(str(m.topic), []).append(json.loads(m.payload)["value"])
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert got == {f"{ROOT}/instruments/ref_readout/1/temperature": [109],
                   f"{ROOT}/instruments/ref_readout/2/temperature": [209]}
    assert bus.coalesced == 18 and bus.dropped == 0

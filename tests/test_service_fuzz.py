"""Fuzzed command payloads (hypothesis) against a running service with a real broker: it answers and never
falls over, whatever arrives on its command topic."""
from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labd.daemon.service.commands import ACTIONS, Command, CommandError, parse
from labd.daemon.config import load_config
from labd.daemon.service import Service

from .conftest import CONFIG
from .realparts import Mosquitto

FIELDS = list(Command.model_fields)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=40),
                    st.sampled_from(list(ACTIONS) + ["thermometer-calibration", "demo", "trainee", "insert_probes"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10),
                                                                                           inner, max_size=4),
                      max_leaves=12)
commands = st.dictionaries(st.sampled_from(FIELDS + ["extra"]), values, max_size=8)
# Commands that pass the schema, with arbitrary parameters, prompts and run ids: these reach the run logic.
well_formed = st.fixed_dictionaries(
    {"id": st.from_regex(r"\A[a-z0-9]{1,8}\Z"), "action": st.sampled_from(ACTIONS),
     "operator": st.sampled_from(["demo", "trainee", "supervisor", "nobody"])},
    optional={"procedure": st.sampled_from(["thermometer-calibration", "stability-run", "balance-calibration", "x"]),
              "params": st.dictionaries(st.sampled_from(["repetitions", "set_points", "interval", "stability.window",
                                                         "duration_hours", "bogus"]),
                                        st.one_of(st.integers(-5, 50), st.floats(allow_nan=True), st.text(max_size=8),
                                                  st.lists(st.floats(-300, 900), max_size=3)), max_size=3),
              "prompt": st.sampled_from(["insert_probes", "prepare", "zzz"]), "value": scalars,
              "run_id": st.from_regex(r"\A[a-z0-9-]{1,12}\Z"),
              "what": st.sampled_from(["procedures", "instruments", "runs"])})
payloads = st.one_of(st.binary(max_size=300), commands.map(lambda d: json.dumps(d).encode()),
                     well_formed.map(lambda d: json.dumps(d).encode()), st.text(max_size=200).map(str.encode))


@given(payloads)
@settings(max_examples=400, deadline=None)
def test_parse_accepts_a_command_or_says_why(payload):
    try:
        cmd = parse(payload)
    except CommandError as exc:
        assert str(exc)
    else:
        assert cmd.action in ACTIONS


class LiveService:
    """The service on its own event loop in a thread, so that hypothesis (synchronous) can feed it."""

    def __init__(self, tmp) -> None:
        self.broker = Mosquitto()
        self.broker.start()
        self.loop = asyncio.new_event_loop()
        # The fuzz is meant to reach the parser and the run logic, not the rate limit (tested on its own).
        config = load_config(CONFIG)
        config = config.model_copy(update={"service": config.service.model_copy(
            update={"command_burst": 10000, "command_rate": 10000.0})})
        self.service = Service(config, simulate=True, speed=50, seed=1, mqtt_url=self.broker.url(),
                               records_path=str(tmp / "labd.sqlite"))
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.stop = asyncio.Event()
        self.task = asyncio.run_coroutine_threadsafe(self.service.run(self.stop), self.loop)
        deadline = time.monotonic() + 30
        while not (self.service.ready.is_set() and self.service.bus and self.service.bus.connected.is_set()):
            assert time.monotonic() < deadline and not self.task.done(), "the service did not start"
            time.sleep(0.05)

    def send(self, payload: bytes) -> None:
        # As the example lab's technician, logged in: the fuzz must reach the run logic, not stop at identity.
        asyncio.run_coroutine_threadsafe(self.service.on_command(payload, None, None, "demo"),
                                         self.loop).result(20)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.task.result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.broker.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    service = LiveService(tmp_path_factory.mktemp("fuzz"))
    yield service
    service.close()


@given(payloads)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_fuzzed_commands_never_crash_the_service(live, payload):
    live.send(payload)
    assert not live.task.done(), "the service stopped"


def test_after_the_fuzz_the_service_still_answers(live):
    live.send(b'{"id": "after", "action": "abort", "operator": "demo"}')
    live.send(b'{"id": "after2", "action": "status"}')
    assert not live.task.done()
    assert live.service.status()["state"] == "online"


def test_the_fuzz_reached_the_run_logic(live):
    from labd.daemon.records import RecordsReader
    with RecordsReader(live.service.records.path) as reader:
        outcomes = [r[0] for r in reader.conn.execute("SELECT outcome FROM commands")]
    assert any(o == "ok" for o in outcomes) and any(o.startswith("refused") for o in outcomes)

"""The service under faults, with the real broker and time-series server: the time-series server down for part
of a run, an instrument lost mid-run, the daemon killed and restarted, stopped with SIGTERM, schedules."""
from __future__ import annotations

import asyncio
import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from labd.daemon.records import RecordsReader

from .conftest import CONFIG, REPO
from .test_service import QUICK, ROOT, follow_calibration, running_service, send, tablet


async def test_time_series_server_down_for_part_of_a_run_gets_every_point_afterwards(tmp_path, mosquitto, victoria):
    async with running_service(tmp_path, mosquitto, victoria) as service:
        async with tablet(mosquitto) as client:
            await client.subscribe(f"{ROOT}/#", qos=1)

            async def outage(n: int) -> None:
                if n == 2:
                    victoria.stop()
                elif n == 6:
                    for _ in range(100):                              # it notices at its next write…
                        if not service.streamer.state.connected:
                            break
                        await asyncio.sleep(0.05)
                    assert not service.streamer.state.connected
                    assert await service.records.outbox_size() > 0   # …and keeps the points
                    victoria.start()
            seen = await follow_calibration(client, on_reading=outage)
        assert await service.streamer.drained(60)
    run_id = seen["reply"]["run_id"]
    with RecordsReader(tmp_path / "labd.sqlite") as reader:
        recorded = reader.readings(run_id)
    series = [s for s in victoria.export('{__name__="reading_raw_value"}') if s["metric"].get("run") == run_id]
    streamed = sorted((t, v) for s in series for t, v in zip(s["timestamps"], s["values"]))
    expected = sorted((round(r["time"] * 1000), r["value"]) for r in recorded)
    assert [t for t, _ in streamed] == [t for t, _ in expected]
    assert [v for _, v in streamed] == pytest.approx([v for _, v in expected], rel=1e-9)


async def test_an_instrument_lost_mid_run_fails_the_run_clearly_and_leaves_the_source_safe(tmp_path, mosquitto):
    async with running_service(tmp_path, mosquitto) as service:
        async with tablet(mosquitto) as client:
            await client.subscribe(f"{ROOT}/runs/#", qos=1)
            await send(client, id="c1", action="start", operator="demo", procedure="thermometer-calibration",
                       params=QUICK)
            final = None
            async with asyncio.timeout(120):
                async for m in client.messages:
                    data = json.loads(m.payload)
                    if data.get("prompt"):
                        # The readout's link drops for good as the run starts working with it.
                        service.lab.servers["ref_readout"].inject("disconnect", count=None, downtime=1e6)
                        await send(client, id="a1", action="answer", operator="demo", run_id=data["run_id"],
                                   prompt="insert_probes", value="done")
                    if data.get("state") == "failed":
                        final = data
                        break
        assert service.lab.world.blocks["dry_block"].set_point == 25.0
    assert "ref_readout" in final["error"] and "instruments left safe" in final["error"]
    with RecordsReader(tmp_path / "labd.sqlite") as reader:
        kinds = [e["kind"] for e in reader.events(final["run_id"])]
    assert "safe_state" in kinds


def _serve(tmp_path, mosquitto, *extra) -> subprocess.Popen:
    log = open(tmp_path / "serve.log", "a")      # a file, not a pipe nobody reads while it runs
    return subprocess.Popen([sys.executable, "-m", "labd", "serve", "--simulate", "--speed", "400", "--seed", "4",
                             "--mqtt", mosquitto.url("labd"), "--records", str(tmp_path / "labd.sqlite"),
                             "--sim-date", time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400)), *extra],
                            cwd=REPO, stdout=log, stderr=subprocess.STDOUT, text=True)


async def _online(mosquitto) -> None:
    """Wait for the service's retained status to say online: a command sent before it subscribed is lost."""
    async with tablet(mosquitto, "viewer") as viewer:
        await viewer.subscribe(f"{ROOT}/status", qos=1)
        async with asyncio.timeout(60):
            async for m in viewer.messages:
                if json.loads(m.payload).get("state") == "online":
                    return


async def _wait_db(db, sql: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with sqlite3.connect(db) as conn:
                if conn.execute(sql).fetchone()[0]:
                    return
        except sqlite3.OperationalError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out: {sql}")


async def _answer_prompts_until(client, done: str, timeout: float = 120.0) -> dict:
    async with asyncio.timeout(timeout):
        async for m in client.messages:
            data = json.loads(m.payload)
            if "/runs/" in str(m.topic) and str(m.topic).endswith("/state") and data.get("prompt"):
                await send(client, id=f"a{time.monotonic_ns()}", action="answer", operator="demo",
                           run_id=data["run_id"], prompt=data["prompt"]["key"], value="done")
            if str(m.topic).endswith(done):
                return data


async def test_daemon_killed_mid_run_and_restarted_resumes_with_nothing_lost(tmp_path, mosquitto):
    db = tmp_path / "labd.sqlite"
    proc = _serve(tmp_path, mosquitto)
    try:
        await _online(mosquitto)
        async with tablet(mosquitto) as client:
            await client.subscribe(f"{ROOT}/#", qos=1)
            await send(client, id="c1", action="start", operator="demo", procedure="thermometer-calibration",
                       params={**QUICK, "set_points": [30.0, 50.0]})
            answering = asyncio.create_task(_answer_prompts_until(client, "/result"))
            await _wait_db(db, "SELECT COUNT(*) FROM readings WHERE point = 1 AND role = 'unit under test'")
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            answering.cancel()
            with RecordsReader(db) as reader:
                (run,) = reader.runs()
                before = reader.readings(run.run_id)
            proc = _serve(tmp_path, mosquitto)             # the service comes back and resumes the run
            result = await _answer_prompts_until(client, f"/runs/{run.run_id}/result", timeout=180)
    finally:
        proc.terminate()
        proc.wait(30)
    assert [r["nominal"] for r in result["results"]] == [30.0, 50.0], (tmp_path / "serve.log").read_text()
    with RecordsReader(db) as reader:
        after = reader.readings(run.run_id)
        assert reader.run(run.run_id).state == "completed"
        assert reader.verify().ok
    assert after[:len(before)] == before
    assert {r["attempt"] for r in after if r["point"] == 0 and r["role"] == "reference"} == {1}


async def test_sigterm_leaves_the_instruments_safe_and_marks_the_run_interrupted(tmp_path, mosquitto):
    db = tmp_path / "labd.sqlite"
    proc = _serve(tmp_path, mosquitto)
    try:
        await _online(mosquitto)
        async with tablet(mosquitto, "viewer") as viewer, tablet(mosquitto) as client:
            await client.subscribe(f"{ROOT}/#", qos=1)
            # Enough readings that the run is still measuring when the signal comes, however loaded the machine
            # (400 at 10 s, ten seconds of real time, once finished first on a busy CI machine): 1000 at 60 s take
            # 150 s. Stopped, it takes no longer; a stop that did not cancel it would outlast the wait below.
            await send(client, id="c1", action="start", operator="demo", procedure="thermometer-calibration",
                       params={**QUICK, "repetitions": 1000, "interval": 60.0})
            answering = asyncio.create_task(_answer_prompts_until(client, "/result"))
            await _wait_db(db, "SELECT COUNT(*) FROM readings WHERE role = 'reference'")
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
            answering.cancel()
            await viewer.subscribe(f"{ROOT}/status", qos=1)
            async with asyncio.timeout(10):
                async for m in viewer.messages:
                    status = json.loads(m.payload)
                    break
    finally:
        proc.kill()
    assert status == {"state": "offline", "reason": "stopped"}
    with RecordsReader(db) as reader:
        (run,) = reader.runs()
        kinds = [e["kind"] for e in reader.events(run.run_id)]
    assert run.state == "interrupted" and "safe_state" in kinds, (tmp_path / "serve.log").read_text()


async def test_a_schedule_starts_its_procedure_and_is_recorded_with_no_broker_at_all(tmp_path):
    config_dir = tmp_path / "config"
    shutil.copytree(CONFIG, config_dir)
    (config_dir / "schedules.toml").write_text(
        '[[schedules]]\nprocedure = "stability-run"\nevery = "60s"\noperator = "scheduler"\n'
        'params = { duration_hours = 0.05, interval = 30.0, source = "" }\n')
    from labd.daemon.config import load_config
    from labd.daemon.service import Service
    service = Service(load_config(config_dir), simulate=True, speed=400, seed=1,
                      records_path=str(tmp_path / "labd.sqlite"))
    assert service.mqtt_url is None and service.influx_url is None
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        await _wait_db(tmp_path / "labd.sqlite", "SELECT COUNT(*) FROM commands WHERE outcome LIKE 'started %'")
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
    with RecordsReader(tmp_path / "labd.sqlite") as reader:
        runs = reader.runs()
    assert runs and runs[0].procedure == "stability-run" and runs[0].operator == "scheduler"


async def test_the_broker_over_tls_with_a_password(tmp_path, monkeypatch):
    from .realparts import Mosquitto
    broker = Mosquitto(tls=True)
    broker.start()
    try:
        monkeypatch.setenv("LABD_MQTT__CA_FILE", str(broker.dir / "ca.crt"))
        from labd.daemon.config import load_config
        from labd.daemon.service import Service
        service = Service(load_config(CONFIG), simulate=True, speed=50, mqtt_url=broker.url("labd", tls=True),
                          records_path=str(tmp_path / "labd.sqlite"))
        stop = asyncio.Event()
        task = asyncio.create_task(service.run(stop))
        await asyncio.wait_for(service.ready.wait(), 30)
        await asyncio.wait_for(service.bus.connected.wait(), 20)
        assert service.bus.address.tls and service.bus.address.port == broker.tls_port
        stop.set()
        await asyncio.wait_for(task, 60)
        # Without the lab's CA the broker's certificate is refused: no connection.
        monkeypatch.delenv("LABD_MQTT__CA_FILE")
        service = Service(load_config(CONFIG), simulate=True, speed=50, mqtt_url=broker.url("labd", tls=True),
                          records_path=str(tmp_path / "labd2.sqlite"))
        stop = asyncio.Event()
        task = asyncio.create_task(service.run(stop))
        await asyncio.wait_for(service.ready.wait(), 20)
        await asyncio.sleep(2.0)
        assert not service.bus.connected.is_set()
        stop.set()
        await asyncio.wait_for(task, 60)
    finally:
        broker.close()

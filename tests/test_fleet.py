"""Issue 19: the fleet view. Two benches' services on one real Mosquitto; one bench's dashboard, in Chromium, shows
the other bench online with its run in progress, from the retained `labd/+/status` and `labd/+/runs/+/state`, and
offline once it stops; nothing published there is taken as a command."""
from __future__ import annotations

import asyncio
import contextlib
import json
import time

import aiomqtt

from labd.daemon.config import load_config
from labd.daemon.config.passwords import Passwords
from labd.daemon.service import Service
from labd.daemon.service.fleet import Fleet

from .conftest import CONFIG
from .realparts import USERS
from .test_dashboard import PASSWORDS, login, phone_browser

LONG = {"duration_hours": "12", "set_point": "140", "interval": "30"}


def _bench(station: str):
    config = load_config(CONFIG).model_copy(update={"schedules": []})
    return config.model_copy(update={"lab": config.lab.model_copy(update={"station": station}),
                                     "mqtt": config.mqtt.model_copy(update={"topic_root": f"labd/{station}"})})


@contextlib.asynccontextmanager
async def station(tmp_path, mosquitto, name: str, **kw):
    service = Service(_bench(name), simulate=True, speed=200, seed=2, mqtt_url=mosquitto.url("labd"),
                      records_path=str(tmp_path / name / "labd.sqlite"), sim_start=time.time() - 86400, **kw)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    await asyncio.wait_for(service.ready.wait(), 30)
    await asyncio.wait_for(service.bus.connected.wait(), 10)
    try:
        yield service
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)


def test_the_fleet_takes_status_and_run_states_and_ignores_the_rest():
    fleet = Fleet("labd")
    assert fleet.take("labd/bench-m/status", json.dumps({"state": "online", "instruments": ["a", "b"]}).encode())
    assert fleet.take("labd/bench-m/runs/r1/state", json.dumps({"state": "running", "procedure": "p"}).encode())
    assert not fleet.take("labd/bench-m/runs/r1/state", b"{not json")
    assert not fleet.take("other/bench-x/status", b"{}")
    assert not fleet.take("labd/bench-m/instruments/a/reading", b"{}")
    [view] = fleet.view()
    assert view["status"]["state"] == "online" and [r["run_id"] for r in view["runs"]] == ["r1"]
    assert fleet.take("labd/bench-m/runs/r1/state", json.dumps({"state": "completed"}).encode())
    assert fleet.view()[0]["runs"] == []


async def test_a_benchs_dashboard_shows_the_other_bench_and_its_run(tmp_path, mosquitto):
    keys = Passwords(tmp_path / "bench-t" / "keys")
    keys.set("demo", PASSWORDS["demo"])
    async with station(tmp_path, mosquitto, "bench-t", dashboard_port=0) as here, phone_browser() as page:
        url = f"http://127.0.0.1:{here.dashboard.port}/"
        async with station(tmp_path, mosquitto, "bench-m") as there:
            run_id = await there.start("stability-run", LONG, "demo", source="test")
            await login(page, url, "demo")
            await page.locator('[data-station="bench-m"] .badge', has_text="online").wait_for(timeout=15000)
            await page.locator(f'[data-run="{run_id}"]').wait_for(timeout=15000)
            assert "stability-run" in await page.locator(f'[data-run="{run_id}"]').inner_text()
            assert await page.locator('[data-station="bench-t"]').count() == 1        # itself, too
            # A message on the other bench's topics is never a command here.
            async with aiomqtt.Client("127.0.0.1", mosquitto.port, username="labd", password=USERS["labd"]) as c:
                await c.publish("labd/bench-m/runs/x/state", json.dumps({"action": "abort", "run_id": run_id}))
            await asyncio.sleep(0.5)
            assert there.runs() and there.runs()[0].state in ("running", "waiting")
        await page.locator('[data-station="bench-m"] .badge', has_text="offline").wait_for(timeout=15000)
        assert await page.locator(f'[data-run="{run_id}"]').count() == 0

"""labd as a service: systemd's notify protocol and watchdog, /healthz and /metrics, JSON logs, the unit file, and
the compose stack's wiring."""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from .conftest import CONFIG, REPO

LABD = str(Path(sys.executable).parent / "labd")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_the_service_tells_systemd_it_is_ready_pets_the_watchdog_and_says_it_stops(tmp_path):
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    notify.settimeout(1.0)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABD_")}
    env.update(NOTIFY_SOCKET=str(tmp_path / "notify"), WATCHDOG_USEC="400000", LABD_DATA=str(tmp_path / "data"))
    proc = subprocess.Popen([LABD, "--log-format", "json", "-v", "serve", "--simulate", "--speed", "50",
                             "--metrics", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    messages: list[str] = []

    def wait_for(text: str, limit: float) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            try:
                messages.append(notify.recv(4096).decode())
            except TimeoutError:
                assert proc.poll() is None, proc.stderr.read()
            if any(text in m for m in messages):
                return
        raise AssertionError(f"no {text!r} from the service; got {messages}")

    try:
        wait_for("READY=1", 90)
        assert any("STATUS=serving 7 instruments at bench-1" in m for m in messages)
        wait_for("WATCHDOG=1", 5)
        status, body = get(f"http://127.0.0.1:{port}/healthz")
        health = json.loads(body)
        assert status == 200 and health["status"] == "ok" and health["records"] == "writing"
        assert health["broker"] == "not configured" and health["station"] == "bench-1"
        status, body = get(f"http://127.0.0.1:{port}/metrics")
        text = body.decode()
        assert status == 200
        assert "labd_records_writer_up 1.0" in text and "labd_broker_connected 0.0" in text
        assert "labd_outbox_depth 0.0" in text
        proc.send_signal(signal.SIGTERM)
        wait_for("STOPPING=1", 30)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        notify.close()
    lines = [line for line in proc.stderr.read().splitlines() if line.strip()]
    assert lines, "no log lines at -v"
    for line in lines:
        entry = json.loads(line)      # every line is one JSON object
        assert {"time", "level", "logger", "message"} <= entry.keys()
    assert any(e["logger"] == "labd.health" for e in map(json.loads, lines))


async def test_healthz_says_503_when_the_service_can_no_longer_record(tmp_path):
    from labd.daemon.config import load_config
    from labd.daemon.service import Service
    service = Service(load_config(CONFIG), simulate=True, speed=50, seed=1, metrics_port=0,
                      records_path=str(tmp_path / "labd.sqlite"))
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        await asyncio.wait_for(service.ready.wait(), 60)
        url = f"http://127.0.0.1:{service.health.port}/healthz"
        status, _ = await asyncio.to_thread(get, url)
        assert status == 200
        await service.records.close()      # the records writer is gone: the service must say it is failing
        status, body = await asyncio.to_thread(get, url)
        assert status == 503 and json.loads(body)["records"] == "stopped"
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)


def test_the_unit_file_is_valid_for_systemd(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    unit = (REPO / "deploy" / "labd.service").read_text()
    assert "Type=notify" in unit and "WatchdogSec=" in unit and "StateDirectory=labd" in unit
    assert "Environment=LABD_DATA=/var/lib/labd" in unit and "User=labd" in unit
    assert "ExecStart=/opt/labd/bin/labd --log-format json serve" in unit
    local = tmp_path / "labd.service"
    local.write_text(unit.replace("/opt/labd/bin/labd", LABD))
    proc = subprocess.run([analyze, "verify", "--man=no", str(local)], capture_output=True, text=True, timeout=60)
    problems = [line for line in proc.stderr.splitlines() if "labd.service" in line]
    assert proc.returncode == 0 and not problems, proc.stderr


def test_the_compose_stack_wires_labd_to_its_real_parts(monkeypatch):
    """Docker is not available here: check what can be checked without it. Every file the stack mounts
    exists, every LABD_* variable it sets is a setting labd knows, and the secrets it names are declared."""
    compose_file = REPO / "deploy" / "compose.yaml"
    stack = yaml.safe_load(compose_file.read_text())
    services = stack["services"]
    assert set(services) == {"mosquitto", "influxdb", "grafana", "labd"}
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (compose_file.parent / source).exists(), f"{name} mounts missing {source}"
        for secret in service.get("secrets", []):
            assert secret in stack["secrets"], f"{name} uses undeclared secret {secret}"
    assert (compose_file.parent / services["labd"]["build"]["context"] / services["labd"]["build"]["dockerfile"]
            ).is_file()
    env = services["labd"]["environment"]
    from labd.daemon.config import load_config
    for key, value in env.items():
        if key.endswith(("PASSWORD_FILE", "TOKEN_FILE")):
            continue   # files inside the container
        monkeypatch.setenv(key, str(value))
    config = load_config(CONFIG)
    assert config.mqtt.url == "mqtt://mosquitto:1883" and config.mqtt.username == "labd"
    assert config.influx.url == "http://influxdb:8086" and config.service.metrics_port == 9108
    acl = (compose_file.parent / "mosquitto" / "acl").read_text()
    assert "user labd" in acl and "topic readwrite labd/#" in acl
    conf = (compose_file.parent / "mosquitto" / "mosquitto.conf").read_text()
    assert "allow_anonymous false" in conf and "acl_file" in conf
    datasource = yaml.safe_load((compose_file.parent / "grafana/provisioning/datasources/labd.yaml").read_text())
    dashboard = json.loads((REPO / "docs/grafana/labd-live.json").read_text())
    assert datasource["datasources"][0]["type"] == "influxdb"
    assert any(v["type"] == "datasource" and v["query"] == "influxdb" for v in dashboard["templating"]["list"])

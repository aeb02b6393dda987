"""A command path nothing can knock over (issue 14, part): nesting and size limits before parsing, a rate limit
per sender, no internal detail in replies, broker failures said in the log, foreign records files named."""
from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys

from labd.daemon.config import load_config
from labd.daemon.records import RecordsReader
from labd.daemon.service import Service

from .conftest import CONFIG, REPO
from .test_service import ROOT, running_service, tablet


async def _replies(client, want: int, timeout: float = 20.0) -> list[dict]:
    out: list[dict] = []
    async with asyncio.timeout(timeout):
        async for m in client.messages:
            out.append({"topic": str(m.topic), **json.loads(m.payload)})
            if len(out) >= want:
                return out
    return out


async def test_a_3000_deep_command_is_answered_and_the_service_goes_on(tmp_path, mosquitto):
    async with running_service(tmp_path, mosquitto) as service:
        async with tablet(mosquitto) as client:
            await client.subscribe(f"{ROOT}/reply/#", qos=1)
            await client.publish(f"{ROOT}/cmd", b"[" * 3000 + b"]" * 3000, qos=1)
            await client.publish(f"{ROOT}/cmd", b'{"id": "d1", "params": ' + b"{\"a\": " * 3000 + b"1" + b"}" * 3001,
                                 qos=1)
            await client.publish(f"{ROOT}/cmd", json.dumps({"id": "s1", "action": "status"}), qos=1)
            got = await _replies(client, 3)
    assert [r["topic"].rsplit("/", 1)[1] for r in got] == ["invalid", "invalid", "s1"]
    assert all("nested too deeply (3000 levels" in r["error"] or "3001 levels" in r["error"] for r in got[:2])
    assert got[2]["ok"] and got[2]["state"] == "online"
    with RecordsReader(tmp_path / "labd.sqlite") as reader:
        outcomes = [c["outcome"] for c in reader.commands()]
    assert sum(o.startswith("invalid: command nested too deeply") for o in outcomes) == 2


async def test_a_flood_is_refused_past_the_limit_and_recorded_once(tmp_path, mosquitto, monkeypatch):
    monkeypatch.setenv("LABD_SERVICE__COMMAND_BURST", "10")
    monkeypatch.setenv("LABD_SERVICE__COMMAND_RATE", "1")
    async with running_service(tmp_path, mosquitto) as service:
        async with tablet(mosquitto) as client:
            await client.subscribe(f"{ROOT}/reply/#", qos=1)
            for i in range(40):
                await client.publish(f"{ROOT}/cmd", json.dumps({"id": f"j{i}", "action": "fly",
                                                                "operator": "demo"}), qos=1)
            got = await _replies(client, 40)
    limited = [r for r in got if "too many commands" in r["error"]]
    assert len(limited) >= 25 and all(not r["ok"] for r in got)
    assert len(got) - len(limited) <= 12           # the burst, and what one second refills
    with RecordsReader(tmp_path / "labd.sqlite") as reader:
        outcomes = [c["outcome"] for c in reader.commands()]
    assert sum("rate limit" in o for o in outcomes) == 1     # the flood is one record, not forty
    assert len(outcomes) <= 14


async def test_resuming_an_unknown_run_says_so_without_a_path(tmp_path, mosquitto):
    async with running_service(tmp_path, mosquitto):
        async with tablet(mosquitto) as client:
            await client.subscribe(f"{ROOT}/reply/#", qos=1)
            await client.publish(f"{ROOT}/cmd/demo", json.dumps({"id": "r1", "action": "resume", "run_id": "nope"}),
                                 qos=1)
            (reply,) = await _replies(client, 1)
    assert reply["error"] == "no run 'nope' on record"
    assert str(tmp_path) not in json.dumps(reply)


async def test_a_refused_broker_login_is_said_in_the_log(tmp_path, mosquitto, caplog):
    caplog.set_level(logging.WARNING, logger="labd.mqtt")
    service = Service(load_config(CONFIG), simulate=True, speed=50, seed=1,
                      mqtt_url=mosquitto.url("labd").replace("labd-secret", "wrong"),
                      records_path=str(tmp_path / "labd.sqlite"))
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        await asyncio.wait_for(service.ready.wait(), 30)
        for _ in range(100):
            if any("cannot connect to the broker" in r.getMessage() for r in caplog.records):
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
    lines = [r.getMessage() for r in caplog.records if r.name == "labd.mqtt"]
    assert any("cannot connect to the broker" in m and ("authori" in m.lower() or "password" in m.lower()
                                                       or "refused" in m.lower()) for m in lines), lines
    assert sum("cannot connect" in m for m in lines) == 1      # once, not at every retry
    assert not any("wrong" in m for m in lines)                 # the password is never logged


def test_a_file_that_is_not_a_records_database_is_one_clear_line(tmp_path):
    bad = tmp_path / "notes.sqlite"
    bad.write_text("these are my notes, not a database\n" * 100)
    proc = subprocess.run([sys.executable, "-m", "labd", "runs", "--records", str(bad)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"{bad} is not a records database" in proc.stderr
    other = tmp_path / "other.sqlite"
    import sqlite3
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    proc = subprocess.run([sys.executable, "-m", "labd", "audit", "verify", "--records", str(other)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "is not a labd records database" in proc.stderr

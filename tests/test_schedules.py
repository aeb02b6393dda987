"""Schedules in the lab's time: daily times, cron expressions, and what fell due while the service was down."""
from __future__ import annotations

import asyncio
import shutil
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from labd.daemon.config import ConfigError, ScheduleConfig, load_config
from labd.daemon.records import RecordsReader
from labd.daemon.service.schedule import missed, next_due, previous_due

from .conftest import CONFIG

WITA = ZoneInfo("Asia/Makassar")


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=WITA).timestamp()


def local(t: float) -> str:
    return datetime.fromtimestamp(t, WITA).strftime("%Y-%m-%d %H:%M")


def test_a_daily_time_is_the_labs_local_time():
    s = ScheduleConfig(procedure="p", every="daily", at="17:00")
    assert local(next_due(s, at("2026-12-01T12:00"), tz="Asia/Makassar")) == "2026-12-01 17:00"
    assert local(next_due(s, at("2026-12-01T17:00"), tz="Asia/Makassar")) == "2026-12-02 17:00"
    # The same rule in UTC falls at 01:00 in Samarinda: the difference the lab complained of.
    assert local(next_due(s, at("2026-12-01T12:00"), tz="UTC")) == "2026-12-02 01:00"


def test_cron_expressions_in_the_labs_time():
    s = ScheduleConfig(procedure="p", cron="30 7 * * 1-5")      # weekdays at 07:30
    friday = at("2026-12-04T08:00")
    assert local(next_due(s, friday, tz="Asia/Makassar")) == "2026-12-07 07:30"   # Monday
    assert local(previous_due(s, friday, tz="Asia/Makassar")) == "2026-12-04 07:30"


def test_what_was_missed_runs_once_or_not_at_all():
    s = ScheduleConfig(procedure="p", every="daily", at="02:00")
    now, last = at("2026-12-05T09:00"), at("2026-12-01T02:00")     # four due times missed
    assert local(missed(s, now, last, "Asia/Makassar")) == "2026-12-05 02:00"
    assert missed(s, now, at("2026-12-05T02:00"), "Asia/Makassar") is None           # nothing missed
    assert missed(s, now, None, "Asia/Makassar") is None                              # never ran: nothing owed
    assert missed(s.model_copy(update={"missed": "skip"}), now, last, "Asia/Makassar") is None


@pytest.mark.parametrize("entry, message", [
    ({"procedure": "p"}, "give either every"),
    ({"procedure": "p", "every": "daily", "cron": "0 2 * * *"}, "give either every"),
    ({"procedure": "p", "cron": "61 2 * * *"}, "not a valid cron expression"),
    ({"procedure": "p", "every": "0s"}, "must be positive"),
    ({"procedure": "p", "every": "daily", "missed": "twice"}, "String should match"),
])
def test_bad_schedules_are_named(tmp_path, entry, message):
    cfg = tmp_path / "cfg"
    shutil.copytree(CONFIG, cfg)
    lines = [f"{k} = {v!r}".replace("'", '"') for k, v in entry.items()]
    (cfg / "schedules.toml").write_text("[[schedules]]\n" + "\n".join(lines) + '\noperator = "scheduler"\n')
    with pytest.raises(ConfigError, match=message) as err:
        load_config(cfg)
    assert "schedules.toml: schedules.0" in str(err.value)


async def _serve_until(cfg, db, start: float, until) -> None:
    from labd.daemon.service import Service
    service = Service(load_config(cfg), simulate=True, speed=400, seed=1, records_path=str(db), sim_start=start)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        async with asyncio.timeout(60):
            while not until():
                await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)


def _completed(db) -> int:
    with RecordsReader(db) as reader:
        return sum(r.state == "completed" for r in reader.runs())


def _fired(db) -> list[dict]:
    with RecordsReader(db) as reader:
        return [c for c in reader.commands() if c["source"] == "scheduler"]


async def test_a_schedule_missed_while_the_service_was_down_runs_once_on_restart(tmp_path):
    cfg = tmp_path / "cfg"
    shutil.copytree(CONFIG, cfg)
    (cfg / "schedules.toml").write_text(
        '[[schedules]]\nname = "nightly"\nprocedure = "stability-run"\nevery = "daily"\nat = "00:05"\n'
        'operator = "scheduler"\nparams = { source = "", duration_hours = 0.02, interval = 20.0, '
        'reference_standard = "" }\n')
    db = tmp_path / "labd.sqlite"
    # Monday night: the service is up at 00:00 and the 00:05 run fires.
    await _serve_until(cfg, db, at("2026-11-30T00:00"), lambda: db.exists() and _completed(db) >= 1)
    # Back on Thursday at 09:00: Tuesday's, Wednesday's and Thursday's 00:05 were missed; one run, for Thursday.
    await _serve_until(cfg, db, at("2026-12-03T09:00"), lambda: len(_fired(db)) >= 2)
    await asyncio.sleep(0)
    fired = _fired(db)
    import json
    payloads = [json.loads(c["payload"]) for c in fired]
    assert len(fired) == 2, fired
    assert [local(p["due"]) for p in payloads] == ["2026-11-30 00:05", "2026-12-03 00:05"]
    assert payloads[1]["missed"] is True and fired[1]["outcome"].startswith("started ")
    with RecordsReader(db) as reader:
        assert [r.procedure for r in reader.runs()] == ["stability-run", "stability-run"]

"""People are authenticated over MQTT (issue 14, item 1): who acts is the broker login the command topic names,
which the broker's ACL (deploy/mosquitto/acl, the file docs/mqtt.md gives) lets only that login write; roles
from the competence register decide what each may do. Against real Mosquitto."""
from __future__ import annotations

import asyncio
import json

from labd.daemon.records import RecordsReader

from .test_service import ROOT, running_service, send, tablet

QUICK_T = {"set_points": [30.0], "repetitions": 3, "stability.window": 6, "interval": 10.0}
LONG = {"duration_hours": 4.0, "interval": 30.0, "set_point": 40.0}


async def replies(client, *ids: str, timeout: float = 20.0) -> dict[str, dict]:
    """The replies to `ids` (by id), as many as arrive within `timeout`."""
    got: dict[str, dict] = {}
    try:
        async with asyncio.timeout(timeout):
            async for m in client.messages:
                data = json.loads(m.payload)
                if "/reply/" in str(m.topic) and data.get("id") in ids:
                    got[data["id"]] = data
                    if set(ids) <= set(got):
                        break
    except TimeoutError:
        pass
    return got


async def test_a_command_on_another_persons_topic_never_reaches_the_service(tmp_path, mosquitto):
    async with running_service(tmp_path, mosquitto) as service:
        async with tablet(mosquitto, "demo") as client:
            await client.subscribe(f"{ROOT}/reply/#", qos=1)
            # The broker drops what the ACL does not allow; the service never sees it.
            await client.publish(f"{ROOT}/cmd/supervisor", json.dumps(
                {"id": "x1", "action": "start", "procedure": "stability-run", "params": LONG}), qos=1)
            await client.publish(f"{ROOT}/cmd/demo", json.dumps({"id": "s1", "action": "status"}), qos=1)
            got = await replies(client, "x1", "s1", timeout=5)
    assert list(got) == ["s1"]
    assert service.runs() == []
    with RecordsReader(tmp_path / "labd.sqlite") as reader:
        assert [c["payload"] for c in reader.commands() if "x1" in c["payload"]] == []


async def test_the_shared_topic_answers_questions_and_refuses_to_act(tmp_path, mosquitto):
    async with running_service(tmp_path, mosquitto) as service:
        async with tablet(mosquitto, "viewer") as client:
            await client.subscribe(f"{ROOT}/reply/#", qos=1)
            await client.publish(f"{ROOT}/cmd", json.dumps({"id": "s1", "action": "status"}), qos=1)
            await client.publish(f"{ROOT}/cmd", json.dumps({"id": "x1", "action": "start", "operator": "supervisor",
                                                            "procedure": "stability-run", "params": LONG}), qos=1)
            # A login the register does not know may ask, not act.
            await client.publish(f"{ROOT}/cmd/viewer", json.dumps({"id": "x2", "action": "start",
                                                                   "procedure": "stability-run"}), qos=1)
            got = await replies(client, "s1", "x1", "x2")
    assert got["s1"]["ok"]
    assert "needs an authenticated sender: send it on labd/bench-1/cmd/<your broker username>" in got["x1"]["error"]
    assert "broker user 'viewer' is not in the competence register" in got["x2"]["error"]
    assert service.runs() == []


async def test_identity_comes_from_the_login_and_is_what_the_record_keeps(tmp_path, mosquitto):
    async with running_service(tmp_path, mosquitto, speed=50) as service:
        async with tablet(mosquitto, "demo") as demo, tablet(mosquitto, "trainee") as trainee:
            for c in (demo, trainee):
                await c.subscribe(f"{ROOT}/reply/#", qos=1)
            await send(trainee, id="t1", action="start", procedure="stability-run", params=LONG)
            refused = (await replies(trainee, "t1"))["t1"]
            await send(demo, id="d1", action="start", procedure="stability-run", params=LONG)   # no operator field
            run_id = (await replies(demo, "d1"))["d1"]["run_id"]
            # The trainee may not control someone else's run; the technician controls its own.
            await send(trainee, id="t2", action="abort", run_id=run_id)
            await send(demo, id="d2", action="pause", run_id=run_id)
            got = {**await replies(demo, "d2"), **await replies(trainee, "t2")}
            await send(demo, id="d3", action="abort", run_id=run_id, reason="done testing")
            await asyncio.sleep(1.0)
    assert "not authorised for stability-run" in refused["error"]
    assert "trainee (trainee) may not abort run" in got["t2"]["error"]
    assert got["d2"]["ok"]
    with RecordsReader(tmp_path / "labd.sqlite") as reader:
        assert reader.run(run_id).operator == "demo"
        commands = {json.loads(c["payload"])["id"]: c for c in reader.commands()
                    if c["source"].startswith("mqtt")}
    assert commands["d1"]["operator"] == "demo" and commands["d1"]["source"] == "mqtt:demo"
    assert commands["t2"]["operator"] == "trainee" and commands["t2"]["outcome"].startswith("refused")


async def test_a_technician_may_not_abort_a_supervisors_run_but_a_supervisor_may_abort_anyones(tmp_path,
                                                                                              mosquitto):
    async with running_service(tmp_path, mosquitto, speed=50) as service:
        async with tablet(mosquitto, "demo") as demo, tablet(mosquitto, "supervisor") as supervisor:
            for c in (demo, supervisor):
                await c.subscribe(f"{ROOT}/reply/#", qos=1)
            await send(supervisor, id="s1", action="start", procedure="stability-run", params=LONG)
            run_id = (await replies(supervisor, "s1"))["s1"]["run_id"]
            await send(demo, id="d1", action="abort", run_id=run_id, operator="demo")
            refused = (await replies(demo, "d1"))["d1"]
            assert service.runs()[0].state != "aborted"
            await send(supervisor, id="s2", action="abort", run_id=run_id)
            ok = (await replies(supervisor, "s2"))["s2"]
    assert "demo (technician) may not abort run" in refused["error"] and "it takes a supervisor" in refused["error"]
    assert ok["ok"]


async def test_the_records_head_is_retained_on_the_broker(tmp_path, mosquitto):
    async with running_service(tmp_path, mosquitto) as service:
        async with tablet(mosquitto, "demo") as client:
            await send(client, id="s1", action="status")          # a recorded command moves the head
            await service.records.flush()
            await asyncio.sleep(0.5)
            await client.subscribe(f"{ROOT}/records/head", qos=1)
            async with asyncio.timeout(20):
                async for m in client.messages:
                    head = json.loads(m.payload)
                    if head["seq"] >= 2:
                        break
    with RecordsReader(tmp_path / "labd.sqlite") as reader:
        audit = reader.conn.execute("SELECT hash FROM audit WHERE seq = ?", (head["seq"],)).fetchone()[0]
    assert head["hash"] == audit and head["records"] == "labd.sqlite" and len(head["mac"]) == 64


async def test_a_document_is_signed_over_mqtt_with_a_password_that_is_never_recorded(tmp_path, mosquitto):
    from labd.daemon.config.passwords import Passwords

    from .test_run_engine import QUICK_T, Tablet
    keys = Passwords(tmp_path / "keys")
    keys.set("supervisor", "supervisor-password-1")
    keys.set("manager", "manager-password-1")
    async with running_service(tmp_path, mosquitto) as service:
        async with tablet(mosquitto, "demo") as demo, tablet(mosquitto, "supervisor") as supervisor, \
                tablet(mosquitto, "manager") as manager:
            await demo.subscribe(f"{ROOT}/#", qos=1)
            t = Tablet(demo)
            cid = await t.start("thermometer-calibration", QUICK_T)
            await t.follow(lambda t: t.last(t.run_of(cid) or "") == "completed", timeout=120)
            run_id = t.run_of(cid)
            for c in (supervisor, manager):
                await c.subscribe(f"{ROOT}/reply/#", qos=1)
            await send(manager, id="m0", action="sign", run_id=run_id, meaning="authorised",
                       password="manager-password-1")
            early = (await replies(manager, "m0"))["m0"]
            await send(manager, id="m9", action="sign", run_id="nope", meaning="checked", password="x")
            unknown = (await replies(manager, "m9"))["m9"]
            await send(supervisor, id="s1", action="sign", run_id=run_id, meaning="checked", password="guess")
            wrong = (await replies(supervisor, "s1"))["s1"]
            await send(supervisor, id="s2", action="sign", run_id=run_id, meaning="checked",
                       password="supervisor-password-1")
            checked = (await replies(supervisor, "s2"))["s2"]
            await send(manager, id="m1", action="sign", run_id=run_id, meaning="authorised",
                       password="manager-password-1")
            issued = (await replies(manager, "m1", timeout=60))["m1"]
    assert "not checked yet" in early["error"] and "wrong password for supervisor" in wrong["error"]
    assert unknown["error"] == "no run 'nope' on record"          # no path of the records in a reply
    assert checked["ok"] and issued["ok"] and issued["certificate"].startswith("BPSMB-KAL/")
    assert any(d.endswith("-en.pdf") for d in issued["documents"])
    with RecordsReader(tmp_path / "labd.sqlite") as reader:
        payloads = " ".join(c["payload"] for c in reader.commands())
        signatures = [(s["meaning"], s["operator"], s["source"]) for s in reader.signatures(run_id)]
    assert "password-1" not in payloads and "guess" not in payloads
    assert signatures == [("checked", "supervisor", "mqtt"), ("authorised", "manager", "mqtt")]

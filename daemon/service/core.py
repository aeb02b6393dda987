"""`labd serve`: the long-running service. It connects the instruments, runs procedures on command and on
schedule, records everything, streams readings to the time-series server, and shows its state over MQTT.

One procedure runs at a time on a station (a bench's instruments are shared). Every command is recorded with
its outcome. On SIGTERM the running procedure is stopped, its instruments left safe and the run marked
interrupted; a run found unfinished at start (the process was killed) is resumed or marked interrupted.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labd.drivers import InstrumentError
from labd.procedures import PROCEDURES, Prompt, RunContext, register
from labd.procedures.params import describe, to_dict
from labd.procedures.stability import StabilityCriterion, StabilityWindow
from labd.procedures.clock import Clock, WallClock

from labd.daemon.config import Config, documents_dir, records_path as resolve_records
from labd.daemon.engine import (RunFailed, RunRefused, authorise, bench, execute, history_from, load_for_resume,
                                new_run_id, parameters, procedure, run_control, start_record)
from labd.daemon.records import Records, RecordsReader

from . import systemd
from .commands import Command, CommandError, parse
from .health import HealthServer, Metrics
from .mqtt import Bus
from .schedule import next_due
from .stream import Streamer, line

log = logging.getLogger("labd.service")


@dataclass
class ActiveRun:
    run_id: str
    procedure: str
    operator: str
    ctx: RunContext
    task: asyncio.Task | None = None
    state: str = "running"
    progress: dict[str, Any] = field(default_factory=dict)
    prompt: Prompt | None = None
    answer: asyncio.Future | None = None
    error: str | None = None
    instruments: frozenset[str] = frozenset()


class Service:
    def __init__(self, config: Config, *, simulate: bool = False, speed: float = 1.0, seed: int | None = None,
                 mqtt_url: str | None = None, influx_url: str | None = None, records_path: str | None = None,
                 sim_start: float | None = None, dashboard_port: int | None = None,
                 metrics_port: int | None = None) -> None:
        self.config, self.simulate, self.speed, self.seed = config, simulate, speed, seed
        self.dashboard_port = dashboard_port if dashboard_port is not None else config.service.dashboard_port
        self.dashboard = None
        self.sim_start = sim_start
        self.metrics_port = metrics_port if metrics_port is not None else config.service.metrics_port
        self.health = None
        # The environment's LABD_MQTT__URL / LABD_INFLUX__URL are already in the configuration.
        self.mqtt_url = mqtt_url or config.mqtt.url
        self.influx_url = influx_url or config.influx.url
        self.records = Records(resolve_records(config, records_path))
        self.documents = documents_dir(config)
        self.root = config.mqtt.topic_root or f"labd/{config.lab.station}"
        self.active: ActiveRun | None = None
        self.bus: Bus | None = None
        self.streamer: Streamer | None = None
        self.latest: dict[str, dict[str, Any]] = {}
        self._windows: dict[tuple, StabilityWindow] = {}
        self.listeners: list[Any] = []          # live views (the dashboard): called with (topic, data)
        self.ready = asyncio.Event()
        self.metrics = Metrics()
        self._tasks: list[asyncio.Task] = []

    # --- life cycle --------------------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        await self.records.open()
        station = self.config.lab.station
        if self.influx_url:
            self.records.outbox_line = lambda run_id, r: line(station, run_id, r)
            inf = self.config.influx
            self.streamer = Streamer(self.records, self.influx_url, token=inf.token.get_secret_value(),
                                     org=inf.org, bucket=inf.bucket)
            self._tasks.append(asyncio.create_task(self.streamer.run(), name="stream"))
        if self.mqtt_url:
            mq = self.config.mqtt
            tls = ssl.create_default_context(cafile=mq.ca_file) if mq.ca_file else None
            self.bus = Bus(self.mqtt_url, self.root, identifier=f"labd-{station}-{os.getpid()}",
                           on_command=self.on_command, tls_context=tls, username=mq.username,
                           password=mq.password.get_secret_value() if mq.password else None)
            self._tasks.append(asyncio.create_task(self.bus.run(), name="mqtt"))
        try:
            async with bench(self.config, simulate=self.simulate, speed=self.speed, seed=self.seed,
                             start=self.sim_start) as (inst, lab):
                self.instruments, self.lab = inst, lab
                self.clock: Clock = lab.clock if lab is not None else WallClock()
                self.operator_sim = None
                if lab is not None:
                    from labd.simulators import SimulatedOperator   # only a simulated service loads them
                    self.operator_sim = SimulatedOperator(lab.world)
                for iid, i in inst.items():
                    try:
                        await i.open()
                    except (InstrumentError, OSError) as exc:   # the monitor keeps trying; a run will say so
                        log.warning("instrument %s not available: %s", iid, exc)
                self._publish("status", self._status(), qos=1, retain=True)
                await self._recover()
                workers = [asyncio.create_task(self._monitor(), name="monitor"),
                           asyncio.create_task(self._scheduler(), name="scheduler")]
                if self.dashboard_port is not None:
                    from .dashboard import Dashboard
                    self.dashboard = Dashboard(self, self.dashboard_port)
                    await self.dashboard.start()
                if self.metrics_port is not None:
                    self.health = HealthServer(self, self.metrics_port, self.config.service.metrics_host)
                    await self.health.start()
                workers.append(asyncio.create_task(systemd.watchdog(lambda: self.records.writing),
                                                   name="watchdog"))
                self.ready.set()
                systemd.notify(f"READY=1\nSTATUS=serving {len(inst)} instruments at {station}")
                await stop.wait()
                systemd.notify("STOPPING=1")
                # Nothing may start or read while the run is stopped and the instruments are closed.
                await _cancel(workers)
                await self._stop_run("the service was stopped")
        finally:
            if self.health is not None:
                await self.health.stop()
            if self.dashboard is not None:
                await self.dashboard.stop()
            if self.bus is not None:
                await self.bus.goodbye("stopped")
            if self.streamer is not None:
                await self.streamer.drained(timeout=5.0)
            await _cancel(self._tasks)
            if self.streamer is not None:
                self.streamer.close()
            await self.records.close()

    async def _stop_run(self, reason: str) -> None:
        run = self.active
        if run is not None and run.task is not None and not run.task.done():
            run.task.cancel()      # the procedure's finally leaves its instruments safe; the runner marks it
            with contextlib.suppress(BaseException):
                await run.task
            run.error = reason

    async def _recover(self) -> None:
        """Runs the process left unfinished when it was killed: resume the first, mark any others."""
        def unfinished() -> list[str]:
            with RecordsReader(self.records.path) as reader:
                return reader.unfinished()
        for i, run_id in enumerate(await asyncio.to_thread(unfinished)):
            if self.config.service.on_restart == "resume" and i == 0:
                try:
                    await self.start(None, {}, None, source="restart", resume=run_id)
                    continue
                except RunRefused as exc:
                    log.warning("run %s cannot be resumed: %s", run_id, exc)
            self.records.event(run_id, 0, self.clock.now(), "state", {"state": "interrupted",
                                                                     "error": "the service was killed"})

    # --- runs --------------------------------------------------------------------------------------------------
    async def start(self, name: str | None, raw: dict[str, Any], operator: str | None, *, source: str,
                    resume: str | None = None) -> str:
        if self.active is not None:
            raise RunRefused(f"busy with run {self.active.run_id} ({self.active.procedure})")
        previous, requested_by = None, operator
        if resume:
            previous = await asyncio.to_thread(load_for_resume, self.records.path, resume)
            name, raw, operator = previous.procedure, previous.params, previous.operator
        info = procedure(name)
        params = parameters(info, raw)
        authorise(self.config, operator, info.name)
        if requested_by and requested_by != operator:   # whoever resumes someone else's run must be competent too
            authorise(self.config, requested_by, info.name)
        run_id = previous.run_id if previous else new_run_id(self.clock.now())
        used = frozenset(v for v in to_dict(params).values() if isinstance(v, str) and v in self.instruments)
        ctx = RunContext(run_id, info.name, operator, self.instruments, register(self.config.standards), self.clock,
                         self._ask, simulated=self.simulate, control=run_control(self.config, self.instruments),
                         records=self.records, history=history_from(self.records))
        run = ActiveRun(run_id, info.name, operator, ctx, instruments=used)
        ctx.progress = lambda event, data: self._on_progress(run, event, data)
        if previous is not None:
            previous.apply(ctx)
        else:
            await start_record(self.records, ctx, info, raw, params, self.config.lab.station)
        self.active = run
        run.task = asyncio.create_task(self._execute(run, info, params), name=f"run {run_id}")
        log.info("run %s (%s) started by %s from %s", run_id, info.name, operator, source)
        return run_id

    async def _execute(self, run: ActiveRun, info, params) -> None:
        try:
            outcome = await execute(run.ctx, info, params)
            self._publish(f"runs/{run.run_id}/result", {"run_id": run.run_id, "procedure": run.procedure,
                                                        "results": outcome.to_json(),
                                                        "documents": await self._documents(run)},
                          qos=1, retain=True)
        except (RunRefused, RunFailed) as exc:
            run.error = getattr(exc, "message", str(exc))
        except asyncio.CancelledError:
            run.state = "interrupted"
            self._publish_state(run)
            raise
        except Exception as exc:   # a bug in a procedure must not take the service down; it is on record
            log.exception("run %s crashed", run.run_id)
            run.error = f"internal error: {exc!r}"
            run.ctx.event("state", state="failed", error=run.error)
        finally:
            if run.answer is not None and not run.answer.done():
                run.answer.cancel()
            run.prompt = None
            self.metrics.runs_finished.labels(state=run.state).inc()
            self._publish_state(run)
            if self.active is run:
                self.active = None

    async def _documents(self, run: ActiveRun) -> list[str]:
        """The run's document, as `labd run` writes it; a document that cannot be made does not fail the run."""
        from labd.daemon.documents import write_documents
        try:
            await self.records.flush()
            written = await asyncio.to_thread(write_documents, self.records.path, run.run_id, self.config.lab,
                                              self.documents, warn=log.warning)
        except Exception:
            log.exception("documents of run %s not written", run.run_id)
            return []
        return [p.name for p in written]

    async def _ask(self, prompt: Prompt) -> str:
        run = self.active
        run.prompt, run.answer = prompt, asyncio.get_running_loop().create_future()
        self._publish_state(run)
        try:
            return await run.answer
        finally:
            run.prompt, run.answer = None, None
            self._publish_state(run)

    def _on_progress(self, run: ActiveRun, event: str, data: dict[str, Any]) -> None:
        if event == "reading":
            r = data["reading"]
            self.metrics.readings.labels(instrument=r.instrument).inc()
            self._live(r.instrument, {"run_id": run.run_id, "time": r.time, "quantity": r.quantity,
                                      "value": r.value, "corrected": r.corrected, "unit": r.unit, "role": r.role,
                                      "used": r.used})
            return
        if event == "state":
            run.state, run.error = data["state"], data.get("error", run.error)
        elif event in ("paused", "suspended"):
            run.state = event
            run.progress["reason"] = data.get("reason", "")
        elif event == "resumed":
            run.state = "running"
        elif event == "step":
            run.progress.update(done=data["done"], of=data["of"], label=data.get("label", ""))
        elif event == "stabilising":
            run.progress.update(label=f"stabilising, {data['value']:.4f}", elapsed=data["elapsed"])
        elif event not in ("stable", "set_point", "point_complete", "heating"):
            return
        self._publish_state(run)

    def _run_state(self, run: ActiveRun) -> dict[str, Any]:
        p = run.prompt
        return {"run_id": run.run_id, "procedure": run.procedure, "operator": run.operator, "state": run.state,
                "attempt": run.ctx.attempt, "progress": run.progress, "error": run.error, "time": self.clock.now(),
                "prompt": None if p is None else {"key": p.key, "question": p.question, "kind": p.kind,
                                                  "unit": p.unit}}

    def _publish_state(self, run: ActiveRun) -> None:
        self._publish(f"runs/{run.run_id}/state", self._run_state(run), qos=1, retain=True)

    # --- live readings -----------------------------------------------------------------------------------------
    def _live(self, iid: str, data: dict[str, Any]) -> None:
        if data.get("stable") is None and isinstance(data.get("value"), (int, float)):
            # Instruments without their own stability flag: the lab's criterion over the recent readings
            # (SD and slope over a window), per channel or role, so a live view can say "stable".
            key = (iid, data.get("channel") or data.get("role"), data.get("quantity"))
            window = self._windows.setdefault(key, StabilityWindow(StabilityCriterion()))
            window.add(data["time"], data["value"])
            if window.statistics() is not None:
                data = {**data, "stable": window.stable(None)}
        self.latest[iid] = data
        self._publish(f"instruments/{iid}/reading", data)

    async def _monitor(self) -> None:
        """Readings of the instruments no run is using, for the live views (streamed, not recorded)."""
        from labd.procedures import RecordedReading
        while True:
            busy = self.active.instruments if self.active is not None else frozenset()
            lines = []
            for iid, inst in self.instruments.items():
                if iid in busy:
                    continue
                try:
                    for r in await inst.sample():
                        now = self.clock.now()
                        self._live(iid, {"run_id": None, "time": now, "quantity": r.quantity, "value": r.value,
                                         "unit": r.unit, "stable": r.stable, "channel": r.channel})
                        rec = RecordedReading(now, iid, r.quantity, r.value, r.unit, r.raw, role="monitor")
                        lines.append(line(self.config.lab.station, None, rec, measurement="monitor"))
                except (InstrumentError, OSError) as exc:
                    self._live(iid, {"run_id": None, "time": self.clock.now(), "error": str(exc)})
            if lines and self.streamer is not None:
                self.records.stream_only(lines)
            await self.clock.sleep(self.config.service.monitor_interval)

    async def _scheduler(self) -> None:
        schedules = self.config.schedules
        if not schedules:
            return
        due = [next_due(s, self.clock.now()) for s in schedules]
        while True:
            i = min(range(len(due)), key=due.__getitem__)
            await self.clock.sleep(due[i] - self.clock.now())
            s = schedules[i]
            try:
                run_id = await self.start(s.procedure, dict(s.params), s.operator, source="scheduler")
                outcome = f"started {run_id}"
            except RunRefused as exc:
                outcome = f"skipped: {exc}"
                log.warning("scheduled %s %s", s.procedure, outcome)
            await self.records.command("scheduler", s.operator, {"procedure": s.procedure, "params": s.params},
                                       outcome)
            due[i] = next_due(s, self.clock.now(), last=due[i])

    # --- commands ----------------------------------------------------------------------------------------------
    async def on_command(self, payload: bytes, response_topic: str | None, correlation: bytes | None) -> None:
        reply = await self.command(payload, "mqtt")
        self.bus.reply(reply["id"] or "invalid", reply, response_topic, correlation)

    async def command(self, payload: bytes, source: str) -> dict[str, Any]:
        """Validate, authorise, act, record: the one way in for MQTT and the dashboard alike."""
        await self.ready.wait()
        try:
            cmd = parse(payload)
        except CommandError as exc:
            await self.records.command(source, None, payload.decode("utf-8", "replace")[:4096], f"invalid: {exc}")
            self.metrics.commands.labels(source=source, outcome="invalid").inc()
            return {"id": exc.command_id, "ok": False, "error": str(exc)}
        try:
            result = await self.handle(cmd)
            reply, outcome = {"id": cmd.id, "ok": True, **result}, "ok"
        except (RunRefused, CommandError, ValueError) as exc:
            reply, outcome = {"id": cmd.id, "ok": False, "error": str(exc)}, f"refused: {exc}"
        except Exception as exc:   # never let a command take the service down
            log.exception("command %s failed", cmd.id)
            reply, outcome = {"id": cmd.id, "ok": False, "error": f"internal error: {exc!r}"}, f"error: {exc!r}"
        await self.records.command(source, cmd.operator, cmd.model_dump(exclude_none=True), outcome)
        self.metrics.commands.labels(source=source, outcome=Metrics.outcome(outcome)).inc()
        return reply

    def _authorised_for_run(self, cmd: Command) -> ActiveRun:
        run = self.active
        if run is None or cmd.run_id not in (None, run.run_id):
            raise CommandError(f"no active run {cmd.run_id or ''}".strip())
        authorise(self.config, cmd.operator, run.procedure)
        return run

    async def handle(self, cmd: Command) -> dict[str, Any]:
        if cmd.action == "start":
            return {"run_id": await self.start(cmd.procedure, cmd.params, cmd.operator, source="mqtt")}
        if cmd.action == "resume" and cmd.run_id and (self.active is None or self.active.run_id != cmd.run_id):
            return {"run_id": await self.start(None, {}, cmd.operator, source="mqtt", resume=cmd.run_id)}
        if cmd.action in ("pause", "resume", "abort"):
            run = self._authorised_for_run(cmd)
            control = run.ctx.control
            {"pause": control.pause, "resume": control.resume,
             "abort": lambda: control.abort(cmd.reason or f"aborted by {cmd.operator}")}[cmd.action]()
            run.ctx.event("control", action=cmd.action, operator=cmd.operator)
            return {"run_id": run.run_id}
        if cmd.action == "answer":
            run = self._authorised_for_run(cmd)
            if run.prompt is None or run.prompt.key != cmd.prompt:
                raise CommandError(f"run {run.run_id} has no open prompt {cmd.prompt!r}"
                                   + (f" (open: {run.prompt.key!r})" if run.prompt else ""))
            value = str(cmd.value)
            if self.operator_sim is not None and run.prompt.action:
                simulated = await self.operator_sim.perform(run.prompt.action)
                value = simulated if run.prompt.kind == "number" and cmd.value in ("", "simulate") else value
            run.ctx.event("answered_by", key=cmd.prompt, operator=cmd.operator)
            if not run.answer.done():
                run.answer.set_result(value)
            return {"run_id": run.run_id}
        if cmd.action == "status":
            return self._status()
        return await asyncio.to_thread(self._list, cmd.what or "procedures")

    def runs(self) -> list[ActiveRun]:
        """The runs in progress."""
        return [self.active] if self.active is not None else []

    def _status(self) -> dict[str, Any]:
        return {"state": "online", "station": self.config.lab.station, "simulated": self.simulate,
                "instruments": sorted(self.config.instruments),
                "run": self._run_state(self.active) if self.active else None,
                "stream": None if self.streamer is None else {"connected": self.streamer.state.connected,
                                                              "sent": self.streamer.state.sent}}

    def _list(self, what: str) -> dict[str, Any]:
        if what == "procedures":
            return {"procedures": [{"name": i.name, "version": i.version, "description": i.description,
                                    "parameters": [{"name": n, "type": t, "default": d}
                                                   for n, t, d in describe(i.parameters)]}
                                   for i in PROCEDURES.values()]}
        if what == "instruments":
            return {"instruments": [{"id": iid, "driver": c.driver, "description": c.description,
                                     "latest": self.latest.get(iid)} for iid, c in self.config.instruments.items()]}
        with RecordsReader(self.records.path) as reader:
            runs = reader.runs()[-50:]
        return {"runs": [{"run_id": r.run_id, "procedure": r.procedure, "operator": r.operator, "state": r.state,
                          "attempt": r.attempt} for r in runs]}

    def _publish(self, topic: str, data: Any, *, qos: int = 0, retain: bool = False) -> None:
        if self.bus is not None:
            self.bus.publish(topic, data, qos=qos, retain=retain)
        for listener in self.listeners:
            listener(topic, data)

    def snapshot(self) -> dict[str, Any]:
        """What a live view needs on connecting: status, the latest reading of each instrument, the run."""
        return {"status": self._status(), "latest": self.latest,
                "run": self._run_state(self.active) if self.active else None}


async def _cancel(tasks: list[asyncio.Task]) -> None:
    """Cancel until done: a library that swallows one cancellation must not hang the stop."""
    pending = [t for t in tasks if not t.done()]
    while pending:
        for t in pending:
            t.cancel()
        _, still = await asyncio.wait(pending, timeout=1.0)
        pending = list(still)

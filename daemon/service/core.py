"""`labd serve`: the long-running service. It connects the instruments, runs procedures on command and on
schedule (several at once, each on the instruments it reserved: `runs.py`), records everything, streams readings
to the time-series server, and shows its state over MQTT, the dashboard and /healthz.

Every command is recorded with its outcome (`handling.py`). On SIGTERM every run is stopped, its instruments left
safe and the run marked interrupted; runs found unfinished at start (the process was killed) are resumed or
marked interrupted, as `[service] on_restart` says.
"""
from __future__ import annotations

import asyncio
import logging
import os
import ssl
from typing import Any

from labd.daemon.config import Config, documents_dir, keys_dir, records_path as resolve_records
from labd.daemon.engine import RunRefused, bench, describe_claims, record_configuration
from labd.daemon.records import Records, RecordsReader
from labd.drivers import InstrumentError
from labd.procedures.clock import Clock, WallClock
from labd.procedures.events import Event
from labd.procedures.stability import StabilityCriterion, StabilityWindow

from . import systemd
from .handling import Handling
from .health import HealthServer, Metrics
from .fleet import Fleet
from .mqtt import Bus
from .runs import ActiveRun, Runs
from .schedule import missed, next_due
from .stream import Streamer, line

log = logging.getLogger("labd.service")


class Service:
    def __init__(self, config: Config, *, simulate: bool = False, speed: float = 1.0, seed: int | None = None,
                 mqtt_url: str | None = None, influx_url: str | None = None, records_path: str | None = None,
                 sim_start: float | None = None, dashboard_port: int | None = None,
                 metrics_port: int | None = None) -> None:
        self.config, self.simulate, self.speed, self.seed = config, simulate, speed, seed
        self.base_config = config      # the configuration folder's own, under the central registers (refresh_registers)
        self.dashboard_port = dashboard_port if dashboard_port is not None else config.service.dashboard_port
        self.dashboard: Any = None
        self.sim_start = sim_start
        self.metrics_port = metrics_port if metrics_port is not None else config.service.metrics_port
        self.health: HealthServer | None = None
        # The environment's LABD_MQTT__URL / LABD_INFLUX__URL are already in the configuration.
        self.mqtt_url = mqtt_url or config.mqtt.url
        self.influx_url = influx_url or config.influx.url
        self.records = Records(resolve_records(config, records_path), keys_dir(config))
        self.documents = documents_dir(config)
        self.root = config.mqtt.topic_root or f"labd/{config.lab.station}"
        self.bus: Bus | None = None
        self.streamer: Streamer | None = None
        self.replicator: Any = None             # to the central records, when [central] url is set
        self.fleet = Fleet(self.root.rsplit("/", 1)[0] if "/" in self.root else self.root)
        self.latest: dict[str, dict[str, Any]] = {}
        self._windows: dict[tuple, StabilityWindow] = {}
        self.listeners: list[Any] = []          # live views (the dashboard): called with (topic, data)
        self.ready = asyncio.Event()
        self.stopping = False
        self.metrics = Metrics()
        self.instruments: dict[str, Any] = {}
        self.clock: Clock = WallClock()
        self.operator_sim: Any = None
        self.lab: Any = None                    # the simulated lab, when simulating
        self.schedule_due: list[float] = []
        self.runs_ = Runs(self)
        self.handling = Handling(self)
        self.command = self.handling.command          # the one way in, for the dashboard
        self.on_command = self.handling.on_command    # and for MQTT
        self._tasks: list[asyncio.Task] = []
        self._head_published: Any = None

    # --- life cycle --------------------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        await self.records.open()
        await self.refresh_registers()
        changed = await record_configuration(self.records, self.config, "service")
        if changed:
            log.info("configuration %s", changed)
        station = self.config.lab.station
        if self.influx_url:
            self.records.stream_readings(station)
            inf = self.config.influx
            self.streamer = Streamer(self.records, self.influx_url, token=inf.token.get_secret_value(),
                                     org=inf.org, bucket=inf.bucket)
            self._tasks.append(asyncio.create_task(self.streamer.run(), name="stream"))
        if self.config.central.url:
            from labd.daemon.records.replica import Replicator
            self.replicator = Replicator(self.records.path, self.records.keys, station, self.config.central.url)
            self._tasks.append(asyncio.create_task(self.replicator.run(), name="central"))
        if self.mqtt_url:
            mq = self.config.mqtt
            tls = ssl.create_default_context(cafile=mq.ca_file) if mq.ca_file else None
            self.bus = Bus(self.mqtt_url, self.root, identifier=f"labd-{station}-{os.getpid()}",
                           on_command=self.on_command, tls_context=tls, username=mq.username,
                           password=mq.password.get_secret_value() if mq.password else None,
                           live_interval=mq.live_interval, watch=self.fleet.subscriptions,
                           on_watched=self._fleet_message)
            self._bus_task = asyncio.create_task(self.bus.run(), name="mqtt")
            self._tasks.append(self._bus_task)
        try:
            async with bench(self.config, simulate=self.simulate, speed=self.speed, seed=self.seed,
                             start=self.sim_start) as (inst, lab):
                self.instruments, self.lab = inst, lab
                self.clock = lab.clock if lab is not None else WallClock()
                if lab is not None:
                    from labd.simulators import SimulatedOperator   # only a simulated service loads them
                    self.operator_sim = SimulatedOperator(lab.world)
                for iid, i in inst.items():
                    try:
                        await i.open()
                    except (InstrumentError, OSError) as exc:   # the monitor keeps trying; a run will say so
                        log.warning("instrument %s not available: %s", iid, exc)
                self.publish("status", self.status(), qos=1, retain=True)
                await self.runs_.recover()
                workers = [asyncio.create_task(self._monitor(), name="monitor"),
                           asyncio.create_task(self._scheduler(), name="scheduler")]
                if self.dashboard_port is not None:
                    from .dashboard import Dashboard
                    self.dashboard = Dashboard(self, self.dashboard_port)
                    await self.dashboard.start()
                if self.metrics_port is not None:
                    self.health = HealthServer(self, self.metrics_port, self.config.service.metrics_host)
                    await self.health.start()
                if self.bus is not None:
                    workers.append(asyncio.create_task(self._publish_head(), name="records-head"))
                workers.append(asyncio.create_task(systemd.watchdog(lambda: self.records.writing),
                                                   name="watchdog"))
                self.ready.set()
                systemd.notify(f"READY=1\nSTATUS=serving {len(inst)} instruments at {station}")
                await stop.wait()
                systemd.notify("STOPPING=1")
                # Nothing may start or read while the runs are stopped and the instruments are closed.
                self.stopping = True
                log.info("stopping: %d runs to stop", len(self.runs()))
                await _cancel(workers)
                await self.runs_.stop_all("the service was stopped")
                log.info("stopping: runs stopped, instruments safe")
        finally:
            if self.health is not None:
                await self.health.stop()
            if self.dashboard is not None:
                await self.dashboard.stop()
            if self.bus is not None:
                await self.records.flush()
                self._head_published = self._head(self._head_published)
                await self.bus.goodbye("stopped")
                await asyncio.wait([self._bus_task], timeout=5.0)   # it leaves the broker cleanly
                log.info("stopping: left the broker")
            if self.streamer is not None:
                await self.streamer.drained(timeout=5.0)
            if self.replicator is not None:        # what is left goes at the next start, from where it stopped
                await self.replicator.drained(timeout=5.0)
            await _cancel(self._tasks)
            if self.streamer is not None:
                self.streamer.close()
            await self.records.close()
            log.info("stopped: records closed")

    def _fleet_message(self, topic: str, payload: bytes) -> None:
        if self.fleet.take(topic, payload):
            for listener in self.listeners:
                listener("fleet", self.fleet.view())

    async def refresh_registers(self) -> None:
        """With central registers ([central] url), their current version (or the last synchronised copy, said)."""
        if not self.config.central.url:
            return
        from labd.daemon.engine.registers import in_force
        self.config = await asyncio.to_thread(in_force, self.base_config, say=log.info)

    # --- runs ----------------------------------------------------------------------------------------------------
    def runs(self) -> list[ActiveRun]:
        """The runs in progress and queued."""
        return self.runs_.all()

    async def start(self, name: str | None, raw: dict[str, Any], operator: str | None, *, source: str,
                    resume: str | None = None) -> str:
        return (await self.runs_.start(name, raw, operator, source=source, resume=resume))["run_id"]

    async def documents_of(self, run_id: str) -> list[str]:
        """The run's document, as `labd run` writes it; a document that cannot be made does not fail the run."""
        from labd.daemon.documents import ReportError, write_documents
        try:
            await self.records.flush()
            written = await asyncio.to_thread(write_documents, self.records.path, run_id, self.config.lab,
                                              self.documents, warn=log.warning, keys=self.records.keys,
                                              names=self.config.names())
        except ReportError as exc:       # records that fail verification: said, and nothing issued
            log.error("documents of run %s not written: %s", run_id, exc)
            return []
        except Exception:
            log.exception("documents of run %s not written", run_id)
            return []
        return [p.name for p in written]

    def on_progress(self, run: ActiveRun, event: str, data: dict[str, Any]) -> None:
        if event == Event.READING:
            r = data["reading"]
            self.metrics.readings.labels(instrument=r.instrument).inc()
            self._live(r.instrument, {"run_id": run.run_id, "time": r.time, "quantity": r.quantity,
                                      "value": r.value, "corrected": r.corrected, "unit": r.unit, "role": r.role,
                                      "used": r.used})
            return
        if event == Event.STATE:
            run.state, run.error = data["state"], data.get("error", run.error)
        elif event in (Event.PAUSED, Event.SUSPENDED):
            run.state = str(event)
            run.progress["reason"] = data.get("reason", "")
        elif event == Event.RESUMED:
            run.state = "running"
        elif event == Event.STEP:
            run.progress.update(done=data["done"], of=data["of"], label=data.get("label", ""))
        elif event == Event.STABILISING:
            run.progress.update(label=f"stabilising, {data['value']:.4f}", elapsed=data["elapsed"])
        elif event not in (Event.STABLE, Event.SET_POINT, Event.POINT_COMPLETE, Event.HEATING, Event.QUEUE,
                           Event.PROMPT_WITHDRAWN):
            return
        self.publish_state(run)

    def held_by(self, run: ActiveRun) -> None:
        """The live view of each instrument a run takes says so: the monitor no longer reads it, and its last
        monitored value (a dry-block "stable" at room temperature) must not stand for what the run is doing.
        The run's own readings replace it as they come."""
        for iid in run.claims:
            self._live(iid, {"run_id": run.run_id, "time": self.clock.now(), "held_by": run.run_id,
                             "instrument_use": f"in use by run {run.run_id}"})

    def run_state(self, run: ActiveRun) -> dict[str, Any]:
        p = run.prompt
        state = {"run_id": run.run_id, "procedure": run.procedure, "operator": run.operator, "state": run.state,
                 "attempt": run.ctx.attempt, "progress": run.progress, "error": run.error, "time": self.clock.now(),
                 "instruments": describe_claims(run.claims),
                 "prompt": None if p is None else {"key": p.key, "question": p.question, "kind": p.kind,
                                                   "unit": p.unit}}
        if run.state == "queued":
            state.update(position=self.runs_.position(run), waiting_for=run.waiting_for)
        return state

    def publish_state(self, run: ActiveRun) -> None:
        self.publish(f"runs/{run.run_id}/state", self.run_state(run), qos=1, retain=True)

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
        topic = f"instruments/{iid}/reading"
        if self.bus is not None:
            self.bus.live(topic, data, key=(iid, data.get("channel") or data.get("role"), data.get("quantity")))
        for listener in self.listeners:
            listener(topic, data)

    async def _monitor(self) -> None:
        """Readings of the instruments no run is using, for the live views (streamed, not recorded)."""
        from labd.procedures import RecordedReading
        while True:
            # Never an instrument a run holds (here or in another labd process): the run's own readings are the
            # live view of it, and a monitor query in the middle of a run's exchange would disturb it.
            elsewhere = self.runs_.held_elsewhere()
            lines: list[str] = []
            for iid, inst in self.instruments.items():
                if iid in elsewhere or iid in self.runs_.held_here():
                    continue
                try:
                    sampled = await inst.sample()
                    if iid in self.runs_.held_here():    # taken while it was being read: the run's now
                        continue
                    for r in sampled:
                        now = self.clock.now()
                        self._live(iid, {"run_id": None, "time": now, "quantity": r.quantity, "value": r.value,
                                         "unit": r.unit, "stable": r.stable, "channel": r.channel})
                        rec = RecordedReading(now, iid, r.quantity, r.value, r.unit, r.raw, role="monitor")
                        text = line(self.config.lab.station, None, rec, measurement="monitor")
                        if text:
                            lines.append(text)
                except (InstrumentError, OSError) as exc:
                    self._live(iid, {"run_id": None, "time": self.clock.now(), "error": str(exc)})
            if lines and self.streamer is not None:
                self.records.stream_only(lines)
            await self.clock.sleep(self.config.service.monitor_interval)

    def _head(self, last: Any) -> Any:
        """The records' signed head, retained on the broker: a copy outside this machine of where the chain
        ended, against which a cut or rolled-back database shows (docs/security.md)."""
        head = self.records.head
        if head is not None and head != last and self.bus is not None:
            self.publish("records/head", {**head.as_dict(), "records": self.records.path.name}, qos=1, retain=True)
        return head

    async def _publish_head(self) -> None:
        last = None
        while True:
            last = self._head(last)
            await asyncio.sleep(10.0)

    async def _scheduler(self) -> None:
        schedules = self.config.schedules
        if not schedules:
            return
        tz = self.config.lab.timezone

        def served() -> list[float | None]:
            with RecordsReader(self.records.path) as reader:
                return [reader.last_scheduled(s.name or s.procedure) for s in schedules]
        now = self.clock.now()
        last = await asyncio.to_thread(served)
        self.schedule_due = due = [next_due(s, now, tz=tz) for s in schedules]
        for s, previous in zip(schedules, last):
            late = missed(s, now, previous, tz)
            if late is not None:      # fell due while the service was down: once, now
                await self._fire(s, late, late=True)
        while True:
            i = min(range(len(due)), key=due.__getitem__)
            await self.clock.sleep(due[i] - self.clock.now())
            await self._fire(schedules[i], due[i])
            due[i] = next_due(schedules[i], self.clock.now(), last=due[i], tz=tz)

    async def _fire(self, s, due: float, late: bool = False) -> None:
        try:
            # A schedule that falls due while its instruments are busy is queued, not dropped.
            started = await self.runs_.start(s.procedure, dict(s.params), s.operator, source="scheduler")
            outcome = (f"started {started['run_id']}" if started["state"] != "queued" else
                       f"queued {started['run_id']} (waiting for {started['waiting_for']})")
        except RunRefused as exc:
            outcome = f"refused: {exc}"
            log.warning("scheduled %s %s", s.procedure, outcome)
        payload = {"schedule": s.name, "procedure": s.procedure, "params": s.params, "due": due,
                   **({"missed": True} if late else {})}
        await self.records.command("scheduler", s.operator, payload, outcome)

    def status(self) -> dict[str, Any]:
        return {"state": "online", "station": self.config.lab.station, "simulated": self.simulate,
                "instruments": sorted(self.config.instruments),
                "runs": [self.run_state(r) for r in self.runs()],
                "run": self.run_state(self.runs()[0]) if self.runs() else None,
                "schedules": [{"name": s.name, "procedure": s.procedure, "every": s.every or s.cron,
                               "next_due": due} for s, due in zip(self.config.schedules, self.schedule_due)],
                "stream": None if self.streamer is None else {"connected": self.streamer.state.connected,
                                                              "sent": self.streamer.state.sent},
                "central": None if self.replicator is None else self.replicator.state.as_dict()}

    def fleet_view(self) -> list[dict[str, Any]]:
        """The lab's stations as their services publish them (this one included), for the fleet view."""
        return self.fleet.view()

    def publish(self, topic: str, data: Any, *, qos: int = 0, retain: bool = False) -> None:
        if self.bus is not None:
            self.bus.publish(topic, data, qos=qos, retain=retain)
        for listener in self.listeners:
            listener(topic, data)

    def snapshot(self) -> dict[str, Any]:
        """What a live view needs on connecting: status, the latest reading of each instrument, the runs."""
        runs = self.runs()
        return {"status": self.status(), "latest": self.latest, "runs": [self.run_state(r) for r in runs],
                "run": self.run_state(runs[0]) if runs else None, "fleet": self.fleet.view()}


async def _cancel(tasks: list[asyncio.Task]) -> None:
    """Cancel until done: a library that swallows one cancellation must not hang the stop."""
    pending = [t for t in tasks if not t.done()]
    while pending:
        for t in pending:
            t.cancel()
        _, still = await asyncio.wait(pending, timeout=1.0)
        pending = list(still)

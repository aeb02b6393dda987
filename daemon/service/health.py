"""`/healthz` and Prometheus `/metrics` for the service, on a local port of their own (`[service] metrics_port`).

/healthz answers 200 while the service can record (the records writer is up) and 503 otherwise, with what it
knows of the broker, the time-series server and the instruments; a supervisor or a load balancer polls it.
/metrics is the text exposition of prometheus-client, from a registry of this service's own.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, generate_latest

if TYPE_CHECKING:
    from .core import Service

log = logging.getLogger("labd.health")


class Metrics:
    """The service's counters and gauges; the service calls these as things happen."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.readings = Counter("labd_readings_recorded", "Readings committed to the records", ["instrument"],
                                registry=r)
        self.commands = Counter("labd_commands", "Commands received, by outcome", ["source", "outcome"],
                                registry=r)
        self.runs_finished = Counter("labd_runs_finished", "Runs that ended, by final state", ["state"],
                                     registry=r)
        self.runs = Gauge("labd_runs", "Runs in progress, by state", ["state"], registry=r)
        self.outbox = Gauge("labd_outbox_depth", "Lines waiting for the time-series server", registry=r)
        self.broker = Gauge("labd_broker_connected", "1 while connected to the MQTT broker", registry=r)
        self.stream = Gauge("labd_stream_connected", "1 while the time-series server accepts lines", registry=r)
        self.records_up = Gauge("labd_records_writer_up", "1 while the records writer can commit", registry=r)

    @staticmethod
    def outcome(text: str) -> str:
        """A command's recorded outcome reduced to a label: ok, refused, invalid or error."""
        return text.split(":", 1)[0].split(" ", 1)[0] or "unknown"


class HealthServer:
    def __init__(self, service: "Service", port: int, host: str = "127.0.0.1") -> None:
        self.service, self.port, self.host = service, port, host
        self._runner: web.AppRunner | None = None

    async def start(self) -> int:
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        # The address the runner listens on (aiohttp's public view of it; the server object differs between
        # asyncio's loop and uvloop)
        self.port = int(self._runner.addresses[0][1])   # the port chosen when 0 was asked for
        log.info("health and metrics on http://%s:%d/healthz and /metrics", self.host, self.port)
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def health(self) -> dict[str, Any]:
        s = self.service
        recording = s.records.writing
        return {
            "status": "ok" if recording else "failing",
            "station": s.config.lab.station,
            "records": "writing" if recording else "stopped",
            "broker": ("not configured" if s.bus is None else
                       "connected" if s.bus.connected.is_set() else "disconnected"),
            "time_series": ("not configured" if s.streamer is None else
                            "connected" if s.streamer.state.connected else "disconnected"),
            "runs": [{"run_id": r.run_id, "procedure": r.procedure, "state": r.state} for r in s.runs()],
            "instruments": {iid: ("error" if "error" in data else "ok") for iid, data in s.latest.items()},
        }

    async def healthz(self, request: web.Request) -> web.Response:
        body = self.health()
        return web.json_response(body, status=200 if body["status"] == "ok" else 503)

    async def metrics(self, request: web.Request) -> web.Response:
        s, m = self.service, self.service.metrics
        m.records_up.set(1 if s.records.writing else 0)
        m.broker.set(1 if s.bus is not None and s.bus.connected.is_set() else 0)
        m.stream.set(1 if s.streamer is not None and s.streamer.state.connected else 0)
        if s.records.writing:
            m.outbox.set(await s.records.outbox_size())
        m.runs.clear()
        for run in s.runs():
            m.runs.labels(state=run.state).inc()
        return web.Response(body=generate_latest(m.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

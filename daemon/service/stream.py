"""Readings to the time-series server through the InfluxDB v2 write API, from the records' outbox.

The outbox is written in the same transaction as the reading (daemon/records.py), so this side only has to
send the oldest lines, in order, and delete them once the server has acknowledged them. While the server is
down the lines wait on disk, and the sender retries with backoff; nothing is lost and nothing is reordered.
Lines go out at most once per `interval` (1 s, as Telegraf and the InfluxDB clients batch) unless a full batch
is waiting: a request per reading cost more than the reading (issue 18), and a dashboard needs no faster.
Works with InfluxDB 2.x and 3.x and anything else that accepts /api/v2/write (VictoriaMetrics in the tests).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from typing import cast

from influxdb_client import InfluxDBClient, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS

from labd.daemon.records import Records, outbox

MS = cast(WritePrecision, WritePrecision.MS)   # the client's constant is a plain str
log = logging.getLogger("labd.stream")


def line(station: str, run_id: str | None, reading, measurement: str = "reading") -> str:
    """Line protocol for one reading (ms precision; tags station, instrument, run, quantity, unit, role). The
    records writer makes the lines of recorded readings itself (`Records.stream_readings`); this is for the
    monitor's readings between runs, which are streamed but not records."""
    value = reading.corrected if reading.corrected is not None else reading.value
    return outbox.line(measurement, station, run_id, reading.instrument, reading.quantity, reading.unit,
                       getattr(reading, "role", ""), value, reading.value, getattr(reading, "used", True),
                       reading.time)


@dataclass
class StreamState:
    connected: bool = False
    sent: int = 0
    last_error: str = ""


class Streamer:
    def __init__(self, records: Records, url: str, *, token: str = "", org: str = "lab", bucket: str = "labd",
                 batch: int = 5000, max_backoff: float = 30.0, interval: float = 1.0) -> None:
        self.records, self.url, self.org, self.bucket = records, url, org, bucket
        self.batch, self.max_backoff, self.interval = batch, max_backoff, interval
        self.client = InfluxDBClient(url=url, token=token or "labd", org=org, timeout=10_000)
        self.write_api = self.client.write_api(write_options=SYNCHRONOUS)
        self.state = StreamState()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._now = asyncio.Event()        # drained() wants the rest without waiting for the interval

    def wake(self) -> None:
        """Called by the records on the event loop after a commit that added lines. The event is set directly:
        `call_soon_threadsafe` would write to the loop's wake-up descriptor and cost every commit a syscall and
        a wake-up of its own (issue 18)."""
        self._wake.set()

    async def run(self) -> None:
        self.records.on_outbox = self.wake
        backoff = 0.5
        while True:
            rows = await self.records.take_outbox(self.batch)
            if not rows:
                self._idle.set()
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await self._wake.wait()
                continue
            self._idle.clear()
            try:
                text = "\n".join(r[1] for r in rows)
                await asyncio.to_thread(lambda: self.write_api.write(bucket=self.bucket, org=self.org, record=text,
                                                                     write_precision=MS))
            except Exception as exc:   # any failure of the server or the network: keep the lines, try again
                if self.state.connected or not self.state.last_error:
                    log.warning("time-series server %s unavailable (%s); %d+ points wait on disk", self.url,
                                str(exc).splitlines()[0][:200], len(rows))
                self.state.connected, self.state.last_error = False, str(exc).splitlines()[0][:200]
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            await self.records.drop_outbox(rows[-1][0])
            if not self.state.connected:
                log.info("time-series server %s reachable again", self.url)
            self.state.connected, self.state.sent = True, self.state.sent + len(rows)
            backoff = 0.5
            if len(rows) < self.batch and not self._now.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.interval):
                        await self._now.wait()

    async def drained(self, timeout: float = 30.0) -> bool:
        """True once the outbox is empty (for a clean stop and for tests)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self._now.set()
        try:
            while loop.time() < deadline:
                if await self.records.outbox_size() == 0:
                    return True
                await asyncio.sleep(0.1)
            return False
        finally:
            self._now.clear()

    def close(self) -> None:
        self.records.on_outbox = None
        self.client.close()

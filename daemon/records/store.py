"""The lab's records: an embedded SQLite database (WAL) that is append-only and hash-chained.

Runs, readings, events (prompts, answers, state changes, completed points), results and commands are rows that
are never updated or deleted: triggers refuse it, and every row gets an entry in the audit chain holding the
SHA-256 of its content, linked to the entry before it by an HMAC under the records key (seal.py). After each
commit the signed head of the chain is left outside the database. `verify()` recomputes the chain and checks
the head, so an edit made behind the triggers' back (another tool, a dropped trigger), re-chained or not, a
cut tail and an older copy of the file are detected. A run's state is its latest "state" event.

One writer owns the write connection: a process of its own (writer.py), so that appending never holds the
interpreter lock the instruments' exchanges need. Callers on the event loop queue operations; what is queued in
one loop iteration goes to the writer as one frame, and the writer commits everything it has received in one
transaction (group commit), so many instruments cost one fsync per batch rather than one per reading. Callers
that need durability (a reading) await the commit.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .schema import RecordsError, to_json
from .seal import Head, keys_folder
from .writer import LENGTH, CertificateNumber, frame

log = logging.getLogger("labd.records")


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


class Records:
    """The write side, for the event loop. `open()` before use, `close()` flushes and stops the thread.

    After `stream_readings(station)` each reading is also queued for the time-series server: the writer puts its
    line (outbox.py) in the outbox in the reading's transaction, and `on_outbox()` is called (on the event loop)
    after each commit that added lines."""

    on_outbox: Callable[[], None] | None = None

    def __init__(self, path: Path | str, keys_dir: Path | str | None = None) -> None:
        self.path = Path(path)
        self.keys = keys_folder(self.path, Path(keys_dir) if keys_dir is not None else None)
        self.head: Head | None = None      # the latest signed head, for the service to publish
        self._process: subprocess.Popen | None = None
        self._stream: asyncio.StreamWriter | None = None
        self._listener: asyncio.Task | None = None
        self._waiting: dict[int, asyncio.Future] = {}
        self._batch: list[tuple[int | None, str, tuple]] = []
        self._next_id = 0
        self._failure: str | None = None

    async def open(self) -> "Records":
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        ours, theirs = socket.socketpair()
        try:
            # Its own session: a Ctrl-C at the terminal goes to the daemon, which closes the records in order.
            self._process = await asyncio.to_thread(
                subprocess.Popen, [sys.executable, "-c", "from labd.daemon.records.writer import main; main()",
                                   str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            theirs.close()
        reader, self._stream = await asyncio.open_unix_connection(sock=ours)
        self._stream.write(frame({"path": str(self.path), "keys": str(self.keys)}))
        try:
            answer = await self._receive(reader)
        except (EOFError, asyncio.IncompleteReadError, ConnectionError):
            answer = {"error": f"records {self.path}: the records writer did not start"}
        if "error" in answer:
            await self._stopped()
            raise RecordsError(answer["error"])
        self._failure = None
        self._listener = asyncio.create_task(self._listen(reader), name=f"records:{self.path.name}")
        return self

    @staticmethod
    async def _receive(reader: asyncio.StreamReader) -> Any:
        size = LENGTH.unpack(await reader.readexactly(LENGTH.size))[0]
        return pickle.loads(await reader.readexactly(size))

    async def _listen(self, reader: asyncio.StreamReader) -> None:
        """The writer's answers: each resolves the operations it committed, in order."""
        try:
            while True:
                message = await self._receive(reader)
                if message.get("closed"):
                    break
                if message.get("head") is not None:
                    self.head = message["head"]
                for op_id, result, exc in message.get("done", ()):
                    fut = self._waiting.pop(op_id, None)
                    if fut is not None and not fut.done():
                        fut.set_exception(exc) if exc is not None else fut.set_result(result)
                if message.get("outbox") and self.on_outbox is not None:
                    self.on_outbox()
        except (asyncio.IncompleteReadError, ConnectionError, EOFError) as exc:
            self._failure = f"the records writer stopped ({type(exc).__name__})"
            log.error("records %s: %s", self.path, self._failure)
        finally:
            failure = RecordsError(f"records {self.path}: {self._failure or 'closed'}")
            for fut in self._waiting.values():
                if not fut.done():
                    fut.set_exception(failure)
            self._waiting.clear()
            self._failure = self._failure or "closed"

    @property
    def writing(self) -> bool:
        """Whether the writer is up: the service is healthy only while it can record."""
        return self._process is not None and self._process.poll() is None and self._failure is None

    @property
    def writer_pid(self) -> int | None:
        """The writer process (its CPU is the service's too: bench/daemon_throughput.py counts it)."""
        return self._process.pid if self._process is not None else None

    def _submit(self, name: str, args: tuple, wait: bool) -> asyncio.Future | None:
        if self._failure is not None or self._stream is None:
            raise RecordsError(f"records {self.path} are not open")
        if threading.get_ident() != self._loop_thread:
            raise RecordsError("records are written from the event loop's thread")
        fut: asyncio.Future | None = None
        op_id = None
        if wait:
            fut = self._loop.create_future()
            self._next_id += 1
            op_id = self._next_id
            self._waiting[op_id] = fut
        if not self._batch:
            self._loop.call_soon(self._send)
        self._batch.append((op_id, name, args))
        return fut

    def _send(self) -> None:
        """Everything queued in this loop iteration, as one frame."""
        batch, self._batch = self._batch, []
        if batch and self._stream is not None and not self._stream.is_closing():
            self._stream.write(frame(batch))

    async def _do(self, name: str, *args: Any) -> Any:
        fut = self._submit(name, args, True)
        assert fut is not None
        return await fut

    # --- appending -------------------------------------------------------------------------------------------
    async def create_run(self, *, run_id: str, procedure: str, version: str, operator: str, station: str,
                         params: dict, resolved: dict, simulated: bool) -> None:
        values = (run_id, procedure, version, operator, station, to_json(params), to_json(resolved), int(simulated),
                  time.time())
        await self._do("append", "runs", values)

    async def reading(self, run_id: str, attempt: int, r) -> int:
        """Returns once the reading is committed: a procedure goes on only with its reading on disk."""
        # Plain Python values only: a numpy scalar would make the writer import numpy to unpickle it (a second's
        # stall of every record, found when fifty runs started at once).
        values = (run_id, int(attempt), float(r.time), str(r.instrument), str(r.quantity), _number(r.value),
                  str(r.unit), str(r.raw), _number(r.corrected), None if r.point is None else int(r.point),
                  str(r.role), int(r.used), None if r.note is None else str(r.note))
        return int(await self._do("append", "readings", values))

    def stream_readings(self, station: str | None) -> None:
        """Every reading recorded from now on also goes to the time-series server, tagged `station` (None:
        no longer). In order with the appends: a reading queued before this call is not streamed."""
        self._submit("stream", (station,), False)

    def stream_only(self, lines: list[str]) -> None:
        """Lines for the time-series server that are not records (live monitoring between runs)."""
        self._submit("outbox", (lines,), False)

    async def take_outbox(self, limit: int) -> list[tuple[int, str]]:
        """The oldest lines waiting for the time-series server, in order."""
        return await self._do("take_outbox", limit)

    async def drop_outbox(self, up_to: int) -> None:
        await self._do("drop_outbox", up_to)

    async def outbox_size(self) -> int:
        return await self._do("outbox_size")

    def event(self, run_id: str, attempt: int, time_: float, kind: str, data: dict) -> None:
        """Queued in order behind everything before it; `flush()` waits for it to be on disk."""
        self._submit("append", ("events", (run_id, int(attempt), float(time_), str(kind), to_json(data))), False)

    async def result(self, run_id: str, kind: str, data: Any) -> None:
        await self._do("append", "results", (run_id, time.time(), kind, to_json(data)))

    async def command(self, source: str, operator: str | None, payload: Any, outcome: str) -> None:
        values = (time.time(), source, operator, payload if isinstance(payload, str) else to_json(payload), outcome)
        await self._do("append", "commands", values)

    async def amend(self, run_id: str, field: str, original: Any, amended: Any, operator: str, source: str,
                    reason: str) -> None:
        values = (run_id, time.time(), field, to_json(original), to_json(amended), operator, source, reason)
        await self._do("append", "amendments", values)

    async def sign(self, run_id: str, meaning: str, operator: str, source: str, content: str,
                   number: CertificateNumber | None = None) -> str | None:
        """A signature; with `number` (authorising), the certificate's number, made by the writer from the next
        sequence of its year inside the same transaction: two authorisations never get the same number or a gap."""
        return await self._do("sign", run_id, time.time(), meaning, operator, source, content, number)

    async def flush(self) -> None:
        await self._do("flush")

    async def close(self) -> None:
        """Everything queued is committed, then the writer stops."""
        if self._stream is not None:
            if self.writing:
                # Bounded: a writer that no longer answers must not hold the service's stop for ever.
                with contextlib.suppress(RecordsError, asyncio.TimeoutError):
                    await asyncio.wait_for(self.flush(), 30)
                self._send()
                self._stream.write(frame(None))
            if self._listener is not None:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.shield(self._listener), 30)
        await self._stopped()

    async def _stopped(self) -> None:
        if self._stream is not None:
            self._stream.close()
            with contextlib.suppress(Exception):
                await self._stream.wait_closed()
            self._stream = None
        if self._process is not None:
            process = self._process
            # Polled, not waited for in a thread: at a stop the default executor's threads may all be busy
            # (or already shut down), and the wait would then never start.
            deadline = time.monotonic() + 30
            while process.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            if process.poll() is None:
                log.error("records writer %d did not stop; killed", process.pid)
                process.kill()
                while process.poll() is None:
                    await asyncio.sleep(0.02)
            self._process = None
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        self._failure = self._failure or "closed"

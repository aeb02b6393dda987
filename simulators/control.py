"""Faults on demand from outside the simulated lab: `labd sim --control PORT` and `--fault ID:MODE[:COUNT]`.

Another program under test (a lab's own software, another project's driver, a CI job) cannot reach
`LineServer.inject` in labd's process, so the lab also listens on a loopback TCP port for one command per line
and answers one line each, `ok …` or `error: …` — usable from `nc`, `socat` or a three-line Python client:

    list                                   every instrument, its driver and the fault now armed (or "none")
    inject ID MODE [COUNT|always] [DOWN]   arm a fault: no_reply | garbage | busy | disconnect; COUNT replies
                                           (default 1) or `always` until cleared; DOWN: s a dropped link stays down
    clear ID|all                           disarm
    help                                   this list

Loopback only: whoever can connect can make instruments misbehave, which is the point of a test bench and
nothing a production lab exposes.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from .line_server import FAULTS

log = logging.getLogger(__name__)

HELP = ("commands: list | inject ID MODE [COUNT|always] [DOWNTIME] | clear ID|all | help; "
        f"modes: {', '.join(FAULTS)}")


class Injectable(Protocol):
    def inject(self, mode: str, count: int | None = 1, downtime: float = 0.5) -> None: ...
    def clear(self) -> None: ...


@dataclass(frozen=True)
class FaultSpec:
    """`ID:MODE[:COUNT]` as given to `--fault` (COUNT a number or `always`)."""
    instrument: str
    mode: str
    count: int | None = 1
    downtime: float = 0.5

    @classmethod
    def parse(cls, text: str) -> "FaultSpec":
        """`balance:no_reply:3` → FaultSpec("balance", "no_reply", 3); `dmm:garbage:always` → count None."""
        parts = text.strip().split(":")
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(f"fault {text!r}: expected ID:MODE[:COUNT]")
        return cls(parts[0], *_mode_and_count(parts[1], parts[2] if len(parts) == 3 else "1"))


def _mode_and_count(mode: str, count: str) -> tuple[str, int | None]:
    if mode not in FAULTS:
        raise ValueError(f"unknown fault {mode!r}; one of {', '.join(FAULTS)}")
    if count.lower() == "always":
        return mode, None
    try:
        n = int(count)
    except ValueError:
        raise ValueError(f"count {count!r}: a whole number or 'always'") from None
    if n < 1:
        raise ValueError(f"count {n}: at least 1")
    return mode, n


class FaultControl:
    """The control port's commands, over the servers of a running simulated lab."""

    def __init__(self, servers: Mapping[str, Injectable], drivers: Mapping[str, str]) -> None:
        self.servers, self.drivers = servers, drivers
        self.armed: dict[str, str] = {}
        self._server: asyncio.AbstractServer | None = None
        self.port = 0

    def apply(self, spec: FaultSpec) -> str:
        server = self.servers.get(spec.instrument)
        if server is None:
            raise ValueError(f"no simulated instrument {spec.instrument!r}; one of {', '.join(sorted(self.servers))}")
        server.inject(spec.mode, spec.count, spec.downtime)
        what = f"{spec.mode} {'always' if spec.count is None else f'×{spec.count}'}"
        self.armed[spec.instrument] = what
        log.info("fault armed on %s: %s", spec.instrument, what)
        return f"ok {spec.instrument}: {what}"

    def command(self, line: str) -> str:
        """One command → one reply line; nothing raises past here (a bad line is an `error:` reply)."""
        words = line.split()
        try:
            if not words:
                return "error: empty command; " + HELP
            verb, args = words[0].lower(), words[1:]
            if verb == "help":
                return "ok " + HELP
            if verb == "list":
                return "ok " + "; ".join(f"{iid} ({self.drivers.get(iid, '?')}): {self._state(iid)}"
                                         for iid in sorted(self.servers))
            if verb == "inject":
                if not 2 <= len(args) <= 4:
                    return "error: inject ID MODE [COUNT|always] [DOWNTIME]"
                mode, count = _mode_and_count(args[1], args[2] if len(args) > 2 else "1")
                downtime = float(args[3]) if len(args) > 3 else 0.5
                if not 0 <= downtime <= 3600:
                    return f"error: downtime {downtime:g} s: between 0 and 3600"
                return self.apply(FaultSpec(args[0], mode, count, downtime))
            if verb == "clear":
                if len(args) != 1:
                    return "error: clear ID|all"
                targets = sorted(self.servers) if args[0] == "all" else [args[0]]
                for iid in targets:
                    if iid not in self.servers:
                        return f"error: no simulated instrument {iid!r}"
                    self.servers[iid].clear()
                    self.armed.pop(iid, None)
                return "ok cleared " + ", ".join(targets)
            return f"error: unknown command {verb!r}; " + HELP
        except ValueError as exc:
            return f"error: {exc}"

    def _state(self, iid: str) -> str:
        # A counted fault disarms itself after its last reply: say so rather than repeat a stale "armed".
        fault = getattr(self.servers[iid], "fault", None)
        if fault is None:
            self.armed.pop(iid, None)
            return "none"
        return self.armed.get(iid, fault.mode)

    async def start(self, port: int = 0) -> int:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                writer.write((self.command(line.decode("utf-8", "replace").strip()) + "\n").encode())
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

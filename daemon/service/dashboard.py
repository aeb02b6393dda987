"""The live dashboard `labd serve` offers on a loopback port: instruments with their latest reading and whether
they are stable, the running procedure with its progress and any open prompt, a live chart; usable on a phone.

The page gets a snapshot, then follows Server-Sent Events fed by the service's own publications (the same
messages MQTT carries). Commands from the page (answer a prompt, pause, resume, abort) go through the service's
one command path: validated, authorised against the competence register, recorded with source "dashboard".
"""
from __future__ import annotations

import asyncio
import asyncio.base_events
import itertools
import json
import logging
from pathlib import Path
from typing import Any

from aiohttp import web

log = logging.getLogger("labd.dashboard")
PAGE = Path(__file__).resolve().parent / "templates" / "dashboard.html"


class Dashboard:
    def __init__(self, service, port: int, host: str = "127.0.0.1") -> None:
        self.service, self.host, self.port = service, host, port
        self.clients: set[asyncio.Queue] = set()
        self._ids = itertools.count(1)
        self.app = web.Application()
        self.app.add_routes([web.get("/", self.page), web.get("/api/state", self.state),
                             web.get("/events", self.events), web.post("/api/command", self.command),
                             web.get("/documents/{name}", self.document)])
        self.runner: web.AppRunner | None = None

    async def start(self) -> int:
        self.runner = web.AppRunner(self.app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.port)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.base_events.Server)
        self.port = server.sockets[0].getsockname()[1]   # the real port when 0 asked for a free one
        self.service.listeners.append(self.push)
        log.info("dashboard on http://%s:%d/", self.host, self.port)
        return self.port

    async def stop(self) -> None:
        if self.push in self.service.listeners:
            self.service.listeners.remove(self.push)
        for q in list(self.clients):
            q.put_nowait(None)
        if self.runner is not None:
            await self.runner.cleanup()

    def push(self, topic: str, data: Any) -> None:
        if not self.clients:
            return
        if topic.startswith("instruments/"):
            kind, data = "reading", {"instrument": topic.split("/")[1], **data}
        elif topic.startswith("runs/") and topic.endswith("/state"):
            kind = "run"
        elif topic.startswith("runs/") and topic.endswith("/result"):
            kind, data = "result", {"run_id": data["run_id"], "documents": data.get("documents", [])}
        elif topic == "status":
            kind = "status"
        else:
            return
        message = f"event: {kind}\ndata: {json.dumps(data, default=str)}\n\n"
        for q in list(self.clients):
            if q.qsize() < 1000:          # a stalled page misses readings rather than growing memory
                q.put_nowait(message)

    async def page(self, request: web.Request) -> web.Response:
        return web.Response(text=PAGE.read_text(encoding="utf-8"), content_type="text/html")

    async def state(self, request: web.Request) -> web.Response:
        return web.json_response(self.service.snapshot(), dumps=lambda d: json.dumps(d, default=str))

    async def events(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        q: asyncio.Queue = asyncio.Queue()
        self.clients.add(q)
        try:
            await resp.write(f"event: snapshot\ndata: {json.dumps(self.service.snapshot(), default=str)}\n\n".encode())
            while True:
                message = await q.get()
                if message is None:
                    break
                await resp.write(message.encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.clients.discard(q)
        return resp

    async def document(self, request: web.Request) -> web.StreamResponse:
        """A completed run's document, by its file name only: nothing outside the documents folder is served."""
        name = request.match_info["name"]
        folder = self.service.documents.resolve()
        path = (folder / name).resolve()
        if path.parent != folder or not path.is_file() or path.suffix not in (".pdf", ".html"):
            raise web.HTTPNotFound(text=f"no document {name!r}")
        return web.FileResponse(path)

    async def command(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            data = json.loads(body)
            if isinstance(data, dict):
                data.setdefault("id", f"dash-{next(self._ids)}")
                body = json.dumps(data).encode()
        except ValueError:
            pass                      # the command path says what is wrong with it
        reply = await self.service.command(body, "dashboard")
        return web.json_response(reply, status=200 if reply["ok"] else 400)

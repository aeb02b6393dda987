"""The live dashboard `labd serve` offers on a loopback port: instruments with their latest reading and whether
they are stable, the running procedure with its progress and any open prompt, a live chart; usable on a phone.

The page gets a snapshot, then follows Server-Sent Events fed by the service's own publications (the same
messages MQTT carries). Commands from the page (answer a prompt, pause, resume, abort) go through the service's
one command path: validated, authorised against the competence register, recorded with source "dashboard".

Everything but the login page needs a logged-in operator, and who acts is that operator (sessions.py has the
gate: login, session cookie, CSRF token, Host and Origin checks, Content-Security-Policy). The page's script
is a file of its own and puts every string from the service into the page as text, never as markup.
"""
from __future__ import annotations

import asyncio
import html
import itertools
import json
import logging
from pathlib import Path
from typing import Any

from aiohttp import web

from labd.daemon.config.passwords import PasswordError, Passwords

from .commands import MAX_DEPTH, MAX_PAYLOAD, nesting
from .sessions import COOKIE, Session, Sessions, Throttle, addresses, csrf_ok, guard, headers

log = logging.getLogger("labd.dashboard")
TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = {"dashboard.js": "application/javascript", "dashboard.css": "text/css"}


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


class Dashboard:
    def __init__(self, service, port: int, host: str = "127.0.0.1") -> None:
        self.service, self.host, self.port = service, host, port
        self.clients: set[asyncio.Queue] = set()
        self._ids = itertools.count(1)
        self.sessions = Sessions(service.config.service.session_hours)
        self.throttle = Throttle()
        self.passwords = Passwords(service.records.keys)
        self.allowed: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())   # set by start()
        self.app = web.Application(middlewares=[guard(lambda: self.allowed)], client_max_size=64 * 1024)
        self.app.on_response_prepare.append(headers)
        self.app.add_routes([
            web.get("/", self.page), web.get("/login", self.login_page), web.post("/login", self.login),
            web.post("/logout", self.logout), web.get("/static/{name}", self.static),
            web.get("/api/state", self.state), web.get("/events", self.events),
            web.post("/api/command", self.command), web.get("/documents/{name}", self.document),
            web.get("/api/documents", self.documents)])
        self.runner: web.AppRunner | None = None

    async def start(self) -> int:
        self.runner = web.AppRunner(self.app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.port)
        await site.start()
        # The address the runner listens on (aiohttp's public view of it; the server object differs between
        # asyncio's loop and uvloop)
        self.port = int(self.runner.addresses[0][1])   # the real port when 0 asked for a free one
        self.allowed = addresses(self.host, self.port, self.service.config.service.dashboard_url)
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
        elif topic == "fleet":
            kind = "fleet"
        else:
            return
        message = f"event: {kind}\ndata: {json.dumps(data, default=str)}\n\n"
        for q in list(self.clients):
            if q.qsize() < 1000:          # a stalled page misses readings rather than growing memory
                q.put_nowait(message)

    # --- who is asking ----------------------------------------------------------------------------------------
    def session(self, request: web.Request) -> Session | None:
        return self.sessions.get(request.cookies.get(COOKIE))

    def _required(self, request: web.Request) -> Session:
        session = self.session(request)
        if session is None:
            raise web.HTTPUnauthorized(text=json.dumps({"ok": False, "error": "log in first"}),
                                       content_type="application/json")
        return session

    async def login_page(self, request: web.Request, error: str = "", status: int = 200) -> web.Response:
        text = (TEMPLATES / "login.html").read_text(encoding="utf-8")
        station = html.escape(self.service.config.lab.station)
        return web.Response(text=text.replace("{{station}}", station).replace("{{error}}", html.escape(error)),
                            content_type="text/html", status=status)

    async def login(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        operator, password = str(form.get("operator", ""))[:64], str(form.get("password", ""))[:1024]
        key = (operator, request.remote or "?")
        records = self.service.records
        wait = self.throttle.locked(key)
        if wait:
            await records.command("dashboard", None, {"action": "login", "operator": operator},
                                  "refused: too many failed logins")
            return await self.login_page(request, f"Too many failed attempts: wait {wait:.0f} s.", 429)
        entry = self.service.config.operators.get(operator)
        try:
            ok = await asyncio.to_thread(self.passwords.check, operator, password)   # argon2: ~50 ms of CPU
        except PasswordError as exc:
            log.error("dashboard login: %s", exc)
            ok = False
        if not ok or entry is None or entry.role == "service":
            self.throttle.failed(key)
            await records.command("dashboard", None, {"action": "login", "operator": operator},
                                  "refused: wrong operator or password")
            return await self.login_page(request, "Wrong operator or password.", 401)
        self.throttle.succeeded(key)
        token, _ = self.sessions.open(operator)
        await records.command("dashboard", operator, {"action": "login"}, "ok")
        response = _see_other("/")
        secure = (self.service.config.service.dashboard_url or "").startswith("https:")
        response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", secure=secure, path="/")
        return response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        session = self.session(request)
        form = await request.post()
        if session is not None and csrf_ok(session, request, str(form.get("csrf", ""))):
            self.sessions.close(request.cookies.get(COOKIE))
            await self.service.records.command("dashboard", session.operator, {"action": "logout"}, "ok")
        response = _see_other("/login")
        response.del_cookie(COOKIE, path="/")
        return response

    # --- the page -------------------------------------------------------------------------------------------
    async def page(self, request: web.Request) -> web.StreamResponse:
        session = self.session(request)
        if session is None:
            return _see_other("/login")
        entry = self.service.config.operators.get(session.operator)
        who = f"{entry.name} ({session.operator}, {entry.role})" if entry else session.operator
        text = (TEMPLATES / "dashboard.html").read_text(encoding="utf-8")
        text = text.replace("{{csrf}}", session.csrf).replace("{{operator}}", html.escape(who))
        return web.Response(text=text, content_type="text/html")

    async def static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in STATIC:
            raise web.HTTPNotFound()
        return web.Response(body=(TEMPLATES / name).read_bytes(), content_type=STATIC[name])

    async def state(self, request: web.Request) -> web.Response:
        self._required(request)
        return web.json_response(self.service.snapshot(), dumps=lambda d: json.dumps(d, default=str))

    async def events(self, request: web.Request) -> web.StreamResponse:
        self._required(request)
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

    async def documents(self, request: web.Request) -> web.Response:
        """The latest completed runs with where their documents stand, for the page's signing form."""
        self._required(request)
        from labd.daemon.records import RecordsReader, content_digest, review
        folder = self.service.documents

        def listing() -> list[dict[str, Any]]:
            with RecordsReader(self.service.records.path) as reader:
                done = [r for r in reader.runs() if r.state == "completed"][-20:]
                out = []
                for r in reversed(done):
                    state = review(reader.signatures(r.run_id), content_digest(reader, r.run_id))
                    files = sorted(p.name for p in folder.glob(f"*{r.run_id}*")) if folder.is_dir() else []
                    out.append({"run_id": r.run_id, "procedure": r.procedure, "operator": r.operator,
                                "state": state.state, "certificate": state.number, "documents": files})
                return out
        return web.json_response({"runs": await asyncio.to_thread(listing)})

    async def document(self, request: web.Request) -> web.StreamResponse:
        """A completed run's document, by its file name only: nothing outside the documents folder is served."""
        self._required(request)
        name = request.match_info["name"]
        folder = self.service.documents.resolve()
        path = (folder / name).resolve()
        if path.parent != folder or not path.is_file() or path.suffix not in (".pdf", ".html", ".xml"):
            raise web.HTTPNotFound(text=f"no document {name!r}")
        return web.FileResponse(path)

    async def command(self, request: web.Request) -> web.Response:
        """A command from the page, acting as the logged-in operator; its CSRF token must come with it."""
        session = self._required(request)
        if not csrf_ok(session, request):
            await self.service.records.command("dashboard", session.operator, "", "refused: no valid CSRF token")
            return web.json_response({"ok": False, "error": "refused: the page's token is missing or stale; "
                                                            "reload the page"}, status=403)
        body = await request.read()
        if len(body) <= MAX_PAYLOAD and nesting(body) <= MAX_DEPTH:   # else the command path says what is wrong
            try:
                data = json.loads(body)
                if isinstance(data, dict):
                    data.setdefault("id", f"dash-{next(self._ids)}")
                    body = json.dumps(data).encode()
            except ValueError:
                pass
        reply = await self.service.command(body, "dashboard", operator=session.operator)
        return web.json_response(reply, status=200 if reply["ok"] else 400)

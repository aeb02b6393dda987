"""The dashboard's gate: logins, sessions, and the checks every request passes (ISO/IEC 17025 7.11.2; OWASP's
CSRF and session cheat sheets).

- A login is the operator's password (argon2, `labd operators passwd`); repeated failures for an operator or
  from an address lock that pair out for a while, and each failure is recorded.
- A session is a random token in a cookie that scripts cannot read (HttpOnly) and that other sites' pages
  never send (SameSite=Strict), with its own CSRF token that every state-changing request must echo in a
  header; it ends after `[service] session_hours` unused, or at logout.
- The Host header must be one of the dashboard's own addresses (a rebound DNS name is refused), and a request
  that changes state must come from the dashboard's own origin.
- Every response forbids scripts other than the dashboard's own file and framing by other pages (CSP).
"""
from __future__ import annotations

import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlparse

from aiohttp import web

log = logging.getLogger("labd.dashboard")
COOKIE = "labd_session"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


@dataclass
class Session:
    operator: str
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    last_used: float = field(default_factory=time.monotonic)


class Sessions:
    def __init__(self, hours: float) -> None:
        self.lifetime = hours * 3600.0
        self._sessions: dict[str, Session] = {}

    def open(self, operator: str) -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        self._sessions[token] = session = Session(operator)
        return token, session

    def get(self, token: str | None) -> Session | None:
        session = self._sessions.get(token) if token else None
        if session is None:
            return None
        now = time.monotonic()
        if now - session.last_used > self.lifetime:
            del self._sessions[token]        # type: ignore[arg-type]
            return None
        session.last_used = now
        return session

    def close(self, token: str | None) -> None:
        if token:
            self._sessions.pop(token, None)


class Throttle:
    """After `limit` failed logins for an operator from an address, that pair waits `lockout` seconds."""

    def __init__(self, limit: int = 5, lockout: float = 60.0) -> None:
        self.limit, self.lockout = limit, lockout
        self._failures: dict[tuple[str, str], tuple[int, float]] = {}

    def locked(self, key: tuple[str, str]) -> float:
        count, since = self._failures.get(key, (0, 0.0))
        wait = since + self.lockout - time.monotonic()
        return wait if count >= self.limit and wait > 0 else 0.0

    def failed(self, key: tuple[str, str]) -> None:
        count, since = self._failures.get(key, (0, 0.0))
        if time.monotonic() - since > self.lockout:
            count = 0
        self._failures[key] = (count + 1, time.monotonic())
        if len(self._failures) > 10000:
            self._failures.clear()

    def succeeded(self, key: tuple[str, str]) -> None:
        self._failures.pop(key, None)


def addresses(host: str, port: int, url: str | None) -> tuple[frozenset[str], frozenset[str]]:
    """The Host values and the origins the dashboard answers to."""
    hosts = {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"}
    if host not in ("127.0.0.1", "localhost", "::1", "0.0.0.0", "::"):
        hosts.add(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    origins = {f"http://{h}" for h in hosts}
    if url:
        u = urlparse(url)
        hosts.add(u.netloc)
        origins.add(f"{u.scheme}://{u.netloc}")
    return frozenset(hosts), frozenset(origins)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def guard(allowed: Callable[[], tuple[frozenset[str], frozenset[str]]]) -> Callable:
    """`allowed()`: the Host values and origins (known once the server has its port)."""
    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        hosts, origins = allowed()
        if request.headers.get("Host", "") not in hosts:
            log.warning("dashboard: refused a request for host %r from %s", request.headers.get("Host"),
                        request.remote)
            return web.Response(status=421, text="this dashboard does not answer to that host name\n")
        if request.method not in SAFE_METHODS and request.headers.get("Origin") not in origins:
            log.warning("dashboard: refused a %s %s from origin %r", request.method, request.path,
                        request.headers.get("Origin"))
            return web.json_response({"ok": False, "error": "refused: the request does not come from this "
                                                            "dashboard's page"}, status=403)
        return await handler(request)
    return check


async def headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every response, before it is sent (the event stream included)."""
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    # not no-referrer: with it Chromium sends "Origin: null" on form posts, and the login would be refused
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers.setdefault("Cache-Control", "no-store")


def csrf_ok(session: Session, request: web.Request, form_token: str = "") -> bool:
    """The token in the X-CSRF-Token header (scripts) or a form's hidden field (the logout button)."""
    return hmac.compare_digest(request.headers.get("X-CSRF-Token", "") or form_token, session.csrf)

"""The dashboard's gate (issue 14): each attack that worked before, reproduced, and now harmless — a cross-origin
page in the same browser, a foreign Host (DNS rebinding), an unauthenticated or token-less POST, markup in an
abort reason, password guessing. In Chromium where a browser matters, with the dashboard's CSP in force."""
from __future__ import annotations

import asyncio
import json

import aiohttp
from aiohttp import web

from labd.daemon.records import RecordsReader

from .realparts import free_port
from .test_dashboard import PASSWORDS, login, phone_browser, service_with_dashboard

LONG = {"duration_hours": "12", "set_point": "140", "interval": "30"}
START = {"action": "start", "operator": "supervisor", "procedure": "stability-run", "params": LONG}


def _commands(tmp_path) -> list[dict]:
    with RecordsReader(tmp_path / "labd.sqlite") as reader:
        return reader.commands()


async def test_a_page_from_another_origin_cannot_drive_the_dashboard(tmp_path):
    port = free_port()
    async with service_with_dashboard(tmp_path) as (service, url), phone_browser(bypass_csp=False) as page:
        await login(page, url, "supervisor")            # the victim is logged in, in the same browser
        target = url.rstrip("/")
        evil = f"""<!DOCTYPE html><html><body><form id="f" method="post" action="{target}/api/command"
            enctype="text/plain"><input name='{json.dumps(START)[:-1]}, "x": "' value='"}}'></form><script>
            fetch("{target}/api/command", {{method: "POST", mode: "no-cors", credentials: "include",
                  headers: {{"Content-Type": "text/plain"}}, body: JSON.stringify({json.dumps(START)})}})
              .finally(() => document.getElementById("f").submit());
            </script></body></html>"""
        async def evil_page(request: web.Request) -> web.Response:
            return web.Response(text=evil, content_type="text/html")
        app = web.Application()
        app.add_routes([web.get("/", evil_page)])
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            await page.goto(f"http://127.0.0.1:{port}/")
            await asyncio.sleep(2.0)
        finally:
            await runner.cleanup()
        assert service.runs() == []
    assert not [c for c in _commands(tmp_path) if "stability-run" in c["payload"]]


async def test_a_foreign_host_a_foreign_origin_no_session_and_no_token_are_each_refused(tmp_path):
    async with service_with_dashboard(tmp_path) as (service, url), aiohttp.ClientSession() as http:
        origin = url.rstrip("/")
        body = json.dumps(START)
        r = await http.get(url, headers={"Host": "attacker.example"})           # DNS rebinding
        assert r.status == 421
        r = await http.post(url + "api/command", data=body, headers={"Origin": "http://evil.example"})
        assert r.status == 403 and "does not come from this dashboard" in (await r.json())["error"]
        r = await http.post(url + "api/command", data=body, headers={"Origin": origin})   # no session
        assert r.status == 401 and (await r.json())["error"] == "log in first"
        r = await http.get(url + "events")
        assert r.status == 401
        r = await http.post(url + "login", data={"operator": "supervisor", "password": PASSWORDS["supervisor"]},
                            headers={"Origin": origin}, allow_redirects=False)
        assert r.status == 303
        cookie = r.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        session = cookie.split(";")[0]
        r = await http.post(url + "api/command", data=body, headers={"Origin": origin, "Cookie": session})
        assert r.status == 403 and "token" in (await r.json())["error"]              # no CSRF token
        page = await (await http.get(url, headers={"Cookie": session})).text()
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]
        token = page.split('name="csrf-token" content="')[1].split('"')[0]
        r = await http.post(url + "api/command", data=json.dumps({**START, "operator": "demo"}),
                            headers={"Origin": origin, "Cookie": session, "X-CSRF-Token": token})
        assert r.status == 400 and "names operator 'demo' but was sent by 'supervisor'" in (await r.json())["error"]
        assert service.runs() == []
    outcomes = [(c["operator"], c["outcome"]) for c in _commands(tmp_path)]
    assert ("supervisor", "refused: no valid CSRF token") in outcomes
    assert any(o == "supervisor" and "names operator 'demo'" in text for o, text in outcomes)


async def test_markup_in_an_abort_reason_is_shown_as_text_and_never_runs(tmp_path):
    async with service_with_dashboard(tmp_path) as (service, url), phone_browser(bypass_csp=False) as page:
        await login(page, url, "demo")
        run_id = await service.start("stability-run", LONG, "demo", source="test")
        await page.locator("#runstate").wait_for(timeout=15000)
        reason = '<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>'
        payload = json.dumps({"id": "x1", "action": "abort", "run_id": run_id, "reason": reason}).encode()
        await service.on_command(payload, None, None, "demo")          # as it arrives over MQTT
        shown = page.locator("#runerror")
        await shown.wait_for(timeout=15000)
        assert reason in await shown.inner_text()
        assert await page.locator("#run img, #run script").count() == 0
        assert await page.title() != "pwned"


async def test_wrong_passwords_are_refused_recorded_and_then_locked_out(tmp_path):
    async with service_with_dashboard(tmp_path) as (service, url), aiohttp.ClientSession() as http:
        origin = url.rstrip("/")
        statuses = []
        for _ in range(6):
            r = await http.post(url + "login", data={"operator": "demo", "password": "guess-guess"},
                                headers={"Origin": origin}, allow_redirects=False)
            statuses.append(r.status)
        r = await http.post(url + "login", data={"operator": "demo", "password": PASSWORDS["demo"]},
                            headers={"Origin": origin}, allow_redirects=False)
        assert statuses == [401] * 5 + [429] and r.status == 429     # even the right one waits now
        r = await http.post(url + "login", data={"operator": "scheduler", "password": "anything-at-all"},
                            headers={"Origin": origin}, allow_redirects=False)
        assert r.status == 401                                        # the service's identity never logs in
    outcomes = [c["outcome"] for c in _commands(tmp_path)]
    assert outcomes.count("refused: wrong operator or password") == 6
    assert outcomes.count("refused: too many failed logins") == 2

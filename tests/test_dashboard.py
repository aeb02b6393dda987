"""The live dashboard in a real browser (Debian's Chromium, headless, through Playwright): a login, live readings
that change, a run's prompt answered from the page, and an operator without the competence refused there too."""
from __future__ import annotations

import asyncio
import contextlib
import json
import time

from playwright.async_api import async_playwright

from labd.daemon.config import load_config
from labd.daemon.config.passwords import Passwords
from labd.daemon.records import RecordsReader
from labd.daemon.service import Service

from .conftest import CONFIG

CHROMIUM = "/usr/bin/chromium"
PASSWORDS = {"demo": "demo-password-1", "trainee": "trainee-password-1", "supervisor": "supervisor-password-1"}


@contextlib.asynccontextmanager
async def service_with_dashboard(tmp_path):
    keys = Passwords(tmp_path / "keys")          # the keys folder beside the records
    for operator, password in PASSWORDS.items():
        keys.set(operator, password)
    config = load_config(CONFIG).model_copy(update={"schedules": []})    # no scheduled run in the way
    service = Service(config, simulate=True, speed=200, seed=2, dashboard_port=0,
                      records_path=str(tmp_path / "labd.sqlite"), sim_start=time.time() - 86400)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    await asyncio.wait_for(service.ready.wait(), 30)
    try:
        yield service, f"http://127.0.0.1:{service.dashboard.port}/"
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)


@contextlib.asynccontextmanager
async def phone_browser(bypass_csp: bool = True):
    """Playwright's wait_for_function evaluates strings, which the dashboard's CSP forbids: tests that wait that
    way bypass it; the attack tests keep it."""
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            # A phone-sized window: the page must work there.
            page = await browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True,
                                          bypass_csp=bypass_csp)
            yield page
        finally:
            await browser.close()


async def login(page, url: str, operator: str, password: str | None = None) -> None:
    await page.goto(url)                               # not logged in: the login page
    await page.fill("#operator", operator)
    await page.fill("#password", password or PASSWORDS[operator])
    await page.click("#login")
    await page.wait_for_selector("#who", timeout=10000)


async def logout(page) -> None:
    await page.click("#logout button")
    await page.wait_for_selector("#password", timeout=10000)


async def test_live_readings_change_and_a_prompt_is_answered_from_the_page(tmp_path):
    async with service_with_dashboard(tmp_path) as (service, url), phone_browser() as page:
        await login(page, url, "trainee")
        value = page.locator('[data-instrument="dry_block"]')
        await value.wait_for(timeout=15000)
        first = await value.inner_text()
        for _ in range(100):                        # the monitor's readings arrive live
            await asyncio.sleep(0.1)
            if await value.inner_text() != first:
                break
        assert await value.inner_text() != first
        assert "°C" in first or "C" in first
        # Whether each instrument is stable: the dry-block by its own flag, the readout by the lab's criterion.
        await page.wait_for_selector('.inst[data-id="ref_readout"] .badge', timeout=30000)
        await page.wait_for_selector('.inst[data-id="dry_block"] .badge', timeout=30000)

        run_id = await service.start("thermometer-calibration",
                                     {"set_points": "30", "repetitions": "3", "stability.window": "6"}, "demo",
                                     source="test")
        form = page.locator("#prompt")
        await form.wait_for(state="visible", timeout=15000)
        assert "Insert the reference probe" in await page.locator("#question").inner_text()
        # The dry-block is the run's now: no stale "stable" from the monitor, but whose it is.
        held = page.locator('.inst[data-id="dry_block"] .value')
        await page.wait_for_function(f"document.querySelector('.inst[data-id=\"dry_block\"] .value')"
                                     f".textContent.includes('{run_id}')", timeout=15000)
        assert await page.locator('.inst[data-id="dry_block"] .badge').inner_text() == "in use"
        assert "by run" in await held.inner_text()

        await page.fill("#answer", "done")            # the trainee: not the run's operator, not a supervisor
        await page.click("#send")
        await page.wait_for_function("document.getElementById('message').textContent.includes('may not answer')")
        assert service.runs()[0].prompt is not None    # nothing was answered

        await logout(page)
        await login(page, url, "demo")
        await form.wait_for(state="visible", timeout=15000)
        await page.fill("#answer", "done")
        await page.click("#send")
        await form.wait_for(state="hidden", timeout=15000)
        await page.wait_for_function("Number(document.getElementById('progress')?.value) >= 1", timeout=60000)
        await page.wait_for_function("document.getElementById('runstate')?.textContent === 'completed'",
                                     timeout=90000)
        # The draft certificate is made on completion and linked from the page.
        link = page.locator('#run a.doc[href$="-en.pdf"]')
        await link.wait_for(timeout=60000)
        pdf = await page.request.get(url.rstrip("/") + await link.get_attribute("href"))
        assert pdf.ok and (await pdf.body()).startswith(b"%PDF")
        for wrong in ("..%2Flabd.sqlite", "labd.sqlite", "nothing.pdf"):     # only documents, only that folder
            assert (await page.request.get(url + "documents/" + wrong)).status == 404
        assert page.viewport_size["width"] == 390
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390 + 1                      # no sideways scrolling on a phone
    with RecordsReader(tmp_path / "labd.sqlite") as reader:
        commands = [(c["operator"], json.loads(c["payload"])["action"], c["outcome"]) for c in reader.commands()
                    if c["source"] == "dashboard"]
        assert reader.run(run_id).state == "completed"
    assert commands[:5] == [("trainee", "login", "ok"), ("trainee", "answer", commands[1][2]),
                            ("trainee", "logout", "ok"), ("demo", "login", "ok"), ("demo", "answer", "ok")]
    assert "may not answer" in commands[1][2]


async def test_the_page_refuses_a_malformed_command(tmp_path):
    async with service_with_dashboard(tmp_path) as (service, url), phone_browser() as page:
        await login(page, url, "demo")
        reply = await page.evaluate("""async () => {
            const token = document.querySelector('meta[name="csrf-token"]').content;
            const r = await fetch('/api/command', {method: 'POST', body: '{"action": "launch"}',
                                                   headers: {'X-CSRF-Token': token}});
            return [r.status, await r.json()];
        }""")
        assert reply[0] == 400 and "unknown action 'launch'" in reply[1]["error"]
        assert not service.dashboard.runner is None


async def _completed(service) -> str:
    """A quick calibration run to completion by the technician, its documents written."""
    run_id = await service.start("thermometer-calibration",
                                 {"set_points": "30", "repetitions": "3", "stability.window": "6"}, "demo",
                                 source="test")
    async with asyncio.timeout(120):
        while True:
            runs = {r.run_id: r for r in service.runs()}
            run = runs.get(run_id)
            if run is None:
                break
            if run.prompt is not None:
                await service.command(json.dumps({"id": "a", "action": "answer", "run_id": run_id,
                                                  "prompt": run.prompt.key, "value": "done"}).encode(), "test",
                                      operator="demo")
            await asyncio.sleep(0.2)
        while not (service.documents / f"certificate-{run_id}-en.pdf").exists():
            await asyncio.sleep(0.2)
    return run_id


async def test_a_supervisor_checks_and_the_manager_issues_from_the_page(tmp_path):
    Passwords(tmp_path / "keys").set("manager", "manager-password-1")
    async with service_with_dashboard(tmp_path) as (service, url), phone_browser() as page:
        run_id = await _completed(service)
        await login(page, url, "supervisor")
        row = page.locator(f'.docrow[data-run="{run_id}"] .docstate')
        await row.wait_for(timeout=15000)
        assert await row.inner_text() == "draft"
        await page.select_option("#sign-run", run_id)
        await page.select_option("#sign-meaning", "checked")
        await page.fill("#sign-password", "not-my-password")
        await page.click("#sign-send")
        await page.wait_for_function("document.getElementById('sign-message').textContent.includes('wrong password')")
        await page.fill("#sign-password", PASSWORDS["supervisor"])
        await page.click("#sign-send")
        await page.wait_for_function("document.getElementById('sign-message').textContent.includes('checked')")
        await logout(page)
        await login(page, url, "manager", "manager-password-1")
        await page.select_option("#sign-run", run_id)
        await page.select_option("#sign-meaning", "authorised")
        await page.fill("#sign-password", "manager-password-1")
        await page.click("#sign-send")
        await page.wait_for_function("document.getElementById('sign-message').textContent.includes('BPSMB-KAL/')")
        await page.wait_for_function(f"document.querySelector('.docrow[data-run=\"{run_id}\"] .docstate')"
                                     f".textContent.startsWith('issued BPSMB-KAL/')", timeout=30000)
    with RecordsReader(tmp_path / "labd.sqlite") as reader:
        signed = [(s["meaning"], s["operator"], s["source"]) for s in reader.signatures(run_id)]
    assert signed == [("checked", "supervisor", "dashboard"), ("authorised", "manager", "dashboard")]

"""Run control on the simulated lab: suspension by ambient conditions, pause and resume, abort."""
from __future__ import annotations

import asyncio

import pytest

from labd.daemon.engine import bench
from labd.daemon.config import load_config
from labd.daemon.engine import run_control
from labd.procedures import RunContext, register
from labd.procedures.control import Aborted
from labd.procedures.stability import StabilityCriterion
from labd.procedures.thermometer_calibration import Parameters, run

from .conftest import CONFIG


async def _answer(prompt):
    return "done"


def _params():
    return Parameters(set_points=(30.0, 50.0), repetitions=4, interval=10.0, stability=StabilityCriterion(window=8))


async def test_out_of_limits_ambient_suspends_and_its_readings_are_never_used():
    config = load_config(CONFIG)
    async with bench(config, simulate=True, speed=400, seed=3) as (instruments, lab):
        ambient = lab.world.ambient
        device = lab.servers["ref_readout"].device
        handle = device.handle

        state = {"armed": False, "done": False}

        def progress(event, data):
            if event == "repetition" and data["point"] == 0 and data["repetition"] == 2:
                state["armed"] = True

        async def on_read(line, session):
            # The excursion starts while the third repetition is being read, between its two checkpoints.
            reply = await handle(line, session)
            if state["armed"] and not state["done"]:
                state["done"] = True
                ambient.force(temperature=31.5)           # the air conditioning fails…

                async def restore():
                    await lab.clock.sleep(600)            # …for ten (simulated) minutes
                    ambient.force(temperature=None)
                asyncio.ensure_future(restore())
            return reply
        device.handle = on_read

        control = run_control(config, instruments)
        ctx = RunContext("s1", "thermometer-calibration", "demo", instruments, register(config.standards),
                         lab.clock, _answer, progress, control=control)
        outcome = await run(ctx, _params())
    kinds = [e["event"] for e in ctx.events]
    assert "suspended" in kinds and "resumed" in kinds
    suspended = next(e for e in ctx.events if e["event"] == "suspended")
    assert "temperature 31.5 outside 18 … 28" in suspended["reason"]
    excluded = [r for r in ctx.readings if not r.used]
    assert excluded and all("out of limits" in r.note for r in excluded)   # kept on record…
    for point in outcome.points:                                           # …but not in the results
        assert len(point.reference) == 4 and len(point.unit_under_test) == 4
    used_ref = [r.value for r in ctx.readings if r.used and r.role == "reference" and r.point == 0]
    assert tuple(used_ref) == outcome.points[0].reference
    assert all(r.value not in outcome.points[0].reference for r in excluded if r.role == "reference")


async def test_pause_holds_the_run_and_resume_continues_it():
    config = load_config(CONFIG)
    async with bench(config, simulate=True, speed=400, seed=4) as (instruments, lab):
        control = run_control(config, instruments)
        seen = {}

        def progress(event, data):
            if event == "repetition" and data["point"] == 0 and data["repetition"] == 1 and "paused" not in seen:
                control.pause()
                seen["paused"] = len(ctx.readings)

                async def later():
                    await asyncio.sleep(0.5)
                    seen["during"] = len(ctx.readings)
                    control.resume()
                asyncio.ensure_future(later())

        ctx = RunContext("p1", "thermometer-calibration", "demo", instruments, register(config.standards),
                         lab.clock, _answer, progress, control=control)
        outcome = await run(ctx, _params())
    assert seen["during"] == seen["paused"]               # nothing was measured while paused
    assert [e["event"] for e in ctx.events].count("paused") == 1
    assert all(r.used for r in ctx.readings)               # a pause does not invalidate readings
    assert len(outcome.results) == 2


async def test_abort_leaves_the_heat_source_safe():
    config = load_config(CONFIG)
    async with bench(config, simulate=True, speed=400, seed=5) as (instruments, lab):
        control = run_control(config, instruments)

        def progress(event, data):
            if event == "repetition" and data["repetition"] == 2:
                control.abort("operator pressed abort")

        ctx = RunContext("a1", "thermometer-calibration", "demo", instruments, register(config.standards),
                         lab.clock, _answer, progress, control=control)
        with pytest.raises(Aborted, match="operator pressed abort"):
            await run(ctx, _params())
        assert lab.world.blocks["dry_block"].set_point == 25.0
    assert ctx.events[-1]["event"] == "safe_state"
    assert len([r for r in ctx.readings if r.role == "reference"]) == 2   # what was measured is kept

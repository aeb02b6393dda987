"""Running a procedure in-process against the simulated lab, with the simulated technician and (optionally) a
records database, as `labd run --simulate` does."""
from __future__ import annotations

import contextlib
from datetime import datetime, timezone

from labd.daemon.engine import bench
from labd.daemon.config import load_config
from labd.daemon.records import Records
from labd.daemon.engine import run_control
from labd.daemon.engine import RunRefused, execute, history_from, preflight, refuse, start_record
from labd.procedures import PROCEDURES, RunContext, parse_parameters, register
from labd.simulators import SimulatedOperator

from .conftest import CONFIG


def day(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


@contextlib.asynccontextmanager
async def simulated(*, speed: float = 1000, seed: int | None = 1, start: float | None = None, standards=None,
                    config=None):
    config = config or load_config(CONFIG)
    async with bench(config, simulate=True, speed=speed, seed=seed, start=start) as (instruments, lab):
        yield config, instruments, lab, register(standards if standards is not None else config.standards, config.sources)


async def run_procedure(name: str, params: dict | None = None, *, lab, instruments, standards, config,
                        records: Records | None = None, run_id: str = "t", answers: dict | None = None,
                        progress=None, control=None):
    """Run `name` through the same runner as the CLI; returns (outcome, ctx)."""
    info = PROCEDURES[name]
    parameters = parse_parameters(info, params or {})
    operator = SimulatedOperator(lab.world)
    answers = answers or {}

    async def ask(prompt):
        if prompt.key in answers:
            value = answers[prompt.key]
            return value.pop(0) if isinstance(value, list) else value
        return await operator.perform(prompt.action)

    ctx = RunContext(run_id, name, "demo", instruments, standards, lab.clock, ask, progress or (lambda e, d: None),
                     simulated=True, control=control or run_control(config, instruments), records=records,
                     history=history_from(records) if records is not None else None)
    if records is not None:
        await start_record(records, ctx, info, params or {}, parameters, config.lab.station)
    try:
        await preflight(ctx, parameters)
    except RunRefused as exc:
        await refuse(ctx, str(exc))
        raise
    outcome = await execute(ctx, info, parameters)
    return outcome, ctx

"""Running one procedure with its record: the part shared by `labd run` and the service.

A run is created in the records with its raw and resolved parameters, every state change is an event, results
are stored when it completes, and a run found unfinished (the process was killed) can be resumed: the readings
and completed points of earlier attempts are loaded, and the procedure measures only what is left.
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from labd.drivers import InstrumentError
from labd.procedures import NotTheStandard, PROCEDURES, ProcedureInfo, RecordedReading, RunContext, StandardError
from labd.procedures.context import AnswerError
from labd.procedures.events import Event
from labd.procedures.control import Aborted, AmbientSuspender, RunControl
from labd.procedures.params import build, to_dict
from labd.procedures.results import Outcome

from labd.daemon.config import Config
from labd.daemon.records import Records, RecordsError, RecordsReader
from labd.daemon.records.central import CentralRecords

# A failed run (an instrument lost, a defect) can be resumed from its last completed point; these cannot.
FINISHED = ("completed", "aborted", "refused", "cancelled")


log = logging.getLogger("labd.engine")


class RunRefused(Exception):
    """The run was not started: unknown procedure, bad parameters, unauthorised operator, unusable standard."""


class RunFailed(Exception):
    def __init__(self, run_id: str, state: str, message: str) -> None:
        self.run_id, self.state, self.message = run_id, state, message
        super().__init__(f"run {run_id} {state}: {message}")


def new_run_id(now: float | None = None, station: str | None = None) -> str:
    """`<station>-<UTC date>-<time>-<random>`: unique across the lab's benches, so a run is found by its id alone in
    the central records, and the bench that measured it is read off its id."""
    t = datetime.fromtimestamp(now, timezone.utc) if now is not None else datetime.now(timezone.utc)
    return (f"{station}-" if station else "") + t.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def procedure(name: str) -> ProcedureInfo:
    info = PROCEDURES.get(name)
    if info is None:
        raise RunRefused(f"unknown procedure {name!r}; known: {', '.join(PROCEDURES)}")
    return info


def parameters(info: ProcedureInfo, values: Mapping[str, Any]) -> Any:
    try:
        return build(info.parameters, dict(values))
    except (ValueError, TypeError) as exc:
        raise RunRefused(f"{info.name}: {exc}") from None


def authorise(config: Config, operator: str | None, name: str) -> str:
    """The competence register decides who may run what; with no register, anyone named may."""
    if not operator:
        raise RunRefused("no operator named (the record must say who ran it)")
    if config.operators:
        entry = config.operators.get(operator)
        if entry is None:
            raise RunRefused(f"operator {operator!r} is not in the competence register (operators.toml)")
        if name not in entry.authorised:
            raise RunRefused(f"operator {operator!r} is not authorised for {name} (operators.toml)")
    return operator


@dataclass
class Resumed:
    run_id: str
    procedure: str
    operator: str
    params: dict[str, Any]
    attempt: int
    readings: list[RecordedReading]
    completed: dict[int, dict[str, Any]]
    completed_in: dict[int, int]

    def apply(self, ctx: RunContext) -> None:
        """Give a new attempt's context what the earlier attempts recorded."""
        ctx.attempt, ctx.readings = self.attempt, self.readings
        ctx.completed, ctx.completed_in = self.completed, self.completed_in


def load_for_resume(path, run_id: str) -> Resumed:
    try:
        reader = RecordsReader(path)
    except RecordsError:
        raise RunRefused(f"no run {run_id!r} on record") from None
    with reader:
        try:
            summary = reader.run(run_id)
        except RecordsError:
            raise RunRefused(f"no run {run_id!r} on record") from None
        if summary.state in FINISHED:
            raise RunRefused(f"run {run_id} is {summary.state}; only an interrupted or failed run can be resumed")
        rows = reader.readings(run_id)
        completed, completed_in = reader.completed_points(run_id)
    readings = [RecordedReading(r["time"], r["instrument"], r["quantity"], r["value"], r["unit"], r["raw"],
                                r["corrected"], r["point"], r["role"], bool(r["used"]), r["note"], r["attempt"])
                for r in rows]
    attempt = max([summary.attempt] + [r.attempt for r in readings]) + 1
    return Resumed(run_id, summary.procedure, summary.operator, summary.params, attempt, readings, completed,
                   completed_in)


def history_from(records: Records, central: str | None = None, station: str | None = None):
    """Results of earlier completed runs in a series (intermediate checks accumulate across runs). With the lab's
    central records (`central`, a postgresql:// URL), also the checks other benches made of the same instrument,
    merged by date: an instrument checked on another bench has one history. Unreachable, this bench's own
    history is used and the gap is said."""
    async def history(series: str) -> list[dict[str, Any]]:
        def query() -> list[dict[str, Any]]:
            try:
                reader = RecordsReader(records.path)
            except RecordsError:
                own: list[dict[str, Any]] = []
            else:
                with reader:
                    own = reader.series(series)
            if not central:
                return own
            try:
                with CentralRecords(central) as lab:
                    others = lab.series(series, besides=station)
            except RecordsError as exc:
                log.warning("history of %s from this bench only: %s", series, exc)
                return own
            return sorted(own + others, key=lambda e: str(e.get("date", "")))
        await records.flush()
        return await asyncio.to_thread(query)
    return history


def run_control(config: Config, instruments: Mapping[str, Any]) -> RunControl:
    """Suspend while the configured ambient sensor reads outside the lab's environmental limits."""
    env = config.environment
    if env.sensor is None or env.sensor not in instruments:
        return RunControl()
    limits = {"temperature": env.temperature, "humidity": env.humidity}
    return RunControl([AmbientSuspender(instruments[env.sensor], limits, env.sensor)])


async def start_record(records: Records, ctx: RunContext, info: ProcedureInfo, raw: Mapping[str, Any], params: Any,
                       station: str) -> None:
    await records.create_run(run_id=ctx.run_id, procedure=info.name, version=info.version, operator=ctx.operator,
                             station=station, params=dict(raw), resolved=to_dict(params), simulated=ctx.simulated)


def set_state(ctx: RunContext, state: str, **data: Any) -> None:
    ctx.event(Event.STATE, state=state, **data)


def claims_of(ctx: RunContext, params: Any) -> dict[str, frozenset[int] | None]:
    """What the run will drive: the procedure's own declaration, else every configured instrument its
    parameters name (a plugin's procedure that declares nothing). Ambient sensors are read by every run and
    are never claimed; the driver's lock keeps their queries apart."""
    declared = getattr(params, "claims", None)
    if callable(declared):
        claims = dict(declared(ctx))
    else:
        claims = {v: None for v in to_dict(params).values() if isinstance(v, str) and v in ctx.instruments}
    return {iid: ch for iid, ch in claims.items()
            if iid in ctx.instruments and getattr(ctx.instruments[iid], "kind", "") != "ambient-sensor"}


async def preflight(ctx: RunContext, params: Any) -> dict[str, frozenset[int] | None]:
    """Validate the parameters against the bench, the register and the run history before anything moves, and
    say what the run will claim. The only place a run is refused (RunRefused); `refuse` records a refusal.
    A procedure's Parameters may have `validate(ctx)` and, for checks that need the record, `async admit(ctx)`."""
    try:
        check = getattr(params, "validate", None)
        if callable(check):
            check(ctx)
        admit = getattr(params, "admit", None)
        if callable(admit) and ctx.attempt == 1:
            await admit(ctx)
        return claims_of(ctx, params)
    except (StandardError, ValueError, TypeError) as exc:
        raise RunRefused(str(exc)) from None


async def refuse(ctx: RunContext, reason: str) -> None:
    """A new run that will not start, on record as refused (final) with why."""
    set_state(ctx, "refused", error=reason)
    await _flush(ctx)


async def execute(ctx: RunContext, info: ProcedureInfo, params: Any) -> Outcome:
    """Run the procedure (validated by `preflight`); record its state, results and series entry.

    Anything that goes wrong once instruments may have moved is a failure, never a refusal: the run keeps its
    readings and can be resumed. Raises RunFailed (failed or aborted); a cancellation marks it interrupted."""
    if ctx.attempt > 1:
        set_state(ctx, "running", resumed=True, attempt=ctx.attempt)
    else:
        set_state(ctx, "running")
    try:
        outcome = await info.module.run(ctx, params)
    except asyncio.CancelledError:
        set_state(ctx, "interrupted", error="stopped before it finished", **ctx.interruption)
        await _flush(ctx)
        raise
    except NotTheStandard as exc:     # found out by asking the instrument, before anything moved
        set_state(ctx, "refused", error=str(exc))
        await _flush(ctx)
        raise RunFailed(ctx.run_id, "refused", str(exc)) from None
    except Exception as exc:
        aborted = isinstance(exc, Aborted)
        known = isinstance(exc, (Aborted, InstrumentError, TimeoutError, AnswerError, OSError, StandardError,
                                 ValueError))
        if not known:   # a defect, not a condition of the bench: the log keeps the traceback
            log.exception("run %s failed", ctx.run_id)
        reason = str(exc) if known else f"internal error ({type(exc).__name__}: {exc})"
        state, message = ("aborted" if aborted else "failed"), f"{reason}; {_safety(ctx)}"
        set_state(ctx, state, error=message)
        await _flush(ctx)
        raise RunFailed(ctx.run_id, state, message) from None
    if ctx.records is not None:
        await ctx.records.result(ctx.run_id, "results", outcome.to_json())
        series = getattr(outcome, "series", None)
        if series is not None:
            key, entry = series
            await ctx.records.result(ctx.run_id, f"series:{key}", entry)
    set_state(ctx, "completed")
    await _flush(ctx)
    return outcome


def _safety(ctx: RunContext) -> str:
    """Say the instruments were left safe only when every attempt to do so succeeded."""
    failed = [e for e in ctx.events if e["event"] == Event.SAFE_STATE_FAILED]
    if failed:
        return "CHECK THE BENCH: " + "; ".join(f"{e['instrument']} could not be made safe ({e['error']})"
                                               for e in failed)
    return "instruments left safe"


async def _flush(ctx: RunContext) -> None:
    if ctx.records is not None:
        await asyncio.shield(ctx.records.flush())

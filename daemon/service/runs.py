"""The service's runs: several at once, each on the instruments it reserved, and a queue for the rest.

A start is validated (`preflight`) and its claims computed before anything moves. The claims are granted at
once, in one step with no await in it, when they are free on the bench and no earlier queued run wants any of
them; otherwise the run is queued (state `queued`, with its position and what it waits for) and starts when its
instruments are free. Reservations are `flock`s shared with every labd process on the bench (a `labd run` in a
terminal included), so the queue also waits for runs it does not own; it looks again every few seconds.

Every run has its own control: pause, resume and abort by run id, an abort that withdraws an open prompt, and
on stop every run leaves its own instruments safe and is marked interrupted.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from labd.daemon.engine import (Conflict, Reservation, Reservations, RunFailed, RunRefused, authorise, describe_claims,
                                execute, history_from, load_for_resume, new_run_id, overlaps, parameters, preflight,
                                procedure, refuse, run_control, set_state, start_record)
from labd.daemon.records import RecordsReader
from labd.procedures import ProcedureInfo, Prompt, RunContext, register
from labd.procedures.events import Event

if TYPE_CHECKING:
    from .core import Service

log = logging.getLogger("labd.service")
QUEUE_POLL = 2.0     # real seconds between looks at instruments held by other processes


@dataclass
class ActiveRun:
    run_id: str
    procedure: str
    operator: str
    ctx: RunContext
    info: ProcedureInfo
    params: Any
    claims: dict[str, frozenset[int] | None]
    source: str = ""
    task: asyncio.Task | None = None
    state: str = "running"
    progress: dict[str, Any] = field(default_factory=dict)
    prompt: Prompt | None = None
    answer: asyncio.Future | None = None
    error: str | None = None
    reservation: Reservation | None = None
    waiting_for: str = ""
    told: tuple[int | None, str] | None = None     # the queue place last published

    @property
    def instruments(self) -> frozenset[str]:
        return frozenset(self.claims)


class Runs:
    def __init__(self, service: "Service") -> None:
        self.service = service
        self.active: dict[str, ActiveRun] = {}
        self.queue: list[ActiveRun] = []
        self.finished: list[ActiveRun] = []      # done measuring, maybe still writing documents
        self.reservations = Reservations(service.config.data_dir / "locks")
        self._watch: asyncio.Task | None = None

    # --- what is going on ------------------------------------------------------------------------------------
    def all(self) -> list[ActiveRun]:
        return [*self.active.values(), *self.queue]

    def find(self, run_id: str | None) -> ActiveRun:
        """The run a command names; with no id, the only run there is."""
        if run_id is None:
            runs = self.all()
            if len(runs) == 1:
                return runs[0]
            raise RunRefused("no run in progress" if not runs else
                             f"{len(runs)} runs in progress ({', '.join(r.run_id for r in runs)}): name one")
        for run in self.all():
            if run.run_id == run_id:
                return run
        raise RunRefused(f"no run {run_id} in progress")

    def held_elsewhere(self) -> set[str]:
        """Instruments held by a run of another labd process on this bench (a look at the lock files)."""
        return {name for name in self.reservations.held() if name in self.service.instruments}

    def held_here(self) -> set[str]:
        """Instruments this service's runs hold; cheap, so checked again after every await."""
        return {iid for run in self.active.values() for iid in run.claims}

    def position(self, run: ActiveRun) -> int | None:
        return self.queue.index(run) + 1 if run in self.queue else None

    # --- starting --------------------------------------------------------------------------------------------
    async def start(self, name: str | None, raw: dict[str, Any], operator: str | None, *, source: str,
                    resume: str | None = None) -> dict[str, Any]:
        s = self.service
        await s.refresh_registers()      # the registers' current version, shared with the lab's other benches
        previous, requested_by = None, operator
        if resume:
            if any(r.run_id == resume for r in self.all()):
                raise RunRefused(f"run {resume} is already in progress")
            previous = await asyncio.to_thread(load_for_resume, s.records.path, resume)
            name, raw, operator = previous.procedure, previous.params, previous.operator
        if name is None:
            raise RunRefused("no procedure named")
        info = procedure(name)
        params = parameters(info, raw)
        operator = authorise(s.config, operator, info.name)
        if requested_by and requested_by != operator:   # whoever resumes someone else's run must be competent too
            authorise(s.config, requested_by, info.name)
        run_id = previous.run_id if previous else new_run_id(s.clock.now(), s.config.lab.station)
        ctx = RunContext(run_id, info.name, operator, s.instruments, register(s.config.standards, s.config.sources), s.clock,
                         lambda prompt: self._ask(run, prompt), simulated=s.simulate,
                         control=run_control(s.config, s.instruments), records=s.records,
                         history=history_from(s.records, s.config.central.url, s.config.lab.station))
        if previous is not None:
            previous.apply(ctx)
        else:
            await start_record(s.records, ctx, info, raw, params, s.config.lab.station)
        try:
            claims = await preflight(ctx, params)
        except RunRefused as exc:
            if previous is None:
                await refuse(ctx, str(exc))
            raise
        run = ActiveRun(run_id, info.name, operator, ctx, info, params, claims, source)
        ctx.progress = lambda event, data: s.on_progress(run, event, data)
        if self._grant(run):
            self._launch(run)
        else:
            self.queue.append(run)
            run.state = "queued"
            run.told = (len(self.queue), run.waiting_for)
            set_state(ctx, "queued", waiting_for=run.waiting_for, position=len(self.queue))
            self._watch_queue()
            log.info("run %s (%s) queued: waiting for %s", run_id, info.name, run.waiting_for)
        return {"run_id": run_id, "state": run.state, **({"position": self.position(run),
                                                            "waiting_for": run.waiting_for}
                                                           if run.state == "queued" else {})}

    def _grant(self, run: ActiveRun) -> bool:
        """All of the run's claims, now, or none. No await in here: two starts cannot both be granted."""
        ahead = self.queue[:self.queue.index(run)] if run in self.queue else self.queue
        blocking = [r for r in ahead if overlaps(r.claims, run.claims)]
        if blocking:
            run.waiting_for = f"run {blocking[0].run_id}, queued before it"
            return False
        try:
            run.reservation = self.reservations.acquire(run.run_id, run.claims)
        except Conflict as exc:
            run.waiting_for = str(exc)
            return False
        run.waiting_for = ""
        return True

    def _launch(self, run: ActiveRun) -> None:
        run.state = "running"
        self.active[run.run_id] = run
        self.service.held_by(run)
        run.task = asyncio.create_task(self._execute(run), name=f"run {run.run_id}")
        log.info("run %s (%s) started by %s from %s on %s", run.run_id, run.procedure, run.operator, run.source,
                 describe_claims(run.claims))

    def advance(self) -> None:
        """Start every queued run whose instruments are free, in queue order; tell the others' live views when
        their place or what they wait for changed (the poll looks every few seconds; most looks change nothing)."""
        for run in list(self.queue):
            if self._grant(run):
                self.queue.remove(run)
                self._launch(run)
        for run in self.queue:
            place = (self.position(run), run.waiting_for)
            if place != run.told:
                run.told = place
                run.ctx.progress(Event.QUEUE, {"position": place[0], "waiting_for": place[1]})

    def _watch_queue(self) -> None:
        if self._watch is None or self._watch.done():
            self._watch = asyncio.create_task(self._poll(), name="queue")

    async def _poll(self) -> None:
        """Instruments held by another process free themselves without telling us: look again now and then."""
        while self.queue:
            await asyncio.sleep(QUEUE_POLL)
            self.advance()

    async def _execute(self, run: ActiveRun) -> None:
        s = self.service
        outcome = None
        try:
            outcome = await execute(run.ctx, run.info, run.params)
        except RunFailed as exc:
            run.error = exc.message
        except asyncio.CancelledError:
            run.state = "interrupted"
            raise
        finally:
            # The procedure has left its instruments safe: they go to the next run now, not after the documents.
            if run.answer is not None and not run.answer.done():
                run.answer.cancel()
            run.prompt = None
            if run.reservation is not None:
                run.reservation.release()
            self.active.pop(run.run_id, None)
            self.finished = [r for r in self.finished if r.task is not None and not r.task.done()] + [run]
            s.metrics.runs_finished.labels(state=run.state).inc()
            s.publish_state(run)
            if not s.stopping:
                self.advance()
        if outcome is None:
            return
        documents = await s.documents_of(run.run_id) if s.config.service.write_documents else []
        s.publish(f"runs/{run.run_id}/result", {"run_id": run.run_id, "procedure": run.procedure,
                                                "results": outcome.to_json(), "documents": documents},
                  qos=1, retain=True)

    # --- prompts and control ---------------------------------------------------------------------------------
    async def _ask(self, run: ActiveRun, prompt: Prompt) -> str:
        run.prompt, run.answer = prompt, asyncio.get_running_loop().create_future()
        self.service.publish_state(run)
        try:
            return await run.answer
        finally:
            run.prompt, run.answer = None, None
            self.service.publish_state(run)

    def cancel(self, run: ActiveRun, operator: str, reason: str | None) -> None:
        """A queued run leaves the queue for good (it never started, nothing to make safe)."""
        if run not in self.queue:
            raise RunRefused(f"run {run.run_id} is {run.state}, not queued: abort it instead")
        self.queue.remove(run)
        run.state = "cancelled"
        set_state(run.ctx, "cancelled", error=reason or f"cancelled by {operator}", operator=operator)
        self.service.publish_state(run)
        self.advance()

    def move(self, run: ActiveRun, position: int) -> None:
        """Put a queued run at `position` (1 = next); runs it overtakes that need the same instruments wait."""
        if run not in self.queue:
            raise RunRefused(f"run {run.run_id} is not queued")
        self.queue.remove(run)
        self.queue.insert(max(0, min(position - 1, len(self.queue))), run)
        self.advance()

    # --- stopping and restarting -----------------------------------------------------------------------------
    async def stop_all(self, reason: str) -> None:
        """Every run to its safe state, marked interrupted; queued runs stay queued on record for the restart.
        Runs that completed and are writing their documents finish them."""
        running = [r for r in self.active.values() if r.task is not None and not r.task.done()]
        for run in running:
            assert run.task is not None
            # The next start of the service resumes it (a `labd run` stopped at a terminal is not resumed).
            run.ctx.interruption = {"by": "service", "reason": reason}
            run.task.cancel()     # each procedure's finally leaves its own instruments safe; execute marks it
        for run in running:
            assert run.task is not None
            with contextlib.suppress(BaseException):
                await run.task
            run.error = reason
        finishing = [r.task for r in self.finished if r.task is not None and not r.task.done()]
        if finishing:        # runs that completed are left to finish writing their documents
            await asyncio.wait(finishing, timeout=60)
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(BaseException):
                await self._watch

    async def recover(self) -> None:
        """Runs the last process left unfinished (running or queued when it was killed): each is resumed, or
        marked interrupted, as `[service] on_restart` says; once each, never twice."""
        s = self.service

        def unfinished() -> list[str]:
            with RecordsReader(s.records.path) as reader:
                return reader.unfinished()
        for run_id in await asyncio.to_thread(unfinished):
            if s.config.service.on_restart == "resume":
                try:
                    await self.start(None, {}, None, source="restart", resume=run_id)
                    continue
                except RunRefused as exc:
                    log.warning("run %s cannot be resumed: %s", run_id, exc)
            s.records.event(run_id, 0, s.clock.now(), "state", {"state": "interrupted",
                                                               "error": "the service was killed"})

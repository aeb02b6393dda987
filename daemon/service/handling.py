"""Commands to the service, from MQTT and the dashboard alike: validated, authorised, acted on, recorded.

The one way in (`command`): parse (nothing raises past `commands.parse`), identify who sent it from the
authentication (people.py), act, record the command with its outcome and the authenticated operator, reply.
Runs are named by `run_id`; a command without one acts on the only run in progress, and is refused when
there are several.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from labd.daemon.engine import RunRefused, sign_document
from labd.daemon.records import RecordsReader
from labd.procedures import PROCEDURES
from labd.procedures.events import Event
from labd.procedures.params import describe, json_schema

from .commands import Command, CommandError, best_effort_id, claimed_operator, parse, redacted
from .health import Metrics
from .people import READ_ONLY, may_answer, may_control, operator_of_user

if TYPE_CHECKING:
    from .core import Service

log = logging.getLogger("labd.service")


class RateLimit:
    """A token bucket per sender: `burst` commands at once, then `rate` per second."""

    def __init__(self, burst: int, rate: float) -> None:
        self.burst, self.rate = burst, rate
        self.buckets: dict[str, tuple[float, float]] = {}     # sender → (tokens, when)

    def allow(self, sender: str) -> bool:
        now = time.monotonic()
        tokens, when = self.buckets.get(sender, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - when) * self.rate)
        allowed = tokens >= 1.0
        self.buckets[sender] = (tokens - 1.0 if allowed else tokens, now)
        if len(self.buckets) > 10000:      # forget the quiet ones rather than grow without bound
            self.buckets = {k: v for k, v in self.buckets.items() if now - v[1] < 60}
        return allowed


class Handling:
    """The command side of the service: it acts on the service's runs and records every command."""

    def __init__(self, service: "Service") -> None:
        self.service = service
        cfg = service.config.service
        self.limit = RateLimit(cfg.command_burst, cfg.command_rate)
        self.limited: set[str] = set()      # senders whose refusal is on record for the current flood

    async def on_command(self, payload: bytes, response_topic: str | None, correlation: bytes | None,
                         user: str | None = None) -> None:
        """A message on `<root>/cmd/<user>` (user: the broker's authenticated login) or `<root>/cmd` (None)."""
        try:
            reply = await self.command(payload, "mqtt", user=user)
        except Exception:      # nothing a payload does may end the handler without a reply
            log.exception("command handling failed")
            reply = {"id": None, "ok": False, "error": "internal error"}
        if self.service.bus is not None:
            self.service.bus.reply(reply["id"] or "invalid", reply, response_topic, correlation)

    async def command(self, payload: bytes, source: str, *, user: str | None = None,
                      operator: str | None = None) -> dict[str, Any]:
        """Validate, identify, authorise, act, record: the one way in for MQTT and the dashboard alike.

        `user` is the broker login a message came from, `operator` the dashboard session's operator; with
        neither, only status and list are answered."""
        s = self.service
        await s.ready.wait()
        sender = f"{source}:{user or operator or '?' + claimed_operator(payload)}"
        where = f"{source}:{user}" if user else source
        if not self.limit.allow(sender):
            s.metrics.commands.labels(source=source, outcome="limited").inc()
            if sender not in self.limited:      # one record per flood, not one per junk message
                self.limited.add(sender)
                await s.records.command(where, operator, redacted(payload).decode("utf-8", "replace")[:256],
                                        f"refused: rate limit ({self.limit.burst} at once, then "
                                        f"{self.limit.rate:g}/s) from {sender}")
            return {"id": best_effort_id(payload), "ok": False,
                    "error": f"too many commands: at most {self.limit.burst} at once, then "
                             f"{self.limit.rate:g} per second"}
        self.limited.discard(sender)
        try:
            cmd = parse(payload)
        except CommandError as exc:
            await s.records.command(where, operator, redacted(payload).decode("utf-8", "replace")[:4096],
                                    f"invalid: {exc}")
            s.metrics.commands.labels(source=source, outcome="invalid").inc()
            return {"id": exc.command_id, "ok": False, "error": str(exc)}
        claimed, identity = cmd.operator, operator
        try:
            try:
                identity = operator_of_user(s.config, user) if user is not None else operator
            except CommandError:
                if cmd.action not in READ_ONLY:      # anyone the broker lets in may ask for status
                    raise
            cmd = cmd.model_copy(update={"operator": self.identify(cmd, source, identity)})
            result = await self.handle(cmd, source)
            reply, outcome = {"id": cmd.id, "ok": True, **result}, "ok"
        except (RunRefused, CommandError, ValueError) as exc:
            reply, outcome = {"id": cmd.id, "ok": False, "error": str(exc)}, f"refused: {exc}"
        except Exception as exc:   # never let a command take the service down; the log has the details
            log.exception("command %s failed", cmd.id)
            reply = {"id": cmd.id, "ok": False, "error": "internal error; the service's log says more"}
            outcome = f"error: {type(exc).__name__}"
        # The record keeps who authenticated (the column) and the payload as sent (with any operator it named).
        recorded = {**cmd.model_dump(exclude_none=True, exclude={"operator", "password"}),
                    **({"operator": claimed} if claimed else {})}
        await s.records.command(where, identity, recorded, outcome)
        s.metrics.commands.labels(source=source, outcome=Metrics.outcome(outcome)).inc()
        return reply

    def identify(self, cmd: Command, source: str, operator: str | None) -> str | None:
        """Who acts: the authenticated operator; a payload naming another is refused (and recorded as such)."""
        if operator is None:
            if cmd.action in READ_ONLY:
                return None
            raise CommandError(f"action {cmd.action!r} needs an authenticated sender: send it on "
                               f"{self.service.root}/cmd/<your broker username>" if source == "mqtt" else
                               f"action {cmd.action!r} needs a logged-in operator")
        if cmd.operator is not None and cmd.operator != operator:
            raise CommandError(f"the command names operator {cmd.operator!r} but was sent by {operator!r}: "
                               f"refused (who acts is who logged in)")
        return operator

    async def handle(self, cmd: Command, source: str = "mqtt") -> dict[str, Any]:
        s = self.service
        runs = s.runs_
        if cmd.action == "start":
            return await runs.start(cmd.procedure, cmd.params, cmd.operator, source=source)
        if cmd.action == "resume" and cmd.run_id and not any(r.run_id == cmd.run_id for r in runs.all()):
            return await runs.start(None, {}, cmd.operator, source=source, resume=cmd.run_id)
        if cmd.action in ("pause", "resume", "abort", "cancel", "move"):
            run = runs.find(cmd.run_id)
            operator = cmd.operator or ""
            may_control(s.config, operator, run.operator, cmd.action, run.run_id)
            if cmd.action == "cancel" or (cmd.action == "abort" and run.state == "queued"):
                runs.cancel(run, operator, cmd.reason)
            elif cmd.action == "move":
                if cmd.position is None:
                    raise CommandError("action 'move' needs position")
                runs.move(run, cmd.position)
            elif run.state == "queued":
                raise CommandError(f"run {run.run_id} is queued: cancel or move it")
            else:
                control = run.ctx.control
                {"pause": control.pause, "resume": control.resume,
                 "abort": lambda: control.abort(cmd.reason or f"aborted by {cmd.operator}")}[cmd.action]()
            run.ctx.event(Event.CONTROL, action=cmd.action, operator=cmd.operator)
            return {"run_id": run.run_id, "state": run.state}
        if cmd.action == "answer":
            run = runs.find(cmd.run_id)
            may_answer(s.config, cmd.operator or "", run.operator, run.procedure, run.run_id)
            if run.prompt is None or run.prompt.key != cmd.prompt:
                raise CommandError(f"run {run.run_id} has no open prompt {cmd.prompt!r}"
                                   + (f" (open: {run.prompt.key!r})" if run.prompt else ""))
            value = str(cmd.value)
            if s.operator_sim is not None and run.prompt.action:
                simulated = await s.operator_sim.perform(run.prompt.action)
                value = simulated if run.prompt.kind == "number" and cmd.value in ("", "simulate") else value
            run.ctx.event(Event.ANSWERED_BY, key=cmd.prompt, operator=cmd.operator)
            if run.answer is not None and not run.answer.done():
                run.answer.set_result(value)
            return {"run_id": run.run_id}
        if cmd.action == "sign":
            assert cmd.run_id and cmd.meaning and cmd.password and cmd.operator     # checked by parse()
            number = await sign_document(s.records, s.config, cmd.run_id, cmd.meaning, cmd.operator,
                                         cmd.password.get_secret_value(), source)
            documents = await s.documents_of(cmd.run_id) if number else []
            return {"run_id": cmd.run_id, "meaning": cmd.meaning, "certificate": number, "documents": documents}
        if cmd.action == "status":
            return s.status()
        return await asyncio.to_thread(self._list, cmd.what or "procedures")

    def _list(self, what: str) -> dict[str, Any]:
        s = self.service
        if what == "procedures":
            return {"procedures": [{"name": i.name, "version": i.version, "description": i.description,
                                    "parameters": [{"name": n, "type": t, "default": d}
                                                   for n, t, d in describe(i.parameters)],
                                    "schema": json_schema(i.parameters, i.name)}
                                   for i in PROCEDURES.values()]}
        if what == "instruments":
            return {"instruments": [{"id": iid, "driver": c.driver, "description": c.description,
                                     "latest": s.latest.get(iid)} for iid, c in s.config.instruments.items()]}
        with RecordsReader(s.records.path) as reader:
            recorded = reader.runs()[-50:]
        return {"runs": [{"run_id": r.run_id, "procedure": r.procedure, "operator": r.operator, "state": r.state,
                          "attempt": r.attempt} for r in recorded]}

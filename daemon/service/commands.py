"""Commands to the service (MQTT `<root>/cmd/<broker username>`, and the dashboard): parsed and validated before anything acts.

A command is a JSON object `{"id": ..., "action": ..., "operator": ..., ...}`. Every problem gives one clear
sentence naming the field; nothing in a payload can raise past `parse()`. See docs/mqtt.md.
"""
from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

MAX_PAYLOAD = 64 * 1024
MAX_DEPTH = 16          # a command is a flat object with a params table: anything deeper is not one
ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")     # run ids carry the station (up to 64) and the time
ACTIONS = ("start", "pause", "resume", "abort", "cancel", "move", "answer", "sign", "status", "list")
_PASSWORD = re.compile(rb'("password"\s*:\s*")(?:[^"\\]|\\.)*"')


class CommandError(ValueError):
    def __init__(self, message: str, command_id: str | None = None) -> None:
        super().__init__(message)
        self.command_id = command_id


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=ID.pattern)
    action: Literal["start", "pause", "resume", "abort", "cancel", "move", "answer", "sign", "status", "list"]
    operator: str | None = Field(default=None, min_length=1, max_length=64)
    procedure: str | None = Field(default=None, min_length=1, max_length=64)
    params: dict[str, Any] = {}
    run_id: str | None = Field(default=None, pattern=ID.pattern)
    prompt: str | None = Field(default=None, min_length=1, max_length=128)
    value: str | float | int | None = None
    reason: str | None = Field(default=None, max_length=500)
    position: int | None = Field(default=None, ge=1, le=1000)   # for "move": the queued run's new place
    what: Literal["procedures", "instruments", "runs"] | None = None
    meaning: Literal["checked", "authorised"] | None = None        # for "sign"
    password: SecretStr | None = Field(default=None, max_length=1024)   # for "sign": typed now; never recorded

    @model_validator(mode="after")
    def _needs(self) -> "Command":
        # No "operator": who acts is who authenticated (the broker login, the dashboard session). A payload
        # may name its operator, but only the authenticated one (people.py).
        need = {"start": ("procedure",), "cancel": ("run_id",), "move": ("run_id", "position"),
                "answer": ("prompt", "value"), "sign": ("run_id", "meaning", "password")}.get(self.action, ())
        missing = [f for f in need if getattr(self, f) is None]
        if missing:
            raise ValueError(f"action {self.action!r} needs {', '.join(missing)}")
        for key, value in self.params.items():
            if not isinstance(value, (str, int, float, bool, list)) or isinstance(value, list) and not all(
                    isinstance(v, (str, int, float)) for v in value):
                raise ValueError(f"params.{key}: values must be text, numbers, booleans or lists of them")
        return self


def redacted(payload: bytes) -> bytes:
    """The payload with any password replaced, for the record of a command that could not be parsed."""
    return _PASSWORD.sub(rb'\1***"', payload)


def nesting(payload: bytes) -> int:
    """How deep the brackets of a JSON text go, counted without parsing it (strings skipped): Python's json
    recurses, and a payload thousands of levels deep must be refused before it can exhaust the stack."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in payload:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:        # backslash
                escaped = True
            elif byte == 0x22:        # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):    # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):    # ] }
            depth -= 1
    return deepest


def _peek(payload: bytes) -> dict[str, Any]:
    """The payload as an object when it safely is one (within the limits), else empty: for reading the id or
    the sender of a command that may be invalid."""
    if len(payload) > MAX_PAYLOAD or nesting(payload) > MAX_DEPTH:
        return {}
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def best_effort_id(payload: bytes) -> str | None:
    """The command's id if one can be read, so that even a bad command gets its reply where it is awaited."""
    cid = _peek(payload).get("id")
    return cid if isinstance(cid, str) and ID.match(cid) else None


def claimed_operator(payload: bytes) -> str:
    """Who the payload says sent it: for the rate limit of unauthenticated senders only."""
    op = _peek(payload).get("operator")
    return op[:64] if isinstance(op, str) else "?"


def parse(payload: bytes) -> Command:
    cid = best_effort_id(payload)
    if len(payload) > MAX_PAYLOAD:
        raise CommandError(f"command too large ({len(payload)} bytes; at most {MAX_PAYLOAD})", cid)
    depth = nesting(payload)
    if depth > MAX_DEPTH:
        raise CommandError(f"command nested too deeply ({depth} levels; at most {MAX_DEPTH})", cid)
    try:
        data = json.loads(payload)
    except UnicodeDecodeError:
        raise CommandError("command is not UTF-8 text", cid) from None
    except (ValueError, RecursionError) as exc:
        raise CommandError(f"command is not valid JSON: {exc}", cid) from None
    if not isinstance(data, dict):
        raise CommandError("command must be a JSON object", cid)
    try:
        return Command.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "command"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = f"unknown field (known: {', '.join(Command.model_fields)})"
        elif err["type"] == "literal_error" and where == "action":
            msg = f"unknown action {data.get('action')!r}; one of {', '.join(ACTIONS)}"
        raise CommandError(f"{where}: {msg}" if where != "command" else msg, cid) from None

"""The part of an SCPI instrument every simulator shares: the program-message grammar and the IEEE 488.2
status system, so a simulated instrument answers what a real one does to any client, not only labd's drivers.

Grammar (SCPI-99 vol. 1, chapters 6–7): a message is commands separated by `;`; a header is case-insensitive,
in its short form (the upper-case letters of its mnemonics) or its long form, with optional nodes (`[SENSe:]`)
and numeric suffixes (`SENSe<n>`); a command after `;` that does not start with `:` continues from the previous
command's path; parameters follow a space, separated by commas, numbers with `DEF`, `MIN` and `MAX`.

Status (IEEE 488.2-1992 11.4–11.5): the error queue (20 entries; a full queue ends in -350), the standard event
status register (ESR) with its enable mask (`*ESE`), the status byte (`*STB?`: EAV, ESB, MSS) with its service
request enable (`*SRE`); `*CLS` clears the queue and the ESR. Errors set their ESR bit by class: -1xx command
error (CME), -2xx execution error (EXE), -3xx and device errors (DDE), -4xx query error (QYE).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .line_server import LineDevice, Session

MESSAGES = {
    -100: "Command error", -101: "Invalid character", -102: "Syntax error", -103: "Invalid separator",
    -104: "Data type error", -108: "Parameter not allowed", -109: "Missing parameter", -113: "Undefined header",
    -114: "Header suffix out of range",
    -120: "Numeric data error", -138: "Suffix not allowed", -200: "Execution error", -203: "Command protected", -211: "Trigger ignored",
    -214: "Trigger deadlock", -221: "Settings conflict",
    -222: "Data out of range", -224: "Illegal parameter value", -230: "Data corrupt or stale",
    -350: "Queue overflow", -410: "Query INTERRUPTED", -420: "Query UNTERMINATED",
}
OPC, QYE, DDE, EXE, CME = 0x01, 0x04, 0x08, 0x10, 0x20
QUEUE = 20


class ScpiError(Exception):
    """Raised by a handler: the command is not carried out and the error is queued."""

    def __init__(self, code: int, message: str | None = None) -> None:
        self.code, self.message = code, message or MESSAGES.get(code, "Device-specific error")
        super().__init__(f"{code},{self.message}")


def _mnemonic(word: str) -> str:
    short = "".join(c for c in word if c.isupper() or c.isdigit())
    return f"(?:{word.upper()}|{short})" if short != word.upper() else word.upper()


def compile_header(pattern: str) -> re.Pattern[str]:
    """`[SENSe:]VOLTage[:DC]:NPLCycles` → a regex of every spelling; `<n>` suffixes are captured."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "[":
            out.append("(?:")
        elif c == "]":
            out.append(")?")
        elif c == ":":
            out.append(":")
        elif c == "*":
            out.append(r"\*")
        elif c.isalpha():
            j = i
            while j < len(pattern) and (pattern[j].isalpha() or pattern[j] == "_"):     # SP_SET
                j += 1
            out.append(_mnemonic(pattern[i:j]))
            i = j
            if pattern.startswith("<n>", i):
                out.append(r"(\d*)")
                i += 3
            continue
        i += 1
    return re.compile("^:?" + "".join(out) + "$")


@dataclass(frozen=True)
class Command:
    pattern: str
    regex: re.Pattern[str]
    handler: Callable[..., str | None]     # (params: list[str], query: bool, *suffixes) → reply or None
    query: bool | None                     # True: query only; False: command only; None: both


def number(text: str, *, default: float, minimum: float, maximum: float, name: str = "") -> float:
    """A numeric parameter: a number, or DEF/MIN/MAX (long forms too); out of [minimum, maximum] is -222."""
    word = text.strip().upper()
    if word in ("DEF", "DEFAULT"):
        return default
    if word in ("MIN", "MINIMUM"):
        return minimum
    if word in ("MAX", "MAXIMUM"):
        return maximum
    try:
        value = float(word)
    except ValueError:
        raise ScpiError(-224, f"Illegal parameter value{';' + name if name else ''}") from None
    if not minimum <= value <= maximum:
        raise ScpiError(-222)
    return value


def boolean(text: str) -> bool:
    word = text.strip().upper()
    if word in ("ON", "1"):
        return True
    if word in ("OFF", "0"):
        return False
    raise ScpiError(-224)


def quoted(text: str) -> str:
    t = text.strip()
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "\"'":
        return t[1:-1]
    raise ScpiError(-104)


def _split(message: str, separator: str) -> list[str]:
    """Split at `separator` outside quotes."""
    parts, current, quote = [], [], ""
    for c in message:
        if quote:
            current.append(c)
            if c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
            current.append(c)
        elif c == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(c)
    parts.append("".join(current))
    return parts


class ScpiDevice(LineDevice):
    """An SCPI instrument: subclasses register commands with `self.command(pattern, handler)` and describe
    their identity; the common commands and the status system are here."""

    reply_termination = "\n"
    error_format = "{code:+d},\"{message}\""      # 34465A: +0,"No error"; others override
    no_error = "No error"
    undefined = (-113, MESSAGES[-113])            # what an unknown header queues

    def __init__(self) -> None:
        self.commands: list[Command] = []
        self.errors: list[tuple[int, str]] = []
        self.esr = self.ese = self.sre = 0
        for pattern, handler, query in (
                ("*IDN", lambda p, q: self.identity(), True), ("*RST", lambda p, q: self._reset(), False),
                ("*CLS", lambda p, q: self._clear(), False), ("*ESR", lambda p, q: self._read_esr(), True),
                ("*ESE", self._ese, None), ("*SRE", self._sre, None), ("*STB", lambda p, q: str(self.stb()), True),
                ("*OPC", self._opc, None), ("*WAI", lambda p, q: None, False), ("*TST", lambda p, q: "0", True),
                ("*OPT", lambda p, q: self.options(), True),
                ("SYSTem:ERRor[:NEXT]", lambda p, q: self.next_error(), True)):
            self.command(pattern, handler, query)

    # --- what a subclass provides ------------------------------------------------------------------------------
    def identity(self) -> str:
        raise NotImplementedError

    def options(self) -> str:
        return "0"

    def reset(self) -> None:
        """*RST: the instrument's settings to their defaults (not the status system, IEEE 488.2 10.32)."""

    def command(self, pattern: str, handler: Callable[..., str | None], query: bool | None = None) -> None:
        self.commands.append(Command(pattern, compile_header(pattern), handler, query))

    # --- status ------------------------------------------------------------------------------------------------
    def error(self, code: int, message: str | None = None) -> None:
        """Queue an error and set its event bit."""
        self.esr |= CME if -199 <= code <= -100 else EXE if -299 <= code <= -200 else \
            QYE if -499 <= code <= -400 else DDE
        if len(self.errors) >= QUEUE:
            self.errors[-1] = (-350, MESSAGES[-350])
            return
        self.errors.append((code, message or MESSAGES.get(code, "Device-specific error")))

    def next_error(self) -> str:
        code, message = self.errors.pop(0) if self.errors else (0, self.no_error)
        return self.error_format.format(code=code, message=message)

    def stb(self) -> int:
        value = (0x04 if self.errors else 0) | (0x20 if self.esr & self.ese else 0)
        return value | (0x40 if value & self.sre else 0)

    def _reset(self) -> None:
        self.reset()

    def _clear(self) -> None:
        self.errors.clear()
        self.esr = 0

    def _read_esr(self) -> str:
        value, self.esr = self.esr, 0            # reading the ESR clears it (IEEE 488.2 11.5.1.2)
        return str(value)

    def _ese(self, params: list[str], query: bool) -> str | None:
        if query:
            return str(self.ese)
        self.ese = int(number(params[0], default=0, minimum=0, maximum=255))
        return None

    def _sre(self, params: list[str], query: bool) -> str | None:
        if query:
            return str(self.sre)
        self.sre = int(number(params[0], default=0, minimum=0, maximum=255)) & ~0x40
        return None

    def _opc(self, params: list[str], query: bool) -> str | None:
        if query:
            return "1"                          # every operation is complete when its command returns
        self.esr |= OPC
        return None

    # --- the message -------------------------------------------------------------------------------------------
    async def handle(self, line: str, session: Session) -> str | list[str] | None:
        replies: list[str] = []
        path: list[str] = []
        for unit in _split(line.strip(), ";"):
            unit = unit.strip()
            if not unit:
                continue
            header, _, rest = unit.partition(" ")
            if not header.startswith(("*", ":")) and path:
                header = ":".join(path + [header])          # SCPI-99 6.2.4: continue from the last path
            nodes = header.lstrip(":").split(":")
            path = [] if header.startswith("*") else nodes[:-1]
            reply = self._execute(header, rest.strip())
            if reply is not None:
                replies.append(reply)
        return ";".join(replies) if replies else None

    def _execute(self, header: str, rest: str) -> str | None:
        query = header.endswith("?")
        name = header[:-1] if query else header
        params = [p.strip() for p in _split(rest, ",")] if rest else []
        for cmd in self.commands:
            m = cmd.regex.match(name.upper())
            if m is None:
                continue
            if cmd.query is True and not query or cmd.query is False and query:
                self.error(*self.undefined)
                return None
            try:
                return cmd.handler(params, query, *m.groups())
            except ScpiError as exc:
                self.error(exc.code, exc.message)
                return None
            except IndexError:
                self.error(-109)
                return None
        self.error(*self.undefined)
        return None

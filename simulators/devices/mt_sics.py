"""Mettler Toledo MT-SICS balance, levels 0 and 1, byte for byte: `S S     100.00 g` with the value padded to 10
characters (../shared/protocols/INSTRUMENT-PROTOCOLS.md §1, marks as there).

Level 0: I0 (the command list, `B` lines then the last with `A`) [D], I1 [D], I2 [C], I3 [C], I4 [C], I5 [C],
S [C], SI [C], SIR [C], Z [C], ZI [C], @ (replies I4 with the serial, cancels) [C].
Level 1: D "text" / DW [D], SR (a stable value, then another after every change of at least 12.5 % of the
last, 30 d at least) [C], T [C], TA query and preset [C], TAC [C], TI [C], I10 (balance name) [D].
Unknown commands answer `ES`; a bad parameter `<ID> L`.
"""
from __future__ import annotations

import asyncio

from ..line_server import LineDevice, Session
from ..physics import BalanceModel


class MtSicsBalanceSim(LineDevice):
    reply_termination = "\r\n"

    def __init__(self, model: BalanceModel, *, serial: str = "1126493049", type_text: str = "XS205 Excellence",
                 stability_timeout: float = 30.0, update_interval: float = 0.1) -> None:
        self.model = model
        self.serial, self.type_text = serial, type_text
        self.stability_timeout = stability_timeout   # simulated seconds before `S I`
        self.update_interval = update_interval       # real seconds between SIR lines
        self.software, self.software_id = "2.10 10.28.0.493.142", "1.2.3.4.5"
        self.name, self.display = "Balance", ""

    def _decimals(self) -> int:
        d = self.model.d
        return max(0, len(f"{d:.10f}".rstrip("0").split(".")[1]))

    def _weight(self, command_id: str, stable: bool) -> str:
        m = self.model
        if m.overloaded():
            return f"{command_id} +"
        if m.underloaded():
            return f"{command_id} -"
        value = f"{m.net():.{self._decimals()}f}"
        return f"{command_id} {'S' if stable else 'D'} {value:>10} {m.unit}"

    async def _wait_stable(self) -> bool:
        clock = self.model.clock
        deadline = clock.now() + self.stability_timeout
        while not self.model.stable():
            if clock.now() >= deadline:
                return False
            await clock.sleep(0.1)
        return True

    LEVELS = {0: ("I0", "I1", "I2", "I3", "I4", "I5", "S", "SI", "SIR", "Z", "ZI", "@"),
              1: ("D", "DW", "SR", "T", "TA", "TAC", "TI", "I10")}

    async def handle(self, line: str, session: Session) -> str | list[str] | None:
        cmd = line.strip()
        head, _, arg = cmd.partition(" ")
        if cmd == "@":
            session.stop_stream()
            self.display = ""
            return f'I4 A "{self.serial}"'
        if cmd == "I0":
            listed = [(level, c) for level, cs in self.LEVELS.items() for c in cs]
            return [f'I0 {"A" if i == len(listed) - 1 else "B"} {level} "{c}"' for i, (level, c) in enumerate(listed)]
        if cmd == "I1":
            return 'I1 A "01" "2.20" "2.20" "1.00" "1.00"'
        if cmd == "I2":
            return f'I2 A "{self.type_text} {self.model.capacity:.4f} {self.model.unit}"'
        if cmd == "I3":
            return f'I3 A "{self.software}"'
        if cmd == "I4":
            return f'I4 A "{self.serial}"'
        if cmd == "I5":
            return f'I5 A "{self.software_id}"'
        if head == "I10":
            if arg:
                if not (arg.startswith('"') and arg.endswith('"') and len(arg) <= 22):
                    return "I10 L"
                self.name = arg.strip('"')
                return "I10 A"
            return f'I10 A "{self.name}"'
        if cmd == "SI":
            return self._weight("S", self.model.stable())
        if cmd == "S":
            if self.model.overloaded() or self.model.underloaded():
                return self._weight("S", False)
            if not await self._wait_stable():
                return "S I"
            return self._weight("S", True)
        if cmd == "SIR":
            session.start_stream(self._stream(session))
            return None
        if cmd == "SR":
            session.start_stream(self._on_change(session))
            return None
        if cmd in ("Z", "ZI"):
            if cmd == "Z" and not await self._wait_stable():
                return "Z I"
            if self.model.load > self.model.capacity * 0.02 + self.model.zero_offset:
                return f"{cmd} +"
            self.model.zero()
            return "Z A" if cmd == "Z" else f"ZI {'S' if self.model.stable() else 'D'}"
        if cmd in ("T", "TI"):
            if cmd == "T" and not await self._wait_stable():
                return "T I"
            if self.model.overloaded():
                return f"{cmd} +"
            stable = self.model.stable()
            tare = self.model.tare()
            return f"{cmd} {'S' if cmd == 'T' or stable else 'D'} {tare:>10.{self._decimals()}f} {self.model.unit}"
        if head == "TA":
            if arg:
                value, _, unit = arg.partition(" ")
                try:
                    tare = float(value)
                except ValueError:
                    return "TA L"
                if unit != self.model.unit or not 0 <= tare <= self.model.capacity:
                    return "TA L"
                self.model.tare_value = tare
            return f"TA A {self.model.tare_value:>10.{self._decimals()}f} {self.model.unit}"
        if cmd == "TAC":
            self.model.tare_value = 0.0
            return "TAC A"
        if head == "D":
            if not (arg.startswith('"') and arg.endswith('"')):
                return "D L"
            self.display = arg.strip('"')
            return "D A"
        if cmd == "DW":
            self.display = ""
            return "DW A"
        return "ES"

    def busy_reply(self, line: str) -> str | None:
        cmd = line.strip()
        return f"{'S' if cmd in ('S', 'SI') else cmd} I" if cmd else None

    async def _on_change(self, session: Session) -> None:
        """SR: a stable value, then a new stable value whenever the weight has moved by 12.5 % of the last one
        (at least 30 d) — the JS-series manual's rule."""
        last: float | None = None
        while True:
            if self.model.stable():
                now = self.model.net()
                if last is None or abs(now - last) >= max(0.125 * abs(last), 30 * self.model.d):
                    session.send(self._weight("S", True))
                    last = now
            await asyncio.sleep(self.update_interval)

    async def _stream(self, session: Session) -> None:
        while True:
            session.send(self._weight("S", self.model.stable()))
            await asyncio.sleep(self.update_interval)

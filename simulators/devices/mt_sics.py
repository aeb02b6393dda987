"""Mettler Toledo MT-SICS balance, byte for byte: `S S     100.00 g` with the value padded to 10 characters."""
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

    async def handle(self, line: str, session: Session) -> str | list[str] | None:
        cmd = line.strip()
        if cmd == "@":
            session.stop_stream()
            return f'I4 A "{self.serial}"'
        if cmd == "I4":
            return f'I4 A "{self.serial}"'
        if cmd == "I2":
            return f'I2 A "{self.type_text} {self.model.capacity:.4f} {self.model.unit}"'
        if cmd == "I1":
            return 'I1 A "01" "2.20" "2.20" "1.00" "1.00"'
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
        if cmd in ("Z", "ZI"):
            if cmd == "Z" and not await self._wait_stable():
                return "Z I"
            if self.model.load > self.model.capacity * 0.02 + self.model.zero_offset:
                return f"{cmd} +"
            self.model.zero()
            return "Z A" if cmd == "Z" else f"ZI {'S' if self.model.stable() else 'D'}"
        if cmd == "T":
            if not await self._wait_stable():
                return "T I"
            if self.model.overloaded():
                return "T +"
            tare = self.model.tare()
            return f"T S {tare:>10.{self._decimals()}f} {self.model.unit}"
        if cmd == "TAC":
            self.model.tare_value = 0.0
            return "TAC A"
        if cmd.split(" ")[0] in ("D", "DW", "TA", "SR", "I0", "I3", "I5", "I10"):
            return f"{cmd.split(' ')[0]} L"
        return "ES"

    def busy_reply(self, line: str) -> str | None:
        cmd = line.strip()
        return f"{'S' if cmd in ('S', 'SI') else cmd} I" if cmd else None

    async def _stream(self, session: Session) -> None:
        while True:
            session.send(self._weight("S", self.model.stable()))
            await asyncio.sleep(self.update_interval)

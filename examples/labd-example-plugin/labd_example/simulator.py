"""The T-100 in the simulated lab: it reads the room's temperature with a small error and noise."""
from __future__ import annotations

from typing import Any

from labd.simulators import LineDevice, World


class AcmeT100Sim(LineDevice):
    reply_termination = "\r\n"

    def __init__(self, world: World, error: float = 0.05, noise: float = 0.002, serial: str = "T100-0001") -> None:
        self.world, self.error, self.noise, self.serial = world, error, noise, serial

    async def handle(self, line: str, session: Any) -> str | None:
        command = line.strip().upper()
        if command == "*IDN?":
            return f"ACME,T-100,{self.serial},1.0"
        if command == "MEAS?":
            t = self.world.ambient.temperature() + self.error + self.noise * self.world.rng.normal()
            return f"T={t:+.3f} C"
        return "ERR 1"   # unknown command


def make_device(simulation: dict[str, Any], world: World) -> AcmeT100Sim:
    """What labd's simulated lab calls for an instrument with driver `acme-t100`: its [simulation] table and the
    simulated world."""
    return AcmeT100Sim(world, **simulation)

"""The simulated technician: does what a prompt asks on the simulated lab (places weights, moves a probe in or
out of a block, titrates) and
answers as a person at the bench would (the burette reading to 0.01 mL).

The true concentration of the solution being standardised lives here, as the balance's true errors live in
its model: it is what a simulated standardisation should find within its uncertainty.
"""
from __future__ import annotations

from typing import Any

from .lab import World


class SimulatedOperator:
    def __init__(self, world: World, *, solution_concentration: float = 0.10214, burette_noise: float = 0.01) -> None:
        self.world = world
        self.solution_concentration = solution_concentration   # mol/L, true value (QUAM A2's NaOH)
        self.burette_noise = burette_noise                     # mL, reading scatter of the end point

    async def perform(self, action: dict[str, Any] | None) -> str:
        """Carry out `action` and return the answer the technician would give."""
        if not action:
            return "done"
        do = action.get("do")
        if do == "load":
            self.world.balances[action["balance"]].place(float(action["mass"]), action.get("position"))
            return "done"
        if do == "unload":
            self.world.balances[action["balance"]].remove_all()
            return "done"
        if do == "immerse":
            # withdraw a probe by `withdrawn` mm from full immersion (0: push it back in)
            self.world.probes[action["readout"]][int(action["channel"])].withdrawn = float(action["withdrawn"])
            return "done"
        if do == "titrate":
            # c = 1000·m·P/(M·V)  →  the volume at the end point, as read on the burette
            c = self.solution_concentration * float(action.get("equivalents", 1))
            volume = 1000.0 * float(action["mass"]) * float(action["purity"]) / (float(action["molar_mass"]) * c)
            volume += float(self.world.rng.normal(0.0, self.burette_noise))
            return f"{volume:.2f}"
        raise ValueError(f"the simulated operator cannot {do!r}")

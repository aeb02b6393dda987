"""The bench: the configured instruments as connected drivers, against real addresses or the simulated lab."""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING

from labd.drivers import Driver, create_instrument

from labd.daemon.config import Config

if TYPE_CHECKING:
    from labd.simulators import SimulatedLab


def build_instruments(config: Config, addresses: Mapping[str, str] | None = None) -> dict[str, Driver]:
    """Drivers for every configured instrument; `addresses` overrides config (the simulated lab's)."""
    out = {}
    for iid, cfg in config.instruments.items():
        address = (addresses or {}).get(iid, cfg.address)
        out[iid] = create_instrument(iid, cfg.driver, address, options=cfg.options, serial=cfg.serial or None,
                                     timeout=cfg.timeout, line=cfg.line or None)
    return out


async def close_all(instruments: Mapping[str, Driver]) -> None:
    await asyncio.gather(*(i.close() for i in instruments.values()), return_exceptions=True)


@contextlib.asynccontextmanager
async def bench(config: Config, *, simulate: bool = False, speed: float = 1.0,
                seed: int | None = None, start: float | None = None) -> AsyncIterator[tuple[dict[str, Driver], "SimulatedLab | None"]]:
    """The instruments (not yet opened) and, when simulating, the running simulated lab (its clock starting at
    `start`, epoch seconds, when given)."""
    lab = None
    addresses = None
    if simulate:
        from labd.simulators import SimulatedLab   # the simulators load only when simulating
        lab = SimulatedLab(config.instruments, speed=speed, seed=seed, ambient_id=config.environment.sensor,
                            start=start)
        addresses = {iid: a["address"] for iid, a in (await lab.start()).items()}
    instruments = build_instruments(config, addresses)
    try:
        yield instruments, lab
    finally:
        await close_all(instruments)
        if lab is not None:
            await lab.stop()

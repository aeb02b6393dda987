"""The simulated lab: one simulator per configured instrument, wired to shared physics, on real transports.

Serial instruments get a pseudo-terminal (a stable symlink in a private folder), VISA instruments a TCP
socket resource, Modbus instruments a pymodbus TCP server. `addresses` maps each instrument id to
`{"driver", "address"}` in the form the instrument config takes.
"""
from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from labd.drivers import parse_address
from labd.plugins import Registry

from .clock import SimClock
from .devices.fluke_1529 import Readout1529Sim
from .devices.fluke_5520a import Calibrator5520Sim
from .devices.keysight_344xx import Dmm344xxSim
from .devices.mt_sics import MtSicsBalanceSim
from .devices.temperature_sources import HartClassicSim, ScpiWellSim
from .line_server import LineDevice, LineServer
from .modbus_ambient import ModbusAmbientSim
from .physics import AmbientModel, BalanceModel, CalibratorModel, MultimeterModel, Probe, ThermalBlock


class InstrumentLike(Protocol):
    driver: str
    address: str
    options: dict[str, Any]
    simulation: dict[str, Any]


class SimulationConfigError(ValueError):
    pass


@dataclass
class World:
    """The physical objects behind the simulators, for tests and the simulated operator to act on."""
    clock: SimClock
    rng: np.random.Generator
    ambient: AmbientModel
    blocks: dict[str, ThermalBlock] = field(default_factory=dict)
    probes: dict[str, dict[int, Probe]] = field(default_factory=dict)
    balances: dict[str, BalanceModel] = field(default_factory=dict)
    calibrators: dict[str, CalibratorModel] = field(default_factory=dict)
    multimeters: dict[str, MultimeterModel] = field(default_factory=dict)


ORDER = {"fluke-scpi-well": 0, "hart-classic": 0, "fluke-5520a": 0, "modbus-ambient": 0, "mettler-sics": 0,
         "fluke-1529": 1, "keysight-344xx": 1}


def _accept_simulator(name: str, make: Any) -> Callable[[dict[str, Any], "World"], LineDevice]:
    if not callable(make):
        raise TypeError(f"{make!r} is not callable")
    return make


PLUGIN_SIMULATORS: Registry[Callable[[dict[str, Any], "World"], LineDevice]] = Registry(
    "labd.simulators", {}, _accept_simulator)


def _kwargs(instrument_id: str, sim: Mapping[str, Any], allowed: set[str]) -> dict[str, Any]:
    unknown = set(sim) - allowed
    if unknown:
        raise SimulationConfigError(f"instruments.{instrument_id}.simulation: unknown keys {sorted(unknown)}; "
                                    f"allowed: {sorted(allowed)}")
    return dict(sim)


def _identity(sim: dict[str, Any]) -> dict[str, Any]:
    """The serial a simulated instrument reports (`simulation.serial`), taken out of `sim`: it is not a parameter
    of the instrument's model but of its protocol face."""
    return {"serial": str(sim.pop("serial"))} if "serial" in sim else {}


class SimulatedLab:
    def __init__(self, instruments: Mapping[str, InstrumentLike], *, speed: float = 1.0, seed: int | None = None,
                 ambient_id: str | None = None, start: float | None = None) -> None:
        self.instruments = dict(instruments)
        self.clock = SimClock(speed, start)
        rng = np.random.default_rng(seed)
        ambient_cfg = {}
        for iid, cfg in self.instruments.items():
            if cfg.driver == "modbus-ambient" and (ambient_id is None or iid == ambient_id):
                ambient_cfg = _kwargs(iid, cfg.simulation, {"temperature", "humidity", "swing", "wander"})
                break
        self.world = World(self.clock, rng, AmbientModel(self.clock, rng, **ambient_cfg))
        self.servers: dict[str, LineServer | ModbusAmbientSim] = {}
        self.addresses: dict[str, dict[str, str]] = {}
        self._dir: Path | None = None

    def _rng(self) -> np.random.Generator:
        return np.random.default_rng(self.world.rng.integers(2**63))

    async def start(self) -> dict[str, dict[str, str]]:
        self._dir = Path(tempfile.mkdtemp(prefix="labd-sim-"))
        try:
            for iid, cfg in sorted(self.instruments.items(), key=lambda kv: ORDER.get(kv[1].driver, 2)):
                self.addresses[iid] = {"driver": cfg.driver, "address": await self._start_one(iid, cfg)}
        except BaseException:
            await self.stop()
            raise
        return self.addresses

    async def _serve(self, iid: str, device, default: str) -> str:
        """Serve over the transport the configured address names (a VISA or TCP address gets a socket)."""
        server = LineServer(device, iid)
        self.servers[iid] = server
        kind = parse_address(self.instruments[iid].address).kind
        if kind == "serial" or (kind not in ("visa", "tcp") and default == "pty"):
            assert self._dir is not None, "start() makes the folder of the ptys"
            return await server.start_pty(self._dir)
        port = await server.start_tcp()
        return f"tcp://127.0.0.1:{port}" if kind == "tcp" else f"TCPIP0::127.0.0.1::{port}::SOCKET"

    async def _start_one(self, iid: str, cfg: InstrumentLike) -> str:
        w, sim, opts = self.world, cfg.simulation, cfg.options
        if cfg.driver in ("fluke-scpi-well", "hart-classic"):
            kw = _kwargs(iid, sim, {"tau", "noise", "drift_per_hour", "control_offset", "stability_limit",
                                    "stability_hold", "linefeed", "reference_probe"})
            linefeed = bool(kw.pop("linefeed", True))            # a classic unit's lf=on|of
            reference = kw.pop("reference_probe", None)          # an SCPI well's process option
            well = ThermalBlock(self.clock, self._rng(), ambient=w.ambient.base_t, **kw)
            w.blocks[iid] = well
            if cfg.driver == "hart-classic":
                duplex = str(opts.get("duplex", "full")).lower().startswith("f")
                hart = HartClassicSim(well, duplex_full=duplex)
                hart.reply_termination = "\r\n" if linefeed else "\r"
                return await self._serve(iid, hart, "pty")
            probe = None
            if reference is not None:
                spec = _kwargs(f"{iid}.simulation.reference_probe", dict(reference), {"error", "noise"})
                probe = Probe(well, tuple(spec.get("error", (0.0,))), float(spec.get("noise", 0.001)), self._rng())
                w.probes[iid] = {1: probe}
            return await self._serve(iid, ScpiWellSim(well, min_set_point=float(opts.get("min_set_point", -25)),
                                                      max_set_point=float(opts.get("max_set_point", 150)),
                                                      reference_probe=probe), "pty")
        if cfg.driver == "fluke-1529":
            _kwargs(iid, sim, {"source", "channels", "serial", "unit", "sample_period"})
            source = sim.get("source")
            if source is not None and source not in w.blocks:
                raise SimulationConfigError(f"instruments.{iid}.simulation.source: no simulated heat source {source!r}")
            block = w.blocks.get(source) if source else None
            probes, serials, units = {}, {}, {}
            for ch, spec in (sim.get("channels") or {"1": {}}).items():
                spec = dict(spec)
                spec.pop("name", None)                              # a label for people; not on the wire
                serials[int(ch)] = str(spec.pop("serial", ""))      # the probe's serial number (CALC<n>:CONV:SNUM?)
                _kwargs(f"{iid}.simulation.channels.{ch}", spec, {"error", "noise", "unit", "stem"})
                if "unit" in spec:
                    units[int(ch)] = str(spec["unit"]).upper()       # "O": the channel reads its probe in ohms
                probes[int(ch)] = Probe(block, tuple(spec.get("error", (0.0,))), float(spec.get("noise", 0.001)),
                                        self._rng(), stem=float(spec.get("stem", 0.0)))
            w.probes[iid] = probes
            try:
                readout = Readout1529Sim(self.clock, probes, probe_serials=serials,
                                         unit=str(sim.get("unit", "C")).upper(),
                                         sample_period=float(sim.get("sample_period", 0.5)), **_identity(dict(sim)))
            except ValueError as exc:
                raise SimulationConfigError(f"instruments.{iid}.simulation.channels: {exc}") from None
            readout.channel_units = units
            return await self._serve(iid, readout, "pty")
        if cfg.driver == "mettler-sics":
            kw = _kwargs(iid, sim, {"capacity", "d", "repeatability", "linearity", "settle_tau", "settle_time", "unit",
                                    "eccentricity", "serial"})
            ident = _identity(kw)
            balance = BalanceModel(self.clock, self._rng(), **kw)
            w.balances[iid] = balance
            return await self._serve(iid, MtSicsBalanceSim(balance, **ident), "pty")
        if cfg.driver == "fluke-5520a":
            kw = _kwargs(iid, sim, {"gain_error", "offset_error", "settle_time", "serial", "mode"})
            ident = _identity(kw)
            mode = str(kw.pop("mode", "COMP")).upper()          # "TERM": the RS-232 port's factory default
            calibrator = CalibratorModel(self.clock, self._rng(), **kw)
            w.calibrators[iid] = calibrator
            return await self._serve(iid, Calibrator5520Sim(calibrator, mode=mode, **ident), "tcp")
        if cfg.driver == "keysight-344xx":
            kw = _kwargs(iid, sim, {"source", "gain_error", "offset_error", "noise", "serial"})
            ident = _identity(kw)
            source = kw.pop("source", None)
            if source is not None and source not in w.calibrators:
                raise SimulationConfigError(f"instruments.{iid}.simulation.source: no simulated calibrator {source!r}")
            multimeter = MultimeterModel(self._rng(), w.calibrators.get(source) if source else None, **kw)
            w.multimeters[iid] = multimeter
            return await self._serve(iid, Dmm344xxSim(multimeter, **ident), "tcp")
        if cfg.driver == "modbus-ambient":
            sim_server = ModbusAmbientSim(w.ambient, register_map=opts.get("register_map", "xy-md02"))
            self.servers[iid] = sim_server
            port = await sim_server.start()
            return f"modbus-tcp://127.0.0.1:{port}?unit=1"
        if cfg.driver in PLUGIN_SIMULATORS:
            # Another package's driver with its simulator (entry point group `labd.simulators`, docs/extending.md):
            # `make(simulation, world)` gives a line device, served over what the configured address names.
            try:
                device = PLUGIN_SIMULATORS[cfg.driver](dict(sim), w)
            except (TypeError, ValueError) as exc:
                raise SimulationConfigError(f"instruments.{iid}.simulation: {exc}") from None
            return await self._serve(iid, device, "pty")
        raise SimulationConfigError(f"instruments.{iid}: no simulator for driver {cfg.driver!r}")

    async def stop(self) -> None:
        for server in self.servers.values():
            with contextlib.suppress(Exception):
                await server.stop()
        self.servers.clear()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    async def __aenter__(self) -> "SimulatedLab":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

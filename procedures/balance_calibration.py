"""Calibration of a non-automatic weighing instrument with reference weights from the register.

Point 0 is the repeatability test, point 1 the eccentricity test, points 2… the test loads. The operator is
asked to place and remove the weights; each indication is read when the balance reports it stable, with the
zero indication before each loading on record. calc.balance turns the dataset into errors with uncertainties.
"""
from __future__ import annotations

from dataclasses import dataclass

from labd.calc.air import BOUND, air_density, air_density_uncertainty, buoyancy
from labd.calc.balance import BalanceResult, TestLoad, evaluate_balance
from labd.drivers import Balance

from .context import RecordedReading, RunContext
from .events import Event
from .params import param
from .results import ResultTable, budget_json, decimals_of, finite
from .item import ItemParameters
from .steps import check_loads, identified, item, record_ambient, standards_used

NAME = "balance-calibration"
VERSION = "1.1"
DESCRIPTION = "Calibration of a non-automatic weighing instrument: repeatability, eccentricity, errors of indication"


@dataclass(frozen=True)
class Parameters(ItemParameters):
    balance: str = param("balance", description="the balance instrument")
    weights: str = param("weights_e2", description="the weight set in the register")
    d: float = param(0.0001, unit="g", gt=0.0, le=100.0, description="scale interval of the balance")
    test_loads: tuple[float, ...] = param((20.0, 50.0, 100.0, 200.0), unit="g", gt=0.0, le=1e6, min_items=1, max_items=30, description="loads for the errors of indication")
    repetition_load: float = param(100.0, unit="g", gt=0.0, le=1e6, description="load of the repeatability test")
    repetitions: int = param(6, ge=2, le=100, description="loadings of the repeatability test")
    eccentricity_load: float = param(100.0, unit="g", gt=0.0, le=1e6, description="load of the eccentricity test (cg-18: at least Max/3)")
    positions: tuple[str, ...] = param(("centre", "front", "back", "left", "right"), min_items=2, max_items=9, choices=("centre", "front", "back", "left", "right", "front-left", "front-right", "back-left", "back-right"), description="eccentricity positions, starting at centre")
    weight_class: str = param("E2", choices=("E1", "E2", "F1", "F2"), description="OIML class of the weights, for their density limits (buoyancy)")
    air_pressure: float = param(1010.0, unit="hPa", ge=500.0, le=1200.0, description="air pressure at the bench (configured when not measured), for the air density")
    air_pressure_uncertainty: float = param(5.0, unit="hPa", ge=0.0, le=200.0, description="standard uncertainty of the air pressure")
    ambient_uncertainty: tuple[float, ...] = param((0.3, 3.0), min_items=2, max_items=2, ge=0.0, le=100.0, description="standard uncertainties of the ambient sensor's temperature (°C) and humidity (%RH)")
    convection_relative: float = param(0.0, ge=0.0, le=1e-3, description="relative half-width of convection (cg-18 7.1.2.3), declared for the weights' acclimatisation")
    uut_description: str = param("", description="the unit under test in words (else the procedure's generic name)", amendable=True)
    uut_description_id: str = param("", description="the unit under test in Indonesian, for Indonesian documents (else uut_description)", amendable=True)
    uut_serial: str = param("", description="serial number of the balance, if it does not report one", amendable=True)

    def claims(self, ctx: RunContext) -> dict[str, frozenset[int] | None]:
        return {self.balance: None}

    def validate(self, ctx: RunContext) -> None:
        self.check_declared()
        inst = ctx.instruments.get(self.balance)
        if inst is None or not isinstance(inst, Balance):
            raise ValueError(f"instrument {self.balance!r} is not a configured balance")
        if self.weights not in ctx.standards:
            raise ValueError(f"reference weights {self.weights!r} are not in the register")
        if self.repetitions < 2 or not self.test_loads or len(self.positions) < 2 or self.positions[0] != "centre":
            raise ValueError("need ≥ 2 repetitions, a test load, and the eccentricity positions starting at centre")
        check_loads(ctx, self.balance, {*self.test_loads, self.repetition_load, self.eccentricity_load})
        weights = ctx.standards[self.weights]
        weights.check_valid(ctx.today())
        for load in {*self.test_loads, self.repetition_load, self.eccentricity_load}:
            weights.compose(load)   # refuses a load the set cannot make


@dataclass
class Outcome:
    parameters: Parameters
    result: BalanceResult

    def table(self) -> ResultTable:
        rows = []
        for r in self.result.loads:
            e, U = r.reported()
            decimals = decimals_of(U)
            rows.append([f"{r.nominal:g}", f"{r.reference_mass:.{decimals + 1}f}", f"{r.indication:.{decimals}f}",
                         e, U, f"{r.budget.k:.2f}"])
        s, ecc = self.result.repeatability_sd, self.result.eccentricity_max
        return ResultTable(f"Errors of indication (repeatability s = {s:.5f} g, n = {self.result.repeatability_n}; "
                           f"eccentricity max {ecc:.5f} g at {self.result.eccentricity_load:g} g)",
                           ["load g", "reference g", "indication g", "error g", "U g", "k"], rows)

    def to_json(self) -> dict:
        return {"repeatability": {"sd": self.result.repeatability_sd, "n": self.result.repeatability_n},
                "eccentricity": {"max_deviation": self.result.eccentricity_max,
                                 "load": self.result.eccentricity_load},
                "loads": [{"nominal": r.nominal, "reference_mass": r.reference_mass, "indication": r.indication,
                           "error": r.error, "standard_uncertainty": r.budget.standard_uncertainty,
                           "dof": finite(r.budget.dof), "k": r.budget.k, "expanded_uncertainty": r.expanded_uncertainty,
                           "coverage": r.budget.coverage, "reported": dict(zip(("error", "expanded_uncertainty"),
                                                                               r.reported())),
                           "budget": budget_json(r.budget)} for r in self.result.loads],
                "weighing": self._weighing()}

    def _weighing(self) -> dict | None:
        """The uncertainty of a weighing result W over the range (cg-18 section 8), at each test load's reading."""
        w = self.result.weighing
        if w is None:
            return None
        return {"slope": w.slope, "slope_uncertainty": w.slope_uncertainty, "alpha": w.alpha, "beta": w.beta,
                "at": [{"reading": r.indication, "expanded_uncertainty": w.expanded(r.indication),
                        "global_expanded_uncertainty": w.global_expanded(r.indication)} for r in self.result.loads]}


def _reference(ctx: RunContext, p: Parameters, load: float) -> tuple[float, float, float, tuple[float, ...]]:
    """Conventional mass of the pieces making `load`, its standard uncertainty (pieces correlated: added
    linearly), the drift half-width (Σ U), and the pieces."""
    weights = ctx.standards[p.weights]
    pieces = weights.compose(load)
    table = {n: (c, U, k) for n, c, U, k in weights.points}
    mass = sum(n + table[n][0] for n in pieces)
    return mass, sum(table[n][1] / table[n][2] for n in pieces), sum(table[n][1] for n in pieces), pieces


async def _loading(ctx: RunContext, p: Parameters, balance, point: int, load: float, label: str,
                   position: str | None = None) -> tuple[float, float]:
    """Zero indication, place the load, read it stable, remove it: one loading. A loading during which the
    room went out of limits is kept on record, not used, and done again. Returns the zero and the indication."""
    mass, _, _, pieces = _reference(ctx, p, load)
    where = f" at the {position}" if position else ""
    while True:
        await ctx.checkpoint()
        zero = await balance.weigh(stable=True)
        t_zero = ctx.clock.now()
        await ctx.ask(f"load_{point}_{label}", f"Place {' + '.join(f'{w:g} g' for w in pieces)} on the pan{where} "
                                              f"({label}). Type 'done' when placed.",
                      action={"do": "load", "balance": p.balance, "mass": mass, "position": position})
        reading = await balance.weigh(stable=True)
        t_load = ctx.clock.now()
        await ctx.ask(f"unload_{point}_{label}", "Remove the weights from the pan. Type 'done' when removed.",
                      action={"do": "unload", "balance": p.balance})
        if await ctx.keep(*(RecordedReading(t, p.balance, "mass", r.value, r.unit, r.raw, None, point, role, note=label)
                            for r, t, role in ((zero, t_zero, "zero"), (reading, t_load, "unit under test")))):
            return zero.value, reading.value


async def run(ctx: RunContext, p: Parameters) -> Outcome:
    standards_used(ctx, p.weights)
    balance = ctx.instrument(p.balance, Balance)
    total = p.repetitions + len(p.positions) + len(p.test_loads)
    done = 0

    def step(label: str) -> None:
        nonlocal done
        done += 1
        ctx.progress(Event.STEP, {"done": done, "of": total, "label": label})
    async with ctx.safe({p.balance: balance}):
        await balance.open()
        found = await identified(ctx, [], balance=p.balance)
        serial = await item(ctx, found["balance"], p.uut_serial)
        await ctx.ask("prepare", f"Level the balance {serial}, let it warm up, and clean the pan. "
                                 "Type 'done' when ready.")
        await balance.zero()
        saved = ctx.resumed(0)
        if saved is None:
            rep = [(await _loading(ctx, p, balance, 0, p.repetition_load, f"repetition {i + 1}"))[1] for i in
                   range(p.repetitions)]
            await ctx.complete(0, {"values": rep})
            await record_ambient(ctx, 0)
        rep = ctx.saved(0)["values"]
        done = p.repetitions
        ctx.progress(Event.STEP, {"done": done, "of": total, "label": "repeatability done"})
        if ctx.resumed(1) is None:
            ecc = []
            for pos in p.positions:
                ecc.append((await _loading(ctx, p, balance, 1, p.eccentricity_load, pos, position=pos))[1])
                step(f"eccentricity: {pos}")
            await ctx.complete(1, {"values": ecc})
        ecc = ctx.saved(1)["values"]
        loads = []
        for i, load in enumerate(p.test_loads):
            point = 2 + i
            if ctx.resumed(point) is None:
                zero, indication = await _loading(ctx, p, balance, point, load, f"{load:g} g")
                await ctx.complete(point, {"indication": indication, "zero": zero})
                step(f"test load {load:g} g")
            mass, u, drift, _ = _reference(ctx, p, load)
            saved = ctx.saved(point)
            loads.append(TestLoad(load, mass, u, drift, saved["indication"], saved.get("zero", 0.0)))
        await record_ambient(ctx, None)
    u_rel, source = _buoyancy(ctx, p)
    result = evaluate_balance(rep, ecc, p.eccentricity_load, loads, p.d, u_rel,
                              convection_relative=p.convection_relative, buoyancy_source=source)
    return Outcome(p, result)


def _buoyancy(ctx: RunContext, p: Parameters) -> tuple[float, str]:
    """The relative standard uncertainty of the buoyancy correction, from the air density of the room during
    the run (CIPM-2007: the ambient sensor's temperature and humidity, the configured pressure) and the
    weights' density class; the documented bound when the room was not measured."""
    ambient = [r for r in ctx.readings if r.role == "ambient"]
    t = [r.value for r in ambient if r.quantity == "temperature"]
    h = [r.value / (100 if "%" in r.unit else 1) for r in ambient if r.quantity == "humidity"]
    smallest = min(min(ctx.standards[p.weights].compose(x)) for x in p.test_loads)
    if t and h:
        t_mean, h_mean = sum(t) / len(t), sum(h) / len(h)
        rho = air_density(t_mean, h_mean, p.air_pressure * 100)
        u_rho = air_density_uncertainty(t_mean, h_mean, p.air_pressure * 100, p.ambient_uncertainty[0],
                                        p.ambient_uncertainty[1] / 100, p.air_pressure_uncertainty * 100)
        how = (f"air density {rho:.4f} kg/m³ (CIPM-2007, {t_mean:.1f} °C, {h_mean * 100:.0f} %RH, "
               f"{p.air_pressure:g} hPa), weights of class {p.weight_class}")
    else:
        rho, u_rho = BOUND
        how = f"air density within ±10 % of 1.2 kg/m³ (not measured), weights of class {p.weight_class}"
    return buoyancy(rho, u_rho, p.weight_class, smallest)[1], how

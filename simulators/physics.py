"""Physical models behind the simulators. Each is evaluated lazily at the simulated time of a query.

- ThermalBlock: first-order response to its set point (time constant), control-sensor offset, noise, drift,
  and stability once the block has stayed inside the limit for a hold time.
- Probe: a thermometer in a block, with its own error curve (the "true error" a calibration should find).
- BalanceModel: load on the pan, exponential settling, repeatability, linearity error, overload.
- CalibratorModel: programmed output, operate/standby, output error within specification, settling.
- MultimeterModel: measures what it is wired to, with gain and offset errors.
- AmbientModel: room temperature and humidity that wander slowly; can be forced out of limits.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .clock import SimClock


def poly(coefficients: Sequence[float], x: float) -> float:
    return sum(c * x**i for i, c in enumerate(coefficients))


class ThermalBlock:
    def __init__(self, clock: SimClock, rng: np.random.Generator, *, ambient: float = 23.0, tau: float = 240.0,
                 noise: float = 0.002, drift_per_hour: float = 0.0, control_offset: float = 0.0,
                 stability_limit: float = 0.05, stability_hold: float = 60.0, output_on: bool = False) -> None:
        self.clock, self.rng = clock, rng
        self.ambient, self.tau, self.noise = ambient, tau, noise
        self.drift = drift_per_hour / 3600.0
        self.control_offset = control_offset
        self.stability_limit, self.stability_hold = stability_limit, stability_hold
        self.set_point = ambient
        self.output_on = output_on
        self._t_start = self._t0 = clock.now()
        self._T0 = ambient

    @property
    def target(self) -> float:
        return self.set_point if self.output_on else self.ambient

    def true_temperature(self, t: float | None = None) -> float:
        t = self.clock.now() if t is None else t
        transient = (self._T0 - self.target) * math.exp(-(t - self._t0) / self.tau)
        return self.target + transient + self.drift * (t - self._t_start)

    def _restart(self) -> None:
        now = self.clock.now()
        self._T0 = self.true_temperature(now) - self.drift * (now - self._t_start)
        self._t0 = now

    def set(self, set_point: float) -> None:
        self._restart()
        self.set_point = set_point

    def output(self, on: bool) -> None:
        self._restart()
        self.output_on = on

    def control_reading(self) -> float:
        return self.true_temperature() + self.control_offset + self.rng.normal(0.0, self.noise)

    def is_stable(self) -> bool:
        if not self.output_on:
            return False
        deviation0 = abs(self._T0 - self.target)
        entered = self._t0 if deviation0 <= self.stability_limit else \
            self._t0 + self.tau * math.log(deviation0 / self.stability_limit)
        return self.clock.now() - entered >= self.stability_hold


@dataclass
class Probe:
    block: ThermalBlock | None
    error: Sequence[float] = (0.0,)   # polynomial in the true temperature, °C
    noise: float = 0.001
    rng: np.random.Generator = field(default_factory=np.random.default_rng)
    # Stem conduction: a probe withdrawn from full immersion reads nearer the room, by `stem` per mm withdrawn
    # per °C between the block and the room (a linear model of the first millimetres, as an immersion test sees).
    stem: float = 0.0
    withdrawn: float = 0.0            # mm out of full immersion (the simulated technician moves it)

    def true_error(self, temperature: float) -> float:
        return poly(self.error, temperature)

    def immersion_error(self, temperature: float) -> float:
        ambient = self.block.ambient if self.block is not None else 23.0
        return -self.stem * self.withdrawn * (temperature - ambient)

    def reading(self) -> float:
        t = self.block.true_temperature() if self.block is not None else 23.0
        return t + self.true_error(t) + self.immersion_error(t) + self.rng.normal(0.0, self.noise)


class BalanceModel:
    def __init__(self, clock: SimClock, rng: np.random.Generator, *, capacity: float = 220.0, d: float = 0.0001,
                 repeatability: float = 0.0001, linearity: Sequence[float] = (0.0,), settle_tau: float = 0.5,
                 settle_time: float = 3.0, unit: str = "g", eccentricity: float = 0.0) -> None:
        self.clock, self.rng = clock, rng
        self.eccentricity = eccentricity     # relative error of a load placed at the pan's edge
        self.capacity, self.d, self.repeatability = capacity, d, repeatability
        self.linearity, self.settle_tau, self.settle_time, self.unit = linearity, settle_tau, settle_time, unit
        self.load = 0.0
        self.zero_offset = 0.0
        self.tare_value = 0.0
        self._previous = 0.0
        self._t_change = clock.now() - 1e6

    # Where an off-centre load is put and how much of the edge error it sees (front/back, left/right differ).
    POSITIONS = {"centre": 0.0, "front": 1.0, "back": -1.0, "left": 0.5, "right": -0.5}

    def place(self, mass: float, position: str | None = None) -> None:
        """Put `mass` on the pan (adds to what is there); off centre, the load cell sees it slightly wrong."""
        factor = self.POSITIONS.get(position or "centre", 0.0)
        self._change(self.load + mass * (1.0 + self.eccentricity * factor))

    def remove_all(self) -> None:
        self._change(0.0)

    def _change(self, load: float) -> None:
        self._previous = self.gross()
        self.load = load
        self._t_change = self.clock.now()

    def _transient(self) -> float:
        dt = self.clock.now() - self._t_change
        return (self._previous - self._settled()) * math.exp(-max(dt, 0.0) / self.settle_tau)

    def _settled(self) -> float:
        return self.load + poly(self.linearity, self.load)

    def gross(self) -> float:
        """What the load cell sees now, settling exponentially after a change."""
        return self._settled() + self._transient()

    def stable(self) -> bool:
        """Stable once a minimum time has passed and the transient is below half a scale interval."""
        return self.clock.now() - self._t_change >= self.settle_time and abs(self._transient()) < self.d / 2

    def overloaded(self) -> bool:
        return self.load > self.capacity + 9 * self.d

    def underloaded(self) -> bool:
        return self.load - self.zero_offset < -self.capacity * 0.01 - 9 * self.d

    def net(self) -> float:
        value = self.gross() - self.zero_offset - self.tare_value + self.rng.normal(0.0, self.repeatability)
        return round(value / self.d) * self.d

    def zero(self) -> None:
        self.zero_offset = self.gross()
        self.tare_value = 0.0

    def tare(self) -> float:
        self.tare_value = self.gross() - self.zero_offset
        return self.tare_value


class CalibratorModel:
    """Output error: gain and offset per unit, drawn once within the specification and kept (the true error)."""

    def __init__(self, clock: SimClock, rng: np.random.Generator, *, gain_error: dict[str, float] | None = None,
                 offset_error: dict[str, float] | None = None, settle_time: float = 0.5) -> None:
        self.clock, self.rng = clock, rng
        self.gain_error = {"V": 4e-6, "A": 2e-5, "OHM": 1e-5} | (gain_error or {})
        self.offset_error = {"V": 1e-6, "A": 1e-8, "OHM": 1e-3} | (offset_error or {})
        self.settle_time = settle_time
        self.value, self.unit, self.frequency = 0.0, "V", 0.0
        self.operating = False
        self._t_change = clock.now()

    def program(self, value: float, unit: str, frequency: float) -> None:
        self.value, self.unit, self.frequency = value, unit, frequency
        self._t_change = self.clock.now()

    def operate(self, on: bool) -> None:
        self.operating = on
        self._t_change = self.clock.now()

    def settled(self) -> bool:
        return self.operating and self.clock.now() - self._t_change >= self.settle_time

    def actual_output(self) -> tuple[float, str]:
        if not self.operating:
            return 0.0, self.unit
        return self.value * (1 + self.gain_error.get(self.unit, 0.0)) + self.offset_error.get(self.unit, 0.0), self.unit


class MultimeterModel:
    def __init__(self, rng: np.random.Generator, source: CalibratorModel | None, *, gain_error: float = 8e-6,
                 offset_error: float = 2e-6, noise: float = 1e-6) -> None:
        self.rng, self.source = rng, source
        self.gain_error, self.offset_error, self.noise = gain_error, offset_error, noise

    def true_error(self, value: float) -> float:
        return value * self.gain_error + self.offset_error

    def measure(self, unit: str) -> float:
        value = 0.0
        if self.source is not None:
            out, out_unit = self.source.actual_output()
            value = out if out_unit == unit else 0.0
        return value + self.true_error(value) + self.rng.normal(0.0, self.noise * max(1.0, abs(value)))


class AmbientModel:
    """Slow daily swing plus an Ornstein–Uhlenbeck wander; `force()` pins a value (for gating tests)."""

    def __init__(self, clock: SimClock, rng: np.random.Generator, *, temperature: float = 23.0,
                 humidity: float = 50.0, swing: float = 0.4, wander: float = 0.1) -> None:
        self.clock, self.rng = clock, rng
        self.base_t, self.base_h, self.swing, self.wander = temperature, humidity, swing, wander
        self._ou_t = 0.0
        self._ou_h = 0.0
        self._last = clock.now()
        self.forced: dict[str, float] = {}

    def _step(self) -> None:
        now = self.clock.now()
        dt = max(now - self._last, 0.0)
        self._last = now
        decay = math.exp(-dt / 1800.0)
        spread = math.sqrt(max(1 - decay * decay, 0.0))
        self._ou_t = self._ou_t * decay + self.wander * spread * self.rng.normal()
        self._ou_h = self._ou_h * decay + 5 * self.wander * spread * self.rng.normal()

    def force(self, **values: float | None) -> None:
        for key, value in values.items():
            if value is None:
                self.forced.pop(key, None)
            else:
                self.forced[key] = value

    def temperature(self) -> float:
        self._step()
        if "temperature" in self.forced:
            return self.forced["temperature"]
        day = 2 * math.pi * (self.clock.now() % 86400) / 86400
        return self.base_t + self.swing * math.sin(day) + self._ou_t

    def humidity(self) -> float:
        self._step()
        if "humidity" in self.forced:
            return self.forced["humidity"]
        return min(max(self.base_h + self._ou_h, 0.0), 100.0)

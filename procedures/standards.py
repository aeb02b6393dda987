"""The reference-standards register: due dates, and certificate corrections interpolated with their uncertainty."""
from __future__ import annotations

from collections.abc import Mapping

from dataclasses import dataclass
from datetime import date

import numpy as np

from labd.calc.fit import interpolate_table


class StandardError(Exception):
    """A standard that may not be used: expired, or asked for a point outside its certificate."""


class NotTheStandard(StandardError):
    """The instrument reports another serial than the one the standard's certificate is for: the run is refused
    before anything moves (ISO/IEC 17025 6.4.8: the equipment used is the equipment calibrated)."""


@dataclass(frozen=True)
class Correction:
    value: float
    standard_uncertainty: float   # of the certificate value at this point (U/k of the bracketing points, the larger)
    certificate: str


@dataclass(frozen=True)
class Standard:
    id: str
    description: str
    serial_number: str
    certificate: str
    calibrated: date
    due: date
    unit: str
    points: tuple[tuple[float, float, float, float], ...]   # (nominal, correction, U, k)
    drift_allowance: float = 0.0
    resolution: float = 0.0
    instrument: str | None = None       # the instrument that reads it, and on which channel
    channel: int | None = None
    issued_by: str = ""
    readout_serial: str | None = None
    description_id: str = ""
    specification: tuple[tuple[float, float, float], ...] = ()     # (up_to, relative, floor) per range
    specification_source: str = ""
    temperature_coefficient: float = 0.0
    specified_temperature: tuple[float, float] = (18.0, 28.0)

    @property
    def reported_serial(self) -> str | None:
        """The serial its instrument must report: its own when the standard is the instrument (a calibrator),
        the readout's when the certificate covers probe and readout; None when nothing can be checked."""
        if self.instrument is None:
            return None
        return self.readout_serial if self.channel is not None else self.serial_number

    @classmethod
    def from_config(cls, id: str, cfg) -> "Standard":
        return cls(id, cfg.description, cfg.serial_number, cfg.certificate, cfg.calibrated, cfg.due, cfg.unit,
                   tuple((p.nominal, p.correction, p.expanded_uncertainty, p.k) for p in cfg.corrections),
                   cfg.drift_allowance, cfg.resolution, cfg.instrument, cfg.channel, cfg.issued_by,
                   cfg.readout_serial, cfg.description_id,
                   tuple((b.up_to, b.relative, b.floor) for b in cfg.specification), cfg.specification_source,
                   cfg.temperature_coefficient, tuple(cfg.specified_temperature))

    def check_valid(self, on: date) -> None:
        if on > self.due:
            raise StandardError(f"standard {self.id} ({self.serial_number}) is past its due date {self.due} "
                                f"(certificate {self.certificate}); recalibrate it or choose another standard")

    @property
    def range(self) -> tuple[float, float]:
        return self.points[0][0], self.points[-1][0]

    def correction(self, at: float) -> Correction:
        """Linear interpolation between certificate points; outside the certificate's range is refused."""
        low, high = self.range
        if not low <= at <= high:
            raise StandardError(f"{at:g} {self.unit} is outside the range of certificate {self.certificate} of "
                                f"standard {self.id} ({low:g} … {high:g} {self.unit})")
        value, u = interpolate_table([p[0] for p in self.points], [p[1] for p in self.points],
                                     [U / k for _, _, U, k in self.points], at)
        return Correction(value, u, self.certificate)

    def range_of(self, at: float) -> int | None:
        """The index of the specification range holding |at| (None without a specification, or above it)."""
        return next((i for i, (top, _, _) in enumerate(self.specification) if abs(at) <= top), None)

    def specified(self, at: float) -> float:
        """The specification's half-width at `at`: relative · |at| + floor of its range."""
        i = self.range_of(at)
        if i is None:
            raise StandardError(f"{at:g} {self.unit} is outside the specification of standard {self.id}")
        _, relative, floor = self.specification[i]
        return relative * abs(at) + floor

    def on_range(self, at: float) -> tuple[Correction, float] | None:
        """The certificate's correction at `at` from points on the same range only (a source's ranges are
        separate circuits: interpolating across them would mix two calibrations), or None when the certificate
        has no point there or only one point that is not `at`. With the half-width of the interpolation."""
        i = self.range_of(at)
        same = [p for p in self.points if self.range_of(p[0]) == i and (p[0] >= 0) == (at >= 0)]
        exact = [p for p in same if abs(p[0] - at) <= 1e-12 * max(1.0, abs(at))]
        if exact:
            n, c, U, k = exact[0]
            return Correction(c, U / k, self.certificate), 0.0
        below = [p for p in same if p[0] < at]
        above = [p for p in same if p[0] > at]
        if not below or not above:
            return None
        (n1, c1, U1, k1), (n2, c2, U2, k2) = below[-1], above[0]
        f = (at - n1) / (n2 - n1)
        # Between two points of one range the correction is interpolated; half their difference is the
        # half-width (rectangular) of what a straight line may miss.
        return Correction(c1 + f * (c2 - c1), max(U1 / k1, U2 / k2), self.certificate), abs(c2 - c1) / 2

    def interpolation(self, at: float) -> float:
        """Half-width of the interpolation between certificate points: the linear value against the quadratic
        through the three nearest points (0 at a certificate point, or with fewer than three points)."""
        ts = [p[0] for p in self.points]
        if len(ts) < 3 or any(abs(at - t) <= 1e-9 * max(1.0, abs(t)) for t in ts):
            return 0.0
        nearest = sorted(range(len(ts)), key=lambda i: abs(ts[i] - at))[:3]
        xs, cs = [ts[i] for i in nearest], [self.points[i][1] for i in nearest]
        quadratic = float(np.polyval(np.polyfit(xs, cs, 2), at))
        difference = abs(quadratic - self.correction(at).value)
        # collinear points leave only rounding noise (1e-18): that is no curvature
        return 0.0 if difference <= 1e-9 * max(abs(c) for c in cs) + 1e-15 else difference

    def piece(self, nominal: float) -> Correction:
        """The certificate value of one piece of a set (a weight): exact nominal only, never interpolated."""
        for n, c, U, k in self.points:
            if abs(n - nominal) <= 1e-9 * max(1.0, abs(n)):
                return Correction(c, U / k, self.certificate)
        raise StandardError(f"standard {self.id} ({self.certificate}) has no {nominal:g} {self.unit} piece; "
                            f"pieces: {', '.join(f'{p[0]:g}' for p in self.points)}")

    def compose(self, load: float) -> tuple[float, ...]:
        """The pieces making up `load`, largest first (each piece used once), or StandardError."""
        remaining, chosen = load, []
        for n in sorted((p[0] for p in self.points), reverse=True):
            if n <= remaining + 1e-9:
                chosen.append(n)
                remaining -= n
        if abs(remaining) > 1e-9 or not chosen:
            raise StandardError(f"{load:g} {self.unit} cannot be made from the pieces of standard {self.id} "
                                f"({', '.join(f'{p[0]:g}' for p in self.points)} {self.unit})")
        return tuple(chosen)


@dataclass(frozen=True)
class Characterisation:
    """A heat source's characterisation (EURAMET cg-13): half-widths at temperatures, interpolated linearly and
    never extrapolated (a set point outside it is refused before anything moves)."""
    source: str
    report: str
    characterised: date
    points: tuple[tuple[float, float, float, float, float], ...]   # (t, axial, radial, stability, loading)

    def at(self, t: float) -> tuple[float, float, float, float]:
        ts = [p[0] for p in self.points]
        if not ts[0] <= t <= ts[-1]:
            raise StandardError(f"{t:g} °C is outside the characterisation {self.report} of {self.source} "
                                f"({ts[0]:g} … {ts[-1]:g} °C): characterise the source there first")
        return tuple(float(np.interp(t, ts, [p[j] for p in self.points])) for j in range(1, 5))  # type: ignore


class Register(dict):
    """The standards by id, and the heat sources' characterisations by instrument id."""

    def __init__(self, standards: Mapping[str, Standard], sources: Mapping[str, Characterisation] | None = None):
        super().__init__(standards)
        self.sources: dict[str, Characterisation] = dict(sources or {})


def characterisation(standards: Mapping[str, Standard], source: str) -> Characterisation | None:
    return getattr(standards, "sources", {}).get(source)


def read_by(standards: Mapping[str, Standard], instrument: str, channel: int | None) -> str | None:
    """The standard the register says this instrument reads on this channel, if any."""
    for sid, std in standards.items():
        if std.instrument == instrument and (std.channel is None or std.channel == channel):
            return sid
    return None


def register(config_standards: dict, config_sources: dict | None = None) -> Register:
    return Register({sid: Standard.from_config(sid, cfg) for sid, cfg in config_standards.items()},
                    {sid: Characterisation(sid, c.report, c.characterised,
                                           tuple((p.t, p.axial, p.radial, p.stability, p.loading) for p in c.points))
                     for sid, c in (config_sources or {}).items()})

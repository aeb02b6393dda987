"""The reference-standards register: due dates, and certificate corrections interpolated with their uncertainty."""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date


class StandardError(Exception):
    """A standard that may not be used: expired, or asked for a point outside its certificate."""


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

    @classmethod
    def from_config(cls, id: str, cfg) -> "Standard":
        return cls(id, cfg.description, cfg.serial_number, cfg.certificate, cfg.calibrated, cfg.due, cfg.unit,
                   tuple((p.nominal, p.correction, p.expanded_uncertainty, p.k) for p in cfg.corrections),
                   cfg.drift_allowance, cfg.resolution)

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
        nominals = [p[0] for p in self.points]
        i = bisect.bisect_left(nominals, at)
        if nominals[i] == at:
            n, c, U, k = self.points[i]
            return Correction(c, U / k, self.certificate)
        (n0, c0, U0, k0), (n1, c1, U1, k1) = self.points[i - 1], self.points[i]
        frac = (at - n0) / (n1 - n0)
        return Correction(c0 + frac * (c1 - c0), max(U0 / k0, U1 / k1), self.certificate)


def register(config_standards: dict) -> dict[str, Standard]:
    return {sid: Standard.from_config(sid, cfg) for sid, cfg in config_standards.items()}

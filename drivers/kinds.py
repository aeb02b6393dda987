"""Kind-level interfaces. Procedures are written against these, never against a model."""
from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from typing import ClassVar, Protocol, runtime_checkable


@dataclass(frozen=True)
class Reading:
    """One value read from an instrument, as the instrument gave it (no correction applied)."""
    quantity: str            # "mass", "temperature", "voltage", "humidity", ...
    value: float
    unit: str
    stable: bool | None = None   # the instrument's own stability flag, where it has one
    channel: int | None = None
    raw: str = ""


@dataclass(frozen=True)
class ProbeInfo:
    channel: int
    name: str
    calibration_date: date | None = None
    extra: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class Instrument(Protocol):
    id: str
    kind: ClassVar[str]

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def identify(self) -> str: ...
    async def sample(self) -> list[Reading]:
        """The instrument's live values, for monitoring (one reading per quantity)."""
        ...
    async def safe_state(self) -> None:
        """Bring the instrument to a state that is safe to leave unattended."""
        ...


@runtime_checkable
class Balance(Instrument, Protocol):
    async def weigh(self, stable: bool = True) -> Reading: ...
    async def zero(self) -> None: ...
    async def tare(self) -> Reading: ...
    async def cancel(self) -> None: ...
    def stream(self) -> AsyncIterator[Reading]: ...


@runtime_checkable
class ThermometerReadout(Instrument, Protocol):
    async def read(self, channel: int | None = None) -> Reading: ...
    async def probe(self, channel: int) -> ProbeInfo: ...


@runtime_checkable
class TemperatureSource(Instrument, Protocol):
    async def set_point(self, value: float) -> None: ...
    async def get_set_point(self) -> float: ...
    async def temperature(self) -> Reading: ...
    async def is_stable(self) -> bool | None:
        """The source's own stability flag; None when the model has none."""
        ...
    async def output(self, on: bool) -> None: ...


@runtime_checkable
class MultifunctionCalibrator(Instrument, Protocol):
    async def source(self, value: float, unit: str, frequency: float | None = None) -> None: ...
    async def operate(self) -> None: ...
    async def standby(self) -> None: ...
    async def wait_settled(self, timeout: float = 30.0) -> None: ...
    async def errors(self) -> list[str]: ...


@runtime_checkable
class Multimeter(Instrument, Protocol):
    async def configure(self, function: str, range: float | None = None, nplc: float | None = None) -> None: ...
    async def read(self) -> Reading: ...


@runtime_checkable
class AmbientSensor(Instrument, Protocol):
    async def read(self) -> list[Reading]: ...

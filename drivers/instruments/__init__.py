"""Instrument drivers, one module per model family, and the registry config names them by (labd's own, and
those other packages register under the `labd.drivers` entry point group)."""
from typing import Any

from labd.plugins import Registry

from .base import Driver
from .fluke_1529 import Fluke1529Readout
from .fluke_5520a import Fluke5520Calibrator
from .keysight_344xx import Keysight344xxMultimeter
from .mettler_sics import MettlerSicsBalance
from .modbus_ambient import ModbusAmbientSensor
from .temperature_sources import FlukeScpiWell, HartClassicSource

BUILT_IN: dict[str, type[Driver]] = {
    "mettler-sics": MettlerSicsBalance,
    "fluke-1529": Fluke1529Readout,
    "fluke-scpi-well": FlukeScpiWell,
    "hart-classic": HartClassicSource,
    "fluke-5520a": Fluke5520Calibrator,
    "keysight-344xx": Keysight344xxMultimeter,
    "modbus-ambient": ModbusAmbientSensor,
}


def _accept(name: str, obj: Any) -> type[Driver]:
    if not (isinstance(obj, type) and issubclass(obj, Driver)):
        raise TypeError(f"{obj!r} is not a subclass of labd.drivers.Driver")
    for attr in ("kind", "model"):
        if not isinstance(getattr(obj, attr, None), str):
            raise TypeError(f"{obj.__name__} does not declare its {attr}")
    return obj


DRIVERS: Registry[type[Driver]] = Registry("labd.drivers", BUILT_IN, _accept)

__all__ = ["BUILT_IN", "DRIVERS", "Fluke1529Readout", "Fluke5520Calibrator", "FlukeScpiWell", "HartClassicSource",
           "Keysight344xxMultimeter", "MettlerSicsBalance", "ModbusAmbientSensor"]

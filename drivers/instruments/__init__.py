"""Instrument drivers, one module per model family, and the registry config names them by."""
from .fluke_1529 import Fluke1529Readout
from .fluke_5520a import Fluke5520Calibrator
from .keysight_344xx import Keysight344xxMultimeter
from .mettler_sics import MettlerSicsBalance
from .modbus_ambient import ModbusAmbientSensor
from .temperature_sources import FlukeScpiWell, HartClassicSource

DRIVERS = {
    "mettler-sics": MettlerSicsBalance,
    "fluke-1529": Fluke1529Readout,
    "fluke-scpi-well": FlukeScpiWell,
    "hart-classic": HartClassicSource,
    "fluke-5520a": Fluke5520Calibrator,
    "keysight-344xx": Keysight344xxMultimeter,
    "modbus-ambient": ModbusAmbientSensor,
}

__all__ = ["DRIVERS", "Fluke1529Readout", "Fluke5520Calibrator", "FlukeScpiWell", "HartClassicSource",
           "Keysight344xxMultimeter", "MettlerSicsBalance", "ModbusAmbientSensor"]

"""Units at the boundary between an instrument and a budget: every reading carries the unit its instrument
gave, and a procedure takes it in the unit its budget expects, converting what converts exactly and refusing
the rest (issue 16, item 5). A conversion is recorded with the reading (its note), so the record shows what
the instrument said and what the calculation used.

Temperature is the case that arises (a readout channel left in °F or K); the conversions are exact by
definition (ITS-90 in kelvin, t/°C = T/K − 273.15; t/°F = 1.8 t/°C + 32), so a table serves better than a
units library here.
"""
from __future__ import annotations

from dataclasses import replace

from labd.drivers import Reading

_TO_CELSIUS = {"°C": lambda v: v, "C": lambda v: v, "K": lambda v: v - 273.15, "°F": lambda v: (v - 32) / 1.8,
               "F": lambda v: (v - 32) / 1.8}


class UnitError(ValueError):
    """A reading in a unit the procedure's budget cannot take."""


def celsius(reading: Reading, where: str) -> tuple[Reading, str]:
    """The reading in °C (its raw text kept) and a note saying what was converted ("" when it was in °C).
    Refuses (UnitError, naming `where` and the unit) a reading that is not a temperature: a channel in Ω or V
    would otherwise have a °C correction added to it."""
    convert = _TO_CELSIUS.get(reading.unit)
    if convert is None:
        raise UnitError(f"{where} reads in {reading.unit or 'no unit'} ({reading.quantity}), but this budget is in "
                        f"°C: set the channel to temperature (°C, K or °F) and start again")
    if reading.unit in ("°C", "C"):
        return reading, ""
    converted = replace(reading, value=convert(reading.value), unit="°C", quantity="temperature")
    return converted, f"read as {reading.value:.6g} {reading.unit}, converted to °C"

"""The lab's procedures and the run context they are written against."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from . import thermometer_calibration
from .context import RecordedReading, RunContext
from .standards import Standard, StandardError, register


@dataclass(frozen=True)
class ProcedureInfo:
    name: str
    version: str
    description: str
    module: Any

    @property
    def parameters(self) -> type:
        return self.module.Parameters


PROCEDURES = {
    thermometer_calibration.NAME: ProcedureInfo(thermometer_calibration.NAME, thermometer_calibration.VERSION,
                                                "Thermometer calibration by comparison in a dry-block or bath",
                                                thermometer_calibration),
}


def parse_parameters(info: ProcedureInfo, values: dict[str, str]) -> Any:
    """`key=value` strings → the procedure's typed parameters; unknown keys and bad values are named."""
    fields = {f.name: f for f in dataclasses.fields(info.parameters)}
    kwargs: dict[str, Any] = {}
    for key, text in values.items():
        if key not in fields:
            raise ValueError(f"unknown parameter {key!r} for {info.name}; known: {', '.join(fields)}")
        default = fields[key].default
        try:
            if isinstance(default, tuple):
                kwargs[key] = tuple(float(v) for v in text.split(",") if v.strip())
            elif isinstance(default, bool):
                kwargs[key] = text.lower() in ("1", "true", "yes", "on")
            elif isinstance(default, int):
                kwargs[key] = int(text)
            elif isinstance(default, float):
                kwargs[key] = float(text)
            elif isinstance(default, str):
                kwargs[key] = text
            else:
                raise ValueError("cannot be set from the command line")
        except ValueError as exc:
            raise ValueError(f"parameter {key}={text!r}: {exc}") from None
    return info.parameters(**kwargs)


__all__ = ["PROCEDURES", "ProcedureInfo", "RecordedReading", "RunContext", "Standard", "StandardError",
           "parse_parameters", "register"]

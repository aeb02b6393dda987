"""The lab's procedures and the run context they are written against.

A procedure is a module with NAME, VERSION, DESCRIPTION, a frozen dataclass `Parameters` (validated before any
instrument is touched) and `async def run(ctx, params) -> Outcome`, where the outcome offers `table()` and
`to_json()` (procedures/results.py) and, for checks that accumulate across runs, `series`. Other packages add
procedures under the `labd.procedures` entry point group (docs/extending.md).
"""
from __future__ import annotations

from dataclasses import dataclass
import dataclasses
from typing import Any

from labd.plugins import Registry

from . import (balance_calibration, dmm_calibration, equipment_check, solution_standardisation, stability_run,
               thermometer_calibration, working_standard_check)
from .context import Prompt, RecordedReading, RunContext
from .params import build
from .standards import NotTheStandard, Standard, StandardError, register


@dataclass(frozen=True)
class ProcedureInfo:
    name: str
    version: str
    description: str
    module: Any

    @property
    def parameters(self) -> type:
        return self.module.Parameters


def _info(module: Any) -> ProcedureInfo:
    return ProcedureInfo(module.NAME, module.VERSION, module.DESCRIPTION, module)


def _accept(name: str, module: Any) -> ProcedureInfo:
    missing = [a for a in ("NAME", "VERSION", "DESCRIPTION", "Parameters", "run") if not hasattr(module, a)]
    if missing:
        raise TypeError(f"{getattr(module, '__name__', module)!r} lacks {', '.join(missing)}")
    if module.NAME != name:
        raise ValueError(f"registered as {name!r} but its NAME is {module.NAME!r}")
    if not dataclasses.is_dataclass(module.Parameters):
        raise TypeError("its Parameters is not a dataclass")
    return _info(module)


PROCEDURES: Registry[ProcedureInfo] = Registry("labd.procedures", {info.name: info for info in map(_info, [
    thermometer_calibration, balance_calibration, dmm_calibration, working_standard_check, equipment_check,
    stability_run, solution_standardisation])}, _accept)


def parse_parameters(info: ProcedureInfo, values: dict[str, Any]) -> Any:
    """`key=value` strings or JSON values → the procedure's typed parameters; unknown keys and bad values named."""
    return build(info.parameters, values)


__all__ = ["NotTheStandard", "PROCEDURES", "ProcedureInfo", "Prompt", "RecordedReading", "RunContext", "Standard", "StandardError",
           "parse_parameters", "register"]

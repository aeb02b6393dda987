"""The calc input files (TOML), validated with pydantic; every problem names the file and the key at fault."""
from __future__ import annotations

import math
import tomllib
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class CalcFileError(ValueError):
    def __init__(self, file: Path | str, key: str, reason: str) -> None:
        self.file, self.key, self.reason = str(file), key, reason
        super().__init__(f"{file}: {key}: {reason}" if key else f"{file}: {reason}")


class _Strict(BaseModel):
    # nan and inf are valid TOML floats, but no measured value, uncertainty or tolerance is one (an infinite ν
    # is written "inf", a string): refusing them here keeps them out of every calculation.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


Dof = float | Literal["inf"]


class ModelSection(_Strict):
    expression: str
    name: str = ""
    unit: str = ""
    outputs: list[str] | None = None


class InputSection(_Strict):
    value: float | None = None
    uncertainty: float | None = Field(default=None, ge=0)
    expanded: float | None = Field(default=None, ge=0)
    k: float | None = Field(default=None, gt=0)
    half_width: float | None = Field(default=None, ge=0)
    readings: list[float] | None = None
    dof: Dof | None = None
    distribution: Literal["normal", "t", "rectangular", "triangular", "arcsine"] | None = None
    unit: str = ""
    description: str = ""

    @field_validator("dof", mode="before")
    @classmethod
    def _unquoted_inf(cls, v):
        return "inf" if isinstance(v, float) and v == math.inf else v     # TOML's inf is "inf" too

    @field_validator("dof")
    @classmethod
    def _dof(cls, v):
        if v is None or v == "inf":
            return v
        if not v > 0:
            raise ValueError("dof must be > 0 (or \"inf\")")
        return v

    @model_validator(mode="after")
    def _one_way(self):
        given = [n for n in ("uncertainty", "expanded", "half_width", "readings") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of uncertainty (standard), expanded (with k), half_width (with "
                             f"distribution) or readings; found {', '.join(given) or 'none'}")
        how = given[0]
        if how == "readings":
            if self.value is not None:
                raise ValueError("value is the mean of the readings: do not give both")
            if len(self.readings) < 2:
                raise ValueError("readings: a Type A evaluation needs at least two readings")
            if self.dof is not None:
                raise ValueError("dof of a Type A input is n − 1: do not give it")
        elif self.value is None:
            raise ValueError("value is missing")
        if how == "expanded" and self.k is None:
            raise ValueError("expanded needs its coverage factor k")
        if how != "expanded" and self.k is not None:
            raise ValueError("k only goes with expanded")
        if how == "half_width" and self.distribution not in ("rectangular", "triangular", "arcsine"):
            raise ValueError("half_width needs distribution = \"rectangular\", \"triangular\" or \"arcsine\"")
        if how != "half_width" and self.distribution in ("rectangular", "triangular", "arcsine"):
            raise ValueError(f"distribution {self.distribution!r} needs half_width")
        if self.distribution == "t" and how != "readings" and self.dof in (None, "inf"):
            raise ValueError("a t distribution needs finite dof")
        return self

    @property
    def nu(self) -> float:
        return math.inf if self.dof is None or self.dof == "inf" else float(self.dof)


class Correlation(_Strict):
    a: str
    b: str
    r: float | Literal["readings"]

    @field_validator("r")
    @classmethod
    def _r(cls, v):
        if v != "readings" and not -1 <= v <= 1:
            raise ValueError("r must lie in [-1, 1] (or be \"readings\" to estimate it from simultaneous readings)")
        return v


class Options(_Strict):
    coverage: float = Field(default=0.9545, gt=0, lt=1)
    mc: int | None = Field(default=None, ge=100)
    seed: int | None = None


class BudgetFile(_Strict):
    model: ModelSection
    inputs: dict[str, InputSection]
    correlations: list[Correlation] = []
    options: Options = Options()


class FitData(_Strict):
    x: list[float]
    y: list[float]
    u_y: list[float] | None = None


class FitSection(_Strict):
    degree: int = Field(default=1, ge=0, le=10)
    x0: float = 0.0


class PredictSection(_Strict):
    at: list[float] = []


class FitFile(_Strict):
    data: FitData
    fit: FitSection = FitSection()
    predict: PredictSection = PredictSection()


class CvdData(_Strict):
    t: list[float]                               # °C (ITS-90), from the reference
    R: list[float]                               # Ω, of the thermometer calibrated
    u_R: float | list[float] | None = None       # standard uncertainty of each R (one value for all)
    u_t: float | list[float] | None = None       # standard uncertainty of each t

    @model_validator(mode="after")
    def _lengths(self):
        if len(self.t) != len(self.R):
            raise ValueError(f"t and R must have the same length ({len(self.t)} and {len(self.R)} given)")
        for name in ("u_R", "u_t"):
            u = getattr(self, name)
            if isinstance(u, list) and len(u) != len(self.t):
                raise ValueError(f"{name}: one value, or one per point ({len(self.t)})")
        return self


class CvdOptions(_Strict):
    c: bool | Literal["auto"] = "auto"           # fit C: when a point lies below 0 °C (auto), or as said


class CvdInterpolate(_Strict):
    R: list[float] = []                          # resistances to convert to temperatures
    u_R: float = Field(default=0.0, ge=0)        # standard uncertainty of each of them


class CvdFile(_Strict):
    data: CvdData
    options: CvdOptions = CvdOptions()
    interpolate: CvdInterpolate = CvdInterpolate()


class AirFile(_Strict):
    """Air density (CIPM-2007): temperature in °C, relative humidity in %, pressure in hPa, with optional
    standard uncertainties."""
    temperature: float
    humidity: float = Field(ge=0, le=100)
    pressure: float = Field(gt=0)
    x_co2: float = Field(default=0.0004, ge=0, le=0.01)
    u_temperature: float = Field(default=0.0, ge=0)
    u_humidity: float = Field(default=0.0, ge=0)
    u_pressure: float = Field(default=0.0, ge=0)


class _Uncertain(_Strict):
    """A value with a standard uncertainty and/or an expanded one with its k."""
    value: float
    uncertainty: float | None = Field(default=None, ge=0)
    expanded: float | None = Field(default=None, ge=0)
    k: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _k(self):
        if (self.expanded is None) != (self.k is None):
            raise ValueError("expanded and k go together")
        return self


class ResultRow(_Uncertain):
    participant: str

    @model_validator(mode="after")
    def _one(self):
        if self.expanded is not None and self.uncertainty is not None:
            raise ValueError("give uncertainty (standard) or expanded with k, not both")
        return self


class AssignedSection(_Uncertain):
    sd_pt: float | None = Field(default=None, gt=0)


class ScoresOptions(_Strict):
    algorithm_a_stop: Literal["converged", "third-figure"] = "converged"
    algorithm_a_constants: Literal["iso", "huber"] = "iso"


class ScoresFile(_Strict):
    results: list[ResultRow] = Field(min_length=1)
    assigned: AssignedSection | None = None
    options: ScoresOptions = ScoresOptions()


class WeighingPoint(_Strict):
    indication: float                     # R_j, the indication at the test load (g)
    error: float                          # E_j = R_j − m_ref,j (g)
    u: float = Field(gt=0)                # u(E_j) (g)


class WeighingAt(_Strict):
    R: list[float] = Field(default_factory=list)      # readings at which to give U(W) and U_gl(W)


class WeighingFile(_Strict):
    d: float = Field(gt=0)                # scale interval (g)
    s: float = Field(ge=0)                # repeatability standard deviation (g)
    eccentricity: float = Field(ge=0)     # |ΔI_ecc|max (g)
    eccentricity_load: float = Field(gt=0)
    loads: list[WeighingPoint] = Field(min_length=1)
    at: WeighingAt = WeighingAt()


class ConformityItem(_Strict):
    name: str
    deviation: float                          # the measured deviation (error) from nominal
    expanded_uncertainty: float = Field(ge=0)  # its U, k = 2
    tolerance: float = Field(gt=0)            # the maximum permissible error, ±


class ConformityFile(_Strict):
    rule: Literal["simple", "guarded"]        # ILAC-G8:09/2019 4.2.1 (w = 0) or 4.2.2 (w = U)
    items: list[ConformityItem] = Field(min_length=1)


class IntervalChecks(_Strict):
    days: list[float] = Field(min_length=1)        # days after the calibration
    deviations: list[float] = Field(min_length=1)  # check result − reference value
    expanded_uncertainty: float = Field(ge=0)      # U (k = 2) of the latest check, for its decision

    @model_validator(mode="after")
    def _same_length(self):
        if len(self.days) != len(self.deviations):
            raise ValueError(f"days and deviations must have the same length ({len(self.days)} and "
                             f"{len(self.deviations)} given)")
        if any(d < 0 for d in self.days):
            raise ValueError("days are counted from the calibration: none may be negative")
        return self


class IntervalFile(_Strict):
    method: Literal["control-chart", "staircase"] = "control-chart"   # ILAC-G24:2022 method 2 or 1
    tolerance: float = Field(gt=0)                  # ± the maximum permissible error
    decision_rule: Literal["simple", "guarded"] = "simple"
    calibrated_on: date
    max_interval_days: int = Field(default=730, ge=1, le=3650)
    calibration_expanded_uncertainty: float = Field(default=0.0, ge=0)   # U (k = 2) of the calibration
    check_standard_uncertainty: float = Field(default=0.0, ge=0)         # u of the check standard
    current_interval_days: int | None = Field(default=None, ge=1, le=3650)   # the staircase's
    checks: IntervalChecks


class StandardCheckFile(_Strict):
    values: list[float] = Field(min_length=2)      # the days' results (working standard − check standard)
    reference: float = 0.0                          # the reference value (the assignment at calibration)
    reference_expanded_uncertainty: float = Field(ge=0)
    reference_k: float = Field(default=2.0, gt=0)
    criterion: float = Field(gt=0)                  # largest accepted |value − reference|


class PrimaryStandard(_Strict):
    formula: str
    mass: float = Field(gt=0)
    mass_uncertainty: float = Field(default=0.0, ge=0)
    linearity_half_width: float = Field(default=0.0, ge=0)
    purity: float = Field(gt=0, le=1.0001)
    purity_half_width: float = Field(default=0.0, ge=0)
    equivalents: int = Field(default=1, ge=1)


class Titrant(_Strict):
    volume: float | None = Field(default=None, gt=0)
    volumes: list[float] | None = None
    calibration_half_width: float = Field(default=0.0, ge=0)
    temperature_uncertainty: float = Field(default=0.0, ge=0)
    repeatability: float | None = Field(default=None, ge=0)
    repeatability_dof: float | None = Field(default=None, gt=0, allow_inf_nan=True)   # given s; else n − 1 or ∞

    @model_validator(mode="after")
    def _volume(self):
        if (self.volume is None) == (self.volumes is None):
            raise ValueError("give volume (the mean) or volumes (the replicate titrations), one of them")
        if self.volumes is not None and len(self.volumes) < 2:
            raise ValueError("volumes: at least two replicate titrations")
        return self


class TitrationFile(_Strict):
    standard: PrimaryStandard
    titrant: Titrant
    atomic_weights: dict[str, tuple[float, float]] = {}
    options: Options = Options()


_UNION_MEMBER = ("float", "int", "str", "bool", "list[float]", "none")


def _where(err: dict) -> str:
    """The key at fault as the file names it: pydantic's location without its validator and union-member tags
    (`inputs.b.dof`, not `inputs.b.dof.float`)."""
    return ".".join(str(p) for p in err["loc"] if not (str(p).startswith(("function-after", "literal["))
                                                       or str(p) in _UNION_MEMBER))


def load(path: Path | str, schema: type[BaseModel]) -> Any:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CalcFileError(path, "", "no such file") from None
    except UnicodeDecodeError as exc:
        raise CalcFileError(path, "", f"not a text file in UTF-8 (byte {exc.start}): TOML is UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise CalcFileError(path, "", f"not valid TOML: {exc}") from None
    return validate(path, data, schema)


def validate(path: Path | str, data: dict, schema: type[BaseModel]) -> Any:
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (misspelt?)"
        elif err["type"] == "missing":
            msg = "required but missing"
        raise CalcFileError(path, _where(dict(err)), msg) from None

"""The lab's configuration: TOML files in one folder, validated so that an error names file, key and reason.

  lab.toml          station, MQTT, time-series server, records, environmental limits
  instruments.toml  [instruments.<id>]: driver, address, options, serial settings, simulation parameters
  standards.toml    [standards.<id>]: the reference-standards register (certificates and corrections)
  operators.toml    [operators.<id>]: who may run which procedure (the competence register)
  schedules.toml    [[schedules]]: procedures the daemon starts on its own
"""
from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from drivers import DRIVERS, parse_address

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "config"


class ConfigError(Exception):
    """A configuration problem, with the file and the key at fault."""

    def __init__(self, file: Path | str, key: str, reason: str) -> None:
        self.file, self.key, self.reason = str(file), key, reason
        super().__init__(f"{file}: {key}: {reason}" if key else f"{file}: {reason}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InstrumentConfig(_Strict):
    driver: str
    address: str
    description: str = ""
    timeout: float | None = Field(default=None, gt=0)
    options: dict[str, Any] = {}
    serial: dict[str, Any] = {}
    simulation: dict[str, Any] = {}

    @field_validator("driver")
    @classmethod
    def _known_driver(cls, v: str) -> str:
        if v not in DRIVERS:
            raise ValueError(f"unknown driver {v!r}; known: {', '.join(sorted(DRIVERS))}")
        return v

    @field_validator("address")
    @classmethod
    def _valid_address(cls, v: str) -> str:
        parse_address(v)
        return v

    @field_validator("serial")
    @classmethod
    def _serial_keys(cls, v: dict[str, Any]) -> dict[str, Any]:
        allowed = {"baudrate", "bytesize", "parity", "stopbits", "xonxoff", "rtscts"}
        unknown = set(v) - allowed
        if unknown:
            raise ValueError(f"unknown serial settings {sorted(unknown)}; allowed: {sorted(allowed)}")
        return v


class CorrectionPoint(_Strict):
    nominal: float
    correction: float
    expanded_uncertainty: float = Field(gt=0)
    k: float = Field(default=2.0, gt=0)


class StandardConfig(_Strict):
    description: str
    instrument: str | None = None          # the instrument id that reads it, if any
    channel: int | None = None
    serial_number: str
    certificate: str
    calibrated: date
    due: date
    unit: str
    corrections: list[CorrectionPoint] = Field(min_length=1)
    drift_allowance: float = Field(default=0.0, ge=0)   # half-width of a rectangular drift allowance
    resolution: float = Field(default=0.0, ge=0)

    @field_validator("corrections")
    @classmethod
    def _sorted(cls, v: list[CorrectionPoint]) -> list[CorrectionPoint]:
        nominals = [p.nominal for p in v]
        if nominals != sorted(nominals) or len(set(nominals)) != len(nominals):
            raise ValueError("correction points must be in increasing order of nominal, without repeats")
        return v


class OperatorConfig(_Strict):
    name: str
    authorised: list[str] = []
    role: str = "technician"


class ScheduleConfig(_Strict):
    procedure: str
    every: str                      # "daily", "weekly", "monthly", or an interval such as "90s", "15m", "6h"
    at: str = "02:00"               # UTC time of day for daily, weekly and monthly
    params: dict[str, Any] = {}
    operator: str = "scheduler"

    @field_validator("every")
    @classmethod
    def _every(cls, v: str) -> str:
        import re
        if v not in ("daily", "weekly", "monthly") and not re.fullmatch(r"\d+(\.\d+)?[smh]", v):
            raise ValueError("expected daily, weekly, monthly or an interval like 90s, 15m, 6h")
        return v

    @field_validator("at")
    @classmethod
    def _at(cls, v: str) -> str:
        import re
        m = re.fullmatch(r"(\d{1,2}):(\d{2})", v)
        if not m or int(m[1]) > 23 or int(m[2]) > 59:
            raise ValueError("expected a time of day HH:MM")
        return v


class ServiceConfig(_Strict):
    monitor_interval: float = Field(default=5.0, gt=0)   # seconds between live readings of idle instruments
    on_restart: str = Field(default="resume", pattern="^(resume|mark)$")   # runs found unfinished after a crash
    dashboard_port: int | None = Field(default=None, ge=0, le=65535)
    documents: str | None = None     # folder for the documents of completed runs; default: beside the records


class MqttConfig(_Strict):
    url: str | None = None
    topic_root: str | None = None
    ca_file: str | None = None      # CA certificate(s) for an mqtts:// broker not signed by a public CA


class InfluxConfig(_Strict):
    url: str | None = None
    org: str = "lab"
    bucket: str = "labd"
    token: str = ""


class EnvironmentLimits(_Strict):
    temperature: tuple[float, float] = (18.0, 28.0)
    humidity: tuple[float, float] = (30.0, 70.0)
    sensor: str | None = None


class LabConfig(_Strict):
    name: str
    station: str
    address: str = ""
    accreditation: str = ""
    records: str = "records/labd.sqlite"


class Config(BaseModel):
    directory: Path
    lab: LabConfig
    mqtt: MqttConfig = MqttConfig()
    influx: InfluxConfig = InfluxConfig()
    environment: EnvironmentLimits = EnvironmentLimits()
    service: ServiceConfig = ServiceConfig()
    instruments: dict[str, InstrumentConfig]
    standards: dict[str, StandardConfig] = {}
    operators: dict[str, OperatorConfig] = {}
    schedules: list[ScheduleConfig] = []


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "", f"not valid TOML: {exc}") from None


def _validate(path: Path, model: type[BaseModel], data: Any, prefix: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join([prefix] + [str(p) for p in err["loc"]]) if prefix else ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise ConfigError(path, key, msg + more) from None


def _table(path: Path, data: dict[str, Any], name: str, model: type[BaseModel]) -> dict[str, Any]:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise ConfigError(path, name, "must be a table")
    return {key: _validate(path, model, value, f"{name}.{key}") for key, value in table.items()}


def load_config(directory: Path | str | None = None) -> Config:
    """Load and cross-check the lab's configuration folder."""
    d = Path(directory) if directory is not None else DEFAULT_DIR
    if not d.is_dir():
        raise ConfigError(d, "", "configuration folder not found")
    lab_path = d / "lab.toml"
    if not lab_path.exists():
        raise ConfigError(lab_path, "", "file missing")
    lab_data = _read(lab_path)
    unknown = set(lab_data) - {"lab", "mqtt", "influx", "environment", "service"}
    if unknown:
        raise ConfigError(lab_path, sorted(unknown)[0],
                          "unknown table (expected lab, mqtt, influx, environment, service)")
    lab = _validate(lab_path, LabConfig, lab_data.get("lab", {}), "lab")
    mqtt = _validate(lab_path, MqttConfig, lab_data.get("mqtt", {}), "mqtt")
    influx = _validate(lab_path, InfluxConfig, lab_data.get("influx", {}), "influx")
    environment = _validate(lab_path, EnvironmentLimits, lab_data.get("environment", {}), "environment")
    service = _validate(lab_path, ServiceConfig, lab_data.get("service", {}), "service")
    inst_path = d / "instruments.toml"
    instruments = _table(inst_path, _read(inst_path), "instruments", InstrumentConfig) if inst_path.exists() else {}
    std_path = d / "standards.toml"
    standards = _table(std_path, _read(std_path), "standards", StandardConfig) if std_path.exists() else {}
    op_path = d / "operators.toml"
    operators = _table(op_path, _read(op_path), "operators", OperatorConfig) if op_path.exists() else {}
    sched_path = d / "schedules.toml"
    schedules = []
    if sched_path.exists():
        raw = _read(sched_path).get("schedules", [])
        schedules = [_validate(sched_path, ScheduleConfig, s, f"schedules.{i}") for i, s in enumerate(raw)]
    for sid, std in standards.items():
        if std.instrument is not None and std.instrument not in instruments:
            raise ConfigError(std_path, f"standards.{sid}.instrument", f"no instrument {std.instrument!r} in "
                              f"{inst_path.name}")
    sensor = environment.sensor
    if sensor is not None and sensor not in instruments:
        raise ConfigError(lab_path, "environment.sensor", f"no instrument {sensor!r} in {inst_path.name}")
    for i, sched in enumerate(schedules):
        if sched.operator not in operators and operators:
            raise ConfigError(sched_path, f"schedules.{i}.operator", f"{sched.operator!r} is not in {op_path.name}")
    return Config(directory=d, lab=lab, mqtt=mqtt, influx=influx, environment=environment, service=service,
                  instruments=instruments, standards=standards, operators=operators, schedules=schedules)

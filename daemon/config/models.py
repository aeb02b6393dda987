"""The configuration's shape: one pydantic model per table, strict (an unknown key is an error naming it).

  lab.toml          [lab] station and data, [mqtt], [influx], [environment] limits, [service]
  instruments.toml  [instruments.<id>]: driver, address, options (checked against the driver's own schema),
                    serial settings, simulation parameters
  standards.toml    [standards.<id>]: the reference-standards register (certificates and corrections)
  operators.toml    [operators.<id>]: who may run which procedure (the competence register)
  schedules.toml    [[schedules]]: procedures the daemon starts on its own
"""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from labd.drivers import DRIVERS, parse_address


class ConfigError(Exception):
    """A configuration problem, with the file (or environment variable) and the key at fault."""

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
    # The terminators, when the instrument is set up otherwise than the driver's default (a Hart unit with its
    # linefeed off answers with CR alone; a gateway may add or strip line ends).
    line: dict[str, str] = {}
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


    @field_validator("line")
    @classmethod
    def _line_keys(cls, v: dict[str, str]) -> dict[str, str]:
        allowed = {"write_termination", "read_termination"}
        unknown = set(v) - allowed
        if unknown:
            raise ValueError(f"unknown line settings {sorted(unknown)}; allowed: {sorted(allowed)}")
        for key, text in v.items():
            if not 1 <= len(text) <= 4 or not all(c in "\r\n" or " " < c <= "~" for c in text):
                raise ValueError(f"{key} {text!r}: one to four characters, CR, LF or printable ASCII")
        return v


class CorrectionPoint(_Strict):
    nominal: float
    correction: float
    expanded_uncertainty: float = Field(gt=0)
    k: float = Field(default=2.0, gt=0)


class SpecificationBand(_Strict):
    """One range of an instrument's specification: ±(relative · |value| + floor) up to `up_to` (in its unit)."""
    up_to: float = Field(gt=0)
    relative: float = Field(ge=0)          # e.g. 15e-6 for 15 ppm of output
    floor: float = Field(ge=0)             # in the standard's unit


class StandardConfig(_Strict):
    description: str
    description_id: str = ""               # the description in Indonesian, for Indonesian documents
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
    issued_by: str = ""                    # the laboratory that issued the certificate (traceability statement)
    # A probe calibrated together with its readout: the readout's serial as it reports it. A run refuses a
    # readout that reports another (the certificate is not for that pair).
    readout_serial: str | None = None
    # A source standard's specification per range (the manual's, for the interval the lab keeps): used where
    # the certificate has no point on the range, and for its temperature coefficient.
    specification: list[SpecificationBand] = []
    specification_source: str = ""         # where the numbers were read (manual, section, interval)
    # Outside `specified_temperature` (°C) the specification grows by this fraction of itself per °C.
    temperature_coefficient: float = Field(default=0.0, ge=0)
    specified_temperature: tuple[float, float] = (18.0, 28.0)

    @field_validator("specification")
    @classmethod
    def _bands(cls, v: list[SpecificationBand]) -> list[SpecificationBand]:
        tops = [b.up_to for b in v]
        if tops != sorted(tops) or len(set(tops)) != len(tops):
            raise ValueError("specification ranges must be in increasing order of up_to, without repeats")
        return v

    @field_validator("corrections")
    @classmethod
    def _sorted(cls, v: list[CorrectionPoint]) -> list[CorrectionPoint]:
        nominals = [p.nominal for p in v]
        if nominals != sorted(nominals) or len(set(nominals)) != len(nominals):
            raise ValueError("correction points must be in increasing order of nominal, without repeats")
        return v


class SourcePoint(_Strict):
    """The heat source's characterisation at one temperature: half-widths (rectangular), in °C."""
    t: float
    axial: float = Field(ge=0)             # over the measuring zone's depth
    radial: float = Field(ge=0)            # between the wells / positions used
    stability: float = Field(ge=0)         # over the time of a point's readings
    loading: float = Field(default=0.0, ge=0)   # the effect of the probes inserted


class SourceConfig(_Strict):
    """A heat source's characterisation (EURAMET cg-13), kept in the register beside the standards."""
    report: str                            # the characterisation report
    characterised: date
    points: list[SourcePoint] = Field(min_length=1)

    @field_validator("points")
    @classmethod
    def _sorted(cls, v: list[SourcePoint]) -> list[SourcePoint]:
        ts = [p.t for p in v]
        if ts != sorted(ts) or len(set(ts)) != len(ts):
            raise ValueError("points must be in increasing order of t, without repeats")
        return v


ROLE_RANK = {"trainee": 0, "technician": 1, "supervisor": 2, "manager": 3}   # "service": none of these


class OperatorConfig(_Strict):
    name: str
    authorised: list[str] = []
    # trainee < technician < supervisor < manager (technical manager); "service": the scheduler, labd itself
    role: str = Field(default="technician", pattern="^(trainee|technician|supervisor|manager|service)$")
    mqtt_user: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")   # broker login; default: id

    def at_least(self, role: str) -> bool:
        return ROLE_RANK.get(self.role, -1) >= ROLE_RANK[role]


class ScheduleConfig(_Strict):
    procedure: str
    name: str | None = None          # how the record names it; default "<procedure>#<position in the file>"
    every: str | None = None         # "daily", "weekly", "monthly", or an interval such as "90s", "15m", "6h"
    at: str = "02:00"                # time of day for daily, weekly and monthly, in the lab's time zone
    cron: str | None = None          # or a cron expression (minute hour day month weekday), in the lab's time
    missed: str = Field(default="run_once", pattern="^(run_once|skip)$")   # fell due while the service was down
    params: dict[str, Any] = {}
    operator: str = "scheduler"

    @field_validator("every")
    @classmethod
    def _every(cls, v: str | None) -> str | None:
        if v is not None and v not in ("daily", "weekly", "monthly") and not re.fullmatch(r"\d+(\.\d+)?[smh]", v):
            raise ValueError("expected daily, weekly, monthly or an interval like 90s, 15m, 6h")
        if v is not None and v[-1] in "smh" and float(v[:-1]) <= 0:
            raise ValueError("an interval must be positive")
        return v

    @field_validator("at")
    @classmethod
    def _at(cls, v: str) -> str:
        m = re.fullmatch(r"(\d{1,2}):(\d{2})", v)
        if not m or int(m[1]) > 23 or int(m[2]) > 59:
            raise ValueError("expected a time of day HH:MM")
        return v

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        if v is not None:
            from croniter import croniter
            if not croniter.is_valid(v):
                raise ValueError(f"not a valid cron expression: {v!r} (minute hour day month weekday)")
        return v

    @model_validator(mode="after")
    def _one_rule(self) -> "ScheduleConfig":
        if (self.every is None) == (self.cron is None):
            raise ValueError("give either every (daily, weekly, monthly, an interval) or cron")
        return self

class ServiceConfig(_Strict):
    monitor_interval: float = Field(default=5.0, gt=0)   # seconds between live readings of idle instruments
    on_restart: str = Field(default="resume", pattern="^(resume|mark)$")   # runs found unfinished after a crash
    dashboard_port: int | None = Field(default=None, ge=0, le=65535)
    # The address people open when the dashboard is behind a reverse proxy (https://bench-1.lab.example/): its
    # Host and Origin are accepted besides the loopback ones; anything else is refused (DNS rebinding, CSRF).
    dashboard_url: str | None = Field(default=None, pattern=r"^https?://[^/\s]+/?$")
    session_hours: float = Field(default=12.0, gt=0, le=168)   # a dashboard login lasts this long unused
    documents: str | None = None     # folder for the documents of completed runs; default: <data_dir>/documents
    write_documents: bool = True     # write each completed run's document (certificate, report) at once
    # Commands from one sender: a burst of `command_burst`, then `command_rate` per second; more are refused.
    command_burst: int = Field(default=30, ge=1, le=10000)
    command_rate: float = Field(default=5.0, gt=0, le=10000)
    # /healthz and Prometheus /metrics on 127.0.0.1:<port> (None: not served); `metrics_host` to widen it.
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"


class MqttConfig(_Strict):
    url: str | None = None           # mqtt://host:port or mqtts://host:port; credentials belong below, not here
    topic_root: str | None = None
    ca_file: str | None = None       # CA certificate(s) for an mqtts:// broker not signed by a public CA
    username: str | None = None
    password: SecretStr | None = None      # from LABD_MQTT__PASSWORD, or read from password_file
    password_file: str | None = None
    # Live readings: the latest of each instrument channel is published once per this many seconds (coalesced;
    # every reading is still recorded and streamed). 0: at the end of each event-loop iteration.
    live_interval: float = Field(default=0.01, ge=0.0, le=5.0)


class InfluxConfig(_Strict):
    url: str | None = None
    org: str = "lab"
    bucket: str = "labd"
    token: SecretStr = SecretStr("")       # from LABD_INFLUX__TOKEN, or read from token_file
    token_file: str | None = None


class CentralConfig(_Strict):
    """The lab's central records on PostgreSQL (several benches, one record): every row of this station's records
    is replicated there (daemon/records/replica.py). `url` from here, LABD_CENTRAL_URL or LABD_CENTRAL__URL; a
    password not in the URL comes from `password_file` (or PGPASSWORD, as libpq reads it)."""
    url: str | None = Field(default=None, pattern=r"^postgres(ql)?://")
    password_file: str | None = None


class EnvironmentLimits(_Strict):
    temperature: tuple[float, float] = (18.0, 28.0)
    humidity: tuple[float, float] = (30.0, 70.0)
    sensor: str | None = None


class LabConfig(_Strict):
    name: str
    station: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")   # in MQTT topics and run records
    address: str = ""
    contact: str = ""                     # telephone, e-mail: on every certificate (ISO/IEC 17025 7.8.2.1 b)
    accreditation: str = ""
    # Where records, documents and run copies go. Relative paths here are relative to the configuration
    # folder; unset: $LABD_DATA, else the platform's user data folder (never the working directory).
    data_dir: str | None = None
    records: str = "labd.sqlite"          # relative to data_dir
    # The records key and the signed heads (mode 0600; best on another file system or owner than the records).
    keys_dir: str | None = None           # relative to data_dir; default: keys/ beside the records file
    timezone: str = "UTC"                 # the lab's time zone (IANA name, e.g. Asia/Makassar): schedules, documents
    code: str = Field(default="LAB", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")   # in certificate numbers
    # Issued certificates are numbered by this scheme: {lab} the code, {year}, {seq} the year's sequence.
    certificate_number: str = "{lab}/{year}/{seq:04d}"

    @field_validator("certificate_number")
    @classmethod
    def _scheme(cls, v: str) -> str:
        try:
            v.format(lab="L", year=2026, seq=1)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"not a certificate number scheme ({exc}); use {{lab}}, {{year}} and {{seq}}") from None
        if "{seq" not in v:
            raise ValueError("the scheme must hold {seq}: numbers must be unique")
        return v

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (an IANA name such as Asia/Makassar)") from None
        return v


class Config(BaseModel):
    directory: Path
    origin: str = ""                       # how the folder was found: --config, $LABD_CONFIG, /etc/labd, example
    data_dir: Path = Path(".")             # resolved from [lab] data_dir, $LABD_DATA or the platform's default
    lab: LabConfig
    mqtt: MqttConfig = MqttConfig()
    influx: InfluxConfig = InfluxConfig()
    central: CentralConfig = CentralConfig()
    environment: EnvironmentLimits = EnvironmentLimits()
    service: ServiceConfig = ServiceConfig()
    instruments: dict[str, InstrumentConfig]
    standards: dict[str, StandardConfig] = {}
    sources: dict[str, SourceConfig] = {}      # heat-source characterisations, by instrument id
    operators: dict[str, OperatorConfig] = {}
    schedules: list[ScheduleConfig] = []

    def names(self) -> dict[str, str]:
        """Operator id → full name (the competence register): how documents name people."""
        return {oid: op.name for oid, op in self.operators.items()}

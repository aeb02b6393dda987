"""Loading the lab's configuration folder: TOML files validated so that an error names the file (or the
environment variable), the key and the reason, then cross-checked (standards name configured instruments, the
environmental sensor exists, schedules name registered operators).

Every value of lab.toml can be overridden by an environment variable `LABD_<SECTION>__<KEY>` (pydantic-settings;
`LABD_MQTT__URL`, `LABD_SERVICE__METRICS_PORT`, `LABD_ENVIRONMENT__TEMPERATURE='[20, 26]'`). Secrets come from
the environment or from files named in the configuration (`[mqtt] password_file`, `[influx] token_file`).
"""
from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from labd.drivers import DRIVERS

from .locations import find_config, resolve_data_dir
from .models import (CentralConfig, Config, ConfigError, EnvironmentLimits, InfluxConfig, InstrumentConfig, LabConfig, MqttConfig,
                     OperatorConfig, ScheduleConfig, ServiceConfig, SourceConfig, StandardConfig)

ENV_PREFIX = "LABD_"
SECTIONS = ("lab", "mqtt", "influx", "central", "environment", "service")
CENTRAL_URL = "LABD_CENTRAL_URL"      # the short form the deployment guide gives, beside LABD_CENTRAL__URL


class LabSettings(BaseSettings):
    """lab.toml's tables, with the environment taking precedence over the file."""
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True)
    lab: LabConfig
    mqtt: MqttConfig = MqttConfig()
    influx: InfluxConfig = InfluxConfig()
    central: CentralConfig = CentralConfig()
    environment: EnvironmentLimits = EnvironmentLimits()
    service: ServiceConfig = ServiceConfig()

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        return (env_settings, init_settings)


def env_name(*keys: str) -> str:
    return ENV_PREFIX + "__".join(k.upper() for k in keys)


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "", f"not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(path, "", f"not a text file in UTF-8 (byte {exc.start}): TOML is UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(path, "", f"cannot be read: {exc.strerror or exc}") from None


def _problem(exc: ValidationError) -> tuple[tuple[str, ...], str]:
    err = exc.errors()[0]
    msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return tuple(str(p) for p in err["loc"]), msg + more


def _validate(path: Path, model: type[BaseModel], data: Any, prefix: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        loc, msg = _problem(exc)
        raise ConfigError(path, ".".join(([prefix] if prefix else []) + list(loc)), msg) from None


def _table(path: Path, data: dict[str, Any], name: str, model: type[BaseModel]) -> dict[str, Any]:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise ConfigError(path, name, "must be a table")
    return {key: _validate(path, model, value, f"{name}.{key}") for key, value in table.items()}


def _lab_settings(path: Path, data: dict[str, Any]) -> LabSettings:
    unknown = set(data) - set(SECTIONS)
    if unknown:
        raise ConfigError(path, sorted(unknown)[0], f"unknown table (expected {', '.join(SECTIONS)})")
    for section in SECTIONS:
        if not isinstance(data.get(section, {}), dict):
            raise ConfigError(path, section, "must be a table")
    tables = {s: data.get(s, {}) for s in SECTIONS}
    if os.environ.get(CENTRAL_URL) and not os.environ.get(env_name("central", "url")):
        tables["central"] = {**tables["central"], "url": os.environ[CENTRAL_URL]}
    try:
        return LabSettings(**tables)
    except ValidationError as exc:
        loc, msg = _problem(exc)
        # Name the variable when the bad value came from the environment, so nobody searches lab.toml for it.
        variable = env_name(*loc[:2]) if len(loc) >= 2 else None
        source = variable if variable and any(k.upper() == variable for k in os.environ) else path
        raise ConfigError(source, ".".join(loc), msg) from None


def _secret(directory: Path, lab_path: Path, key: str, file: str | None, value: SecretStr | None) -> SecretStr | None:
    """A secret from its file (relative to the configuration folder) unless the environment gave it."""
    if file is None or (value is not None and value.get_secret_value()):
        return value
    path = Path(file).expanduser()
    path = path if path.is_absolute() else directory / path
    try:
        return SecretStr(path.read_text().strip())
    except OSError as exc:
        raise ConfigError(lab_path, key, f"cannot read {path}: {exc.strerror or exc}") from None


def _instruments(path: Path) -> dict[str, InstrumentConfig]:
    if not path.exists():
        return {}
    instruments = _table(path, _read(path), "instruments", InstrumentConfig)
    for iid, cfg in instruments.items():
        try:
            DRIVERS[cfg.driver].check_options(cfg.options)
        except ValueError as exc:
            key, _, reason = str(exc).removeprefix("options: ").partition(": ")
            raise ConfigError(path, f"instruments.{iid}.options.{key}", reason) from None
    return instruments


def load_config(directory: Path | str | None = None) -> Config:
    """Find, load and cross-check the lab's configuration (see `locations.find_config` for where it looks)."""
    d, origin = find_config(directory)
    if not d.is_dir():
        raise ConfigError(d, "", f"configuration folder not found (from {origin})")
    lab_path = d / "lab.toml"
    if not lab_path.exists():
        raise ConfigError(lab_path, "", "file missing")
    settings = _lab_settings(lab_path, _read(lab_path))
    mqtt = settings.mqtt.model_copy(update={"password": _secret(d, lab_path, "mqtt.password_file",
                                                                settings.mqtt.password_file,
                                                                settings.mqtt.password)})
    influx = settings.influx.model_copy(update={"token": _secret(d, lab_path, "influx.token_file",
                                                                 settings.influx.token_file, settings.influx.token)
                                                or SecretStr("")})
    central = settings.central
    if central.password_file and central.url:
        secret = _secret(d, lab_path, "central.password_file", central.password_file, None)
        if secret is not None:
            from urllib.parse import quote, urlsplit, urlunsplit
            parts = urlsplit(central.url)
            if parts.password is None and parts.hostname:
                netloc = (f"{quote(parts.username or '', safe='')}:{quote(secret.get_secret_value(), safe='')}@"
                          f"{parts.hostname}" + (f":{parts.port}" if parts.port else ""))
                central = central.model_copy(update={"url": urlunsplit(parts._replace(netloc=netloc))})
    inst_path = d / "instruments.toml"
    instruments = _instruments(inst_path)
    std_path = d / "standards.toml"
    std_data = _read(std_path) if std_path.exists() else {}
    standards = _table(std_path, std_data, "standards", StandardConfig)
    sources = _table(std_path, std_data, "sources", SourceConfig)
    op_path = d / "operators.toml"
    operators = _table(op_path, _read(op_path), "operators", OperatorConfig) if op_path.exists() else {}
    sched_path = d / "schedules.toml"
    schedules = []
    if sched_path.exists():
        raw = _read(sched_path).get("schedules", [])
        if not isinstance(raw, list):
            raise ConfigError(sched_path, "schedules", "must be an array of tables ([[schedules]])")
        schedules = [_validate(sched_path, ScheduleConfig, s, f"schedules.{i}") for i, s in enumerate(raw)]
        schedules = [s if s.name else s.model_copy(update={"name": f"{s.procedure}#{i + 1}"})
                     for i, s in enumerate(schedules)]
        names = [s.name for s in schedules]
        for i, name in enumerate(names):
            if names.index(name) != i:
                raise ConfigError(sched_path, f"schedules.{i}.name", f"{name!r} names two schedules")
    for sid, std in standards.items():
        if std.instrument is not None and std.instrument not in instruments:
            raise ConfigError(std_path, f"standards.{sid}.instrument", f"no instrument {std.instrument!r} in "
                              f"{inst_path.name}")
    for sid in sources:
        if sid not in instruments:
            raise ConfigError(std_path, f"sources.{sid}", f"no instrument {sid!r} in {inst_path.name}: a "
                              "characterisation is of a configured heat source")
    environment = settings.environment
    sensor = environment.sensor
    if sensor is not None and sensor not in instruments:
        raise ConfigError(lab_path, "environment.sensor", f"no instrument {sensor!r} in {inst_path.name}")
    for i, sched in enumerate(schedules):
        if sched.operator not in operators and operators:
            raise ConfigError(sched_path, f"schedules.{i}.operator", f"{sched.operator!r} is not in {op_path.name}")
    return Config(directory=d, origin=origin, data_dir=resolve_data_dir(settings.lab.data_dir, d), lab=settings.lab,
                  mqtt=mqtt, influx=influx, central=central, environment=environment, service=settings.service,
                  instruments=instruments, standards=standards, sources=sources, operators=operators,
                  schedules=schedules)

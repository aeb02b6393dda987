"""The lab's configuration: where it is found, its shape, loading it with environment overrides, and where
the lab's data goes. Public API: `load_config`, `Config` and its parts, `ConfigError`, and the paths."""
from __future__ import annotations

from pathlib import Path

from .loader import LabSettings, env_name, load_config
from .locations import ENV_CONFIG, ENV_DATA, SYSTEM_CONFIG, example_lab, find_config, under
from .models import (Config, ConfigError, CorrectionPoint, EnvironmentLimits, InfluxConfig, InstrumentConfig,
                     LabConfig, MqttConfig, OperatorConfig, ScheduleConfig, ServiceConfig, SourceConfig,
                     StandardConfig)


def records_path(config: Config, override: str | Path | None = None) -> Path:
    """The records database: `--records` as given, else `[lab] records` under the data folder."""
    return Path(override) if override else under(config.data_dir, config.lab.records, "labd.sqlite")


def keys_dir(config: Config) -> Path | None:
    """`[lab] keys_dir` under the data folder; None: `keys/` beside the records file (labd.daemon.records)."""
    return under(config.data_dir, config.lab.keys_dir, "keys") if config.lab.keys_dir else None


def documents_dir(config: Config, override: str | Path | None = None) -> Path:
    """Where documents of completed runs go: `[service] documents` under the data folder, else documents/."""
    return Path(override) if override else under(config.data_dir, config.service.documents, "documents")


def runs_dir(config: Config, override: str | Path | None = None) -> Path:
    """Where `labd run` leaves a copy of each run (dataset, results, documents)."""
    return Path(override) if override else config.data_dir / "runs"


__all__ = ["ENV_CONFIG", "ENV_DATA", "SYSTEM_CONFIG", "Config", "ConfigError", "CorrectionPoint",
           "EnvironmentLimits", "InfluxConfig", "InstrumentConfig", "LabConfig", "LabSettings", "MqttConfig",
           "OperatorConfig", "ScheduleConfig", "ServiceConfig", "SourceConfig", "StandardConfig", "documents_dir", "env_name",
           "example_lab", "find_config", "keys_dir", "load_config", "records_path", "runs_dir", "under"]

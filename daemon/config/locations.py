"""Where labd finds its configuration and keeps its data, so that every command agrees without being told.

Configuration: `--config DIR`, else `$LABD_CONFIG`, else `/etc/labd` when it exists, else the example lab shipped
inside the package (so `labd run … --simulate` works from any folder after `pip install`).
Data (records, documents, copies of runs): `[lab] data_dir`, else `$LABD_DATA`, else the platform's user data
folder (`~/.local/share/labd` on Linux; the service unit sets `/var/lib/labd`). Never the working directory:
a lab's records must not end up split across whichever folders a technician happened to be in.
"""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import platformdirs

ENV_CONFIG = "LABD_CONFIG"
ENV_DATA = "LABD_DATA"
SYSTEM_CONFIG = Path("/etc/labd")


def example_lab() -> Path:
    """The example lab's configuration, installed with labd as `labd.config`."""
    return Path(str(resources.files("labd.config")))


def find_config(explicit: str | Path | None, environ: dict[str, str] | None = None) -> tuple[Path, str]:
    """The configuration folder and, in words, where it came from."""
    env = os.environ if environ is None else environ
    if explicit is not None:
        return Path(explicit), "--config"
    if env.get(ENV_CONFIG):
        return Path(env[ENV_CONFIG]), f"${ENV_CONFIG}"
    if (SYSTEM_CONFIG / "lab.toml").is_file():
        return SYSTEM_CONFIG, str(SYSTEM_CONFIG)
    return example_lab(), "the example lab shipped with labd"


def resolve_data_dir(configured: str | None, config_dir: Path, environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if configured:
        path = Path(configured).expanduser()
        return path if path.is_absolute() else (config_dir / path).resolve()
    if env.get(ENV_DATA):
        return Path(env[ENV_DATA]).expanduser().resolve()
    return Path(platformdirs.user_data_dir("labd", appauthor=False))


def under(base: Path, path: str | Path | None, default: str) -> Path:
    """`path` as given when absolute, else under `base` (the data folder)."""
    p = Path(path).expanduser() if path else Path(default)
    return p if p.is_absolute() else base / p

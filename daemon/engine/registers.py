"""The registers a bench works with when the lab keeps them centrally ([central] url): the standards, heat sources,
operators and schedules of the central database in force over the configuration folder's files.

Every bench uses the current version: it is read at start and again before each run. When the central database
cannot be reached, the bench uses the copy it last synchronised (kept in the data folder) and says so, with the
time of that copy; with no copy either, it says it works from its own files. A register with no entry in the
central database stays as the bench's files give it, so a lab can move one register at a time.

Schedules belong to a bench (they start runs on its instruments): a central schedule is kept as
`<station>/<name>`, and a bench takes only its own.
"""
from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from labd.daemon.config import Config
from labd.daemon.config.models import OperatorConfig, ScheduleConfig, SourceConfig, StandardConfig
from labd.daemon.records import RecordsError
from labd.daemon.records import registers as central

log = logging.getLogger("labd.registers")
MODELS: dict[str, type[BaseModel]] = {"standards": StandardConfig, "sources": SourceConfig,
                                      "operators": OperatorConfig, "schedules": ScheduleConfig}


def copy_path(config: Config) -> Path:
    return config.data_dir / "central" / f"registers-{config.lab.station}.json"


def entry(register: str, item: str, data: dict[str, Any]) -> BaseModel:
    """One entry checked as the configuration files' entries are; ValueError names the key and why."""
    model = MODELS.get(register)
    if model is None:
        raise ValueError(f"no register {register!r} (known: {', '.join(MODELS)})")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ValueError(f"{register}.{item}{'.' + where if where else ''}: "
                         f"{err['msg'].removeprefix('Value error, ')}") from None


def as_data(model: BaseModel) -> dict[str, Any]:
    """An entry as the central database keeps it (JSON: dates as ISO text, defaults left out)."""
    return json.loads(model.model_dump_json(exclude_defaults=True))


def synchronise(config: Config) -> tuple[dict[str, dict[str, Any]], str] | None:
    """The central registers and, in words, where they came from; None with no central database."""
    url = config.central.url
    if not url:
        return None
    path = copy_path(config)
    try:
        registers, version = central.current(url)
    except RecordsError as exc:
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError):
            return {}, f"the central registers are unreachable ({exc}) and no copy was synchronised: this bench's own files"
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(saved["synchronised"]))
        return saved["registers"], (f"the central registers are unreachable ({exc}): the copy synchronised at {when} "
                                    f"(version {saved['version']})")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"version": version, "synchronised": time.time(), "registers": registers},
                              ensure_ascii=False, indent=1))
    os.replace(tmp, path)
    return registers, f"the central registers, version {version}"


def in_force(config: Config, *, say: Callable[[str], None] | None = None) -> Config:
    """`config` with the central registers over its own files (unchanged without [central] url). A central entry
    that fails validation is left out and said, never used."""
    found = synchronise(config)
    if found is None:
        return config
    registers, origin = found
    (say or log.info)(f"registers: {origin}")
    update: dict[str, Any] = {}
    for register in ("standards", "sources", "operators"):
        entries = registers.get(register)
        if not entries:
            continue
        checked = {}
        for item, data in entries.items():
            try:
                checked[item] = entry(register, item, data)
            except ValueError as exc:
                (say or log.warning)(f"central register entry left out: {exc}")
        update[register] = checked
    own = {item.split("/", 1)[1]: data for item, data in registers.get("schedules", {}).items()
           if item.startswith(f"{config.lab.station}/")}
    if own:
        schedules = []
        for name, data in sorted(own.items()):
            try:
                schedules.append(entry("schedules", name, {**data, "name": name}))
            except ValueError as exc:
                (say or log.warning)(f"central register entry left out: {exc}")
        update["schedules"] = schedules
    return config.model_copy(update=update) if update else config

"""The lab's configuration on record (ISO/IEC 17025 7.11.2: changes to the system are recorded): at each start,
the fingerprint of every configuration file (and which LABD_* overrides were in force) is compared with the last
one recorded; a difference is recorded with what changed, when the file was changed and which system account
owns it. Changes made through labd itself (passwords, amendments) are recorded with who and why where they are
made."""
from __future__ import annotations

import hashlib
import os
import pwd
import time
from typing import Any

from labd.daemon.config import Config
from labd.daemon.records import Records, RecordsReader

FILES = ("lab.toml", "instruments.toml", "standards.toml", "operators.toml", "schedules.toml")


def fingerprint(config: Config) -> dict[str, Any]:
    files: dict[str, Any] = {}
    for name in FILES:
        path = config.directory / name
        try:
            data, st = path.read_bytes(), path.stat()
        except OSError:
            continue
        try:
            owner = pwd.getpwuid(st.st_uid).pw_name
        except KeyError:
            owner = str(st.st_uid)
        files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "modified": st.st_mtime, "owner": owner}
    overrides = sorted(k for k in os.environ if k.startswith("LABD_") and "__" in k)
    return {"action": "configuration", "directory": str(config.directory), "files": files, "overrides": overrides}


async def record_configuration(records: Records, config: Config, source: str) -> str | None:
    """Record the configuration if it differs from the last recorded; returns what changed (None: nothing)."""
    now = fingerprint(config)
    with RecordsReader(records.path) as reader:
        last = reader.last_configuration()
    if last is not None and {k: v["sha256"] for k, v in last.get("files", {}).items()} == {
            k: v["sha256"] for k, v in now["files"].items()} and last.get("overrides") == now["overrides"]:
        return None
    if last is None:
        outcome = "first recorded"
    else:
        before = last.get("files", {})
        changed = [n for n in sorted(set(before) | set(now["files"]))
                   if before.get(n, {}).get("sha256") != now["files"].get(n, {}).get("sha256")]
        parts = [f"{n} (modified {time.strftime('%Y-%m-%d %H:%M', time.localtime(now['files'][n]['modified']))}"
                 f" by {now['files'][n]['owner']})" if n in now["files"] else f"{n} (removed)" for n in changed]
        if last.get("overrides") != now["overrides"]:
            parts.append("environment overrides")
        outcome = "changed since last recorded: " + ", ".join(parts)
    await records.command(source, None, now, outcome)
    return outcome

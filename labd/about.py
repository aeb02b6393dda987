"""What this labd is: its version, the commit it was built from when known, and the fingerprints a
validation report carries (the calc source and the lock file of exact dependency versions)."""
from __future__ import annotations

import hashlib
import subprocess
from functools import cache
from importlib import metadata, resources
from pathlib import Path

from labd import __version__

LOCK_NAME = "requirements.lock"


@cache
def commit() -> str | None:
    """The git commit of a source checkout (an editable install); None for an installed wheel built without it."""
    baked = resources.files("labd").joinpath("COMMIT")
    if baked.is_file():
        return baked.read_text().strip() or None
    here = Path(__file__).resolve().parent.parent
    if not (here / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                             text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out + ("+changes" if dirty else "")


@cache
def calc_digest() -> str:
    """SHA-256 over calc's source files, as the validation report gives it: validated numbers belong to it."""
    from labd.calc.validation import calc_source_hash
    return calc_source_hash()


@cache
def lock_digest() -> str | None:
    """SHA-256 of the lock file of exact versions that `make` installs, when it can be found."""
    for candidate in (resources.files("labd").joinpath(LOCK_NAME),
                      Path(__file__).resolve().parent.parent / LOCK_NAME):
        if candidate.is_file():
            return hashlib.sha256(candidate.read_bytes()).hexdigest()
    return None


def installed_versions(names: tuple[str, ...] = ("numpy", "scipy", "pydantic", "pymodbus", "pyvisa")) -> dict[str, str]:
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "missing"
    return out


def describe() -> str:
    c = commit()
    lock = lock_digest()
    return "\n".join([f"labd {__version__}" + (f" (commit {c})" if c else ""),
                      f"calc source sha256 {calc_digest()}",
                      f"lock file sha256 {lock}" if lock else "lock file: not found"])

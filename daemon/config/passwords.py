"""Operators' passwords, for the dashboard's login and electronic signatures: argon2id hashes (argon2-cffi, its
RFC 9106 defaults) in `passwords.json` in the keys folder, mode 0600, never in the configuration (which may be
world-readable and kept in version control). Set with `labd operators passwd ID`.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

FILE = "passwords.json"
MIN_LENGTH = 8
_hasher = PasswordHasher()
# Checked when the operator is unknown, so that a wrong name costs the same time as a wrong password.
_DUMMY = _hasher.hash("labd: no such operator")


class PasswordError(ValueError):
    pass


class Passwords:
    def __init__(self, keys: Path) -> None:
        self.path = keys / FILE

    def _read(self) -> dict[str, dict]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise PasswordError(f"{self.path} is unreadable ({exc})") from None
        return data if isinstance(data, dict) else {}

    def has(self, operator: str) -> bool:
        return operator in self._read()

    def set(self, operator: str, password: str) -> None:
        if len(password) < MIN_LENGTH:
            raise PasswordError(f"a password needs at least {MIN_LENGTH} characters")
        if password.strip() != password or "\n" in password:
            raise PasswordError("a password may not begin or end with spaces, nor hold a line break")
        data = self._read()
        data[operator] = {"hash": _hasher.hash(password), "set": time.time()}
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def check(self, operator: str, password: str) -> bool:
        entry = self._read().get(operator)
        try:
            return _hasher.verify(entry["hash"] if entry else _DUMMY, password) and entry is not None
        except (VerificationError, InvalidHashError):
            return False

"""The records' seal: the key that links the audit chain, and the signed head kept outside the database.

Why a key: with plain SHA-256 anyone who can write the database file can edit a row and recompute the whole
chain with labd's own functions. Each link is therefore an HMAC-SHA-256 under a secret key kept in a file of
its own (mode 0600, in the keys folder, not in the database): an edit re-chained without the key no longer
verifies.

Why a head outside: a chain, keyed or not, cannot show that its own tail was cut off or that the file was
replaced by an older copy. After every commit the writer leaves the latest (sequence, link), signed with the
key, in a head file beside the key (and the service publishes it, retained, over MQTT). A database that ends
before the head, or whose entry at the head's sequence differs from it, was cut or rolled back.

Layout: `<keys>/records.key` (one key per keys folder) and `<keys>/<records file name>.head`. The keys folder
is `[lab] keys_dir`, by default `keys/` beside the records file.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from .schema import RecordsError

KEY_NAME = "records.key"
HEAD_SIZE = 384              # bytes of the head file: one block, overwritten in place (write_head)
CHAIN = "hmac-sha256"        # meta 'chain' of a keyed database; absent in the unkeyed records of labd < 0.2


def keys_folder(records: Path, keys_dir: Path | None = None) -> Path:
    return keys_dir if keys_dir is not None else records.parent / "keys"


@dataclass(frozen=True)
class Head:
    """The latest entry of the chain as the writer last committed it."""
    records_id: str
    seq: int
    hash: str
    time: float
    mac: str

    def as_dict(self) -> dict:
        return {"records_id": self.records_id, "seq": self.seq, "hash": self.hash, "time": self.time,
                "mac": self.mac}


class Seal:
    """The key of one keys folder, and the head files it signs."""

    def __init__(self, folder: Path, key: bytes) -> None:
        self.folder, self.key = folder, key
        self.key_id = hashlib.sha256(b"labd key id:" + key).hexdigest()[:16]
        self._head_fd: int | None = None
        self._head_for: Path | None = None

    @classmethod
    def open(cls, folder: Path, *, create: bool) -> "Seal":
        """The folder's key; with `create`, a new random key (mode 0600) when there is none yet."""
        path = folder / KEY_NAME
        if not path.exists():
            if not create:
                raise RecordsError(f"no records key at {path}: the chain cannot be verified without the key "
                                   f"it was made with")
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass                  # another process made it first: use theirs
            else:
                with os.fdopen(fd, "w") as f:
                    f.write(secrets.token_hex(32) + "\n")
                    f.flush()
                    os.fsync(f.fileno())
        return cls.from_file(path)

    @classmethod
    def from_file(cls, path: Path) -> "Seal":
        """The key in `path` (its folder is where its heads go): refused when others can read it."""
        try:
            mode = path.stat().st_mode & 0o777
            text = path.read_text().strip()
        except OSError as exc:
            raise RecordsError(f"records key {path}: {exc.strerror or exc}") from None
        if mode & 0o077:
            raise RecordsError(f"records key {path} is readable by others (mode {mode:o}); "
                               f"chmod 600 it")
        try:
            key = bytes.fromhex(text)
        except ValueError:
            key = b""
        if len(key) < 32:
            raise RecordsError(f"records key {path} is not a labd key (64 hexadecimal digits)")
        return cls(path.parent, key)

    # --- the chain ---------------------------------------------------------------------------------------------
    def link(self, prev: str, seq: int, digest: str) -> str:
        return hmac.new(self.key, f"{prev}:{seq}:{digest}".encode(), hashlib.sha256).hexdigest()

    # --- the head ----------------------------------------------------------------------------------------------
    def _mac(self, records_id: str, seq: int, hash_: str) -> str:
        return hmac.new(self.key, f"head:{records_id}:{seq}:{hash_}".encode(), hashlib.sha256).hexdigest()

    def head_path(self, records: Path) -> Path:
        return self.folder / f"{records.name}.head"

    def signed(self, head: Head) -> bool:
        """Whether `head` was signed with this key."""
        return hmac.compare_digest(head.mac, self._mac(head.records_id, head.seq, head.hash))

    def sign(self, records_id: str, seq: int, hash_: str) -> Head:
        return Head(records_id, seq, hash_, time.time(), self._mac(records_id, seq, hash_))

    def write_head(self, records: Path, head: Head) -> None:
        """The head file, written after every commit. The first write of a process makes it whole (a rename); later
        ones overwrite its one fixed-size block in place, which costs a write call rather than a new file per
        commit. A block of HEAD_SIZE < 512 bytes at offset 0 is one sector: a power cut leaves the old head or the
        new one, the assumption SQLite itself makes (SQLITE_POWERSAFE_OVERWRITE). Not fsynced: a head that lags
        the database after a power cut is harmless (only a database *behind* its head is suspect)."""
        text = json.dumps(head.as_dict())
        data = (text + " " * (HEAD_SIZE - 1 - len(text)) + "\n").encode()
        if len(data) != HEAD_SIZE:
            raise OSError(f"head of {len(data)} bytes for a {HEAD_SIZE}-byte block")
        if self._head_fd is not None and self._head_for == records:
            os.pwrite(self._head_fd, data, 0)
            return
        self.close()
        path = self.head_path(records)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        self._head_fd, self._head_for = os.open(path, os.O_WRONLY), records

    def close(self) -> None:
        if self._head_fd is not None:
            os.close(self._head_fd)
        self._head_fd, self._head_for = None, None

    def read_head(self, records: Path) -> Head | None:
        """The head file, checked against the key; None if there is none. A forged head is an error."""
        path = self.head_path(records)
        for attempt in range(3):
            try:
                data = json.loads(path.read_text())
                head = Head(str(data["records_id"]), int(data["seq"]), str(data["hash"]), float(data["time"]),
                            str(data["mac"]))
            except FileNotFoundError:
                return None
            except (OSError, ValueError, KeyError, TypeError) as exc:
                problem = f"head file {path} is unreadable ({exc})"
            else:
                if hmac.compare_digest(head.mac, self._mac(head.records_id, head.seq, head.hash)):
                    return head
                problem = f"head file {path} is not signed with this key (edited, or another key's)"
            # Read while the writer overwrote it (the block is rewritten in place): read it again.
            time.sleep(0.01 * (attempt + 1))
        raise RecordsError(problem)


def meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def head_problem(conn: sqlite3.Connection, head: Head | None, records: Path) -> str | None:
    """Whether the database still holds the head it last committed: None when it does."""
    records_id = meta(conn, "records_id")
    row = conn.execute("SELECT seq FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    last = row[0] if row else 0
    if head is None:
        return (f"no head file for {records.name}: a deleted tail or an older copy of the file cannot be ruled "
                f"out" if last else None)
    if head.records_id != records_id:
        return (f"the head file belongs to another records database (id {head.records_id}, this one "
                f"{records_id}): the file was replaced")
    if last < head.seq:
        return (f"the records end at audit entry {last} but their head says {head.seq} (written "
                f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(head.time))}): entries were deleted or the "
                f"file was replaced by an older copy")
    at = conn.execute("SELECT hash FROM audit WHERE seq = ?", (head.seq,)).fetchone()
    if head.seq and (at is None or at[0] != head.hash):
        return (f"audit entry {head.seq} differs from the head file's: the chain was rewritten or the file "
                f"replaced")
    return None

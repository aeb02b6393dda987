"""Instruments reserved for a run, on one bench, across every labd process that drives it.

A run claims what its parameters name: a whole instrument (a heat source, a balance, a calibrator) or some
channels of a readout (a stability run on channel 1 while a check uses channel 3). The claims of one run are
granted together or not at all, so two runs never share what one of them drives.

The grant is an advisory lock (`flock`) on a file per instrument and per channel in `<data>/locks/`: a whole
instrument takes the instrument's file exclusively, a channel takes it shared and the channel's file
exclusively. `flock` locks conflict between separate open files even within one process, so the service's
runs and a `labd run` in another terminal exclude each other alike, with no check-then-act race; and the
kernel releases them when a process dies, so a killed process never leaves an instrument reserved. Beside
each lock a holder file says which run holds it, for the refusal message and the live views.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

# instrument id → the channels claimed, or None for the whole instrument
Claims = Mapping[str, "frozenset[int] | None"]


class Conflict(Exception):
    """A claim that another run holds; `holders` names the runs in the way."""

    def __init__(self, instrument: str, channel: int | None, holders: list[str]) -> None:
        self.instrument, self.channel, self.holders = instrument, channel, holders
        what = instrument if channel is None else f"{instrument} channel {channel}"
        held = ", ".join(holders) if holders else "another run"
        super().__init__(f"{what} is in use by run {held}")


def describe(claims: Claims) -> str:
    parts = []
    for iid, channels in sorted(claims.items()):
        parts.append(iid if channels is None else f"{iid} (channel{'s' if len(channels) > 1 else ''} "
                                                  f"{', '.join(map(str, sorted(channels)))})")
    return ", ".join(parts) or "no instruments"


def overlaps(a: Claims, b: Claims) -> bool:
    """Whether two sets of claims cannot be granted at once."""
    for iid, channels in a.items():
        if iid in b:
            other = b[iid]
            if channels is None or other is None or channels & other:
                return True
    return False


@dataclass
class Reservation:
    """The locks one run holds; `release()` (or the process ending) gives them back."""
    run_id: str
    claims: dict[str, frozenset[int] | None]
    _files: list[tuple[int, Path]] = field(default_factory=list)

    def release(self) -> None:
        for fd, holder in reversed(self._files):
            with contextlib.suppress(OSError):
                holder.unlink()
            with contextlib.suppress(OSError):
                os.close(fd)      # closing the file releases its flock
        self._files.clear()

    @property
    def held(self) -> bool:
        return bool(self._files)


class Reservations:
    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)

    def _lock_names(self, iid: str, channels: frozenset[int] | None) -> Iterator[tuple[str, int | None, int]]:
        if channels is None:
            yield iid, None, fcntl.LOCK_EX
        else:
            yield iid, None, fcntl.LOCK_SH
            for ch in sorted(channels):
                yield f"{iid}.ch{ch}", ch, fcntl.LOCK_EX

    def acquire(self, run_id: str, claims: Claims) -> Reservation:
        """All the claims, or Conflict naming the first one held elsewhere (nothing is kept then)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        reservation = Reservation(run_id, dict(claims))
        try:
            for iid in sorted(claims):
                for name, channel, mode in self._lock_names(iid, claims[iid]):
                    path = self.folder / f"{name}.lock"
                    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
                    try:
                        fcntl.flock(fd, mode | fcntl.LOCK_NB)
                    except BlockingIOError:
                        os.close(fd)
                        raise Conflict(iid, channel, self.holders(name)) from None
                    holder = self.folder / f"{name}.holder.{run_id}"
                    holder.write_text(json.dumps({"run_id": run_id, "pid": os.getpid()}))
                    reservation._files.append((fd, holder))
        except BaseException:
            reservation.release()
            raise
        return reservation

    def holders(self, name: str) -> list[str]:
        """Runs whose process is alive and holds the lock `name` (stale holder files are removed)."""
        out = []
        for path in sorted(self.folder.glob(f"{name}.holder.*")):
            try:
                data = json.loads(path.read_text())
                os.kill(int(data["pid"]), 0)
            except ProcessLookupError:
                with contextlib.suppress(OSError):
                    path.unlink()
                continue
            except (OSError, ValueError, KeyError):
                continue
            out.append(str(data["run_id"]))
        return out

    def held(self) -> dict[str, list[str]]:
        """Every instrument (or `instrument.chN`) held by a live run on this bench, with its holders."""
        names = {p.name.split(".holder.")[0] for p in self.folder.glob("*.holder.*")} if self.folder.is_dir() \
            else set()
        return {name: h for name in sorted(names) if (h := self.holders(name))}

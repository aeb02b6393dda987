"""A null-modem cable between two pseudo-terminals, for devices whose server opens a serial path itself.

pymodbus's serial server opens a device path, and so does the client: a single pty pair gives only one
path, so two pairs are joined by relaying bytes between their master sides (what `socat pty pty` does).
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import tty
from pathlib import Path


class NullModem:
    def __init__(self) -> None:
        self._pairs: list[tuple[int, int]] = []
        self.device_end = self.client_end = ""

    def open(self, directory: Path, name: str) -> tuple[str, str]:
        """Returns (device path, client path), as stable symlinks in `directory`."""
        loop = asyncio.get_running_loop()
        paths = []
        for end in ("device", "client"):
            master, slave = os.openpty()
            tty.setraw(slave)
            os.set_blocking(master, False)
            self._pairs.append((master, slave))
            link = Path(directory) / f"{name}.{end}"
            with contextlib.suppress(FileNotFoundError):
                link.unlink()
            link.symlink_to(os.ttyname(slave))
            paths.append(str(link))
        (a, _), (b, _) = self._pairs
        loop.add_reader(a, self._relay, a, b)
        loop.add_reader(b, self._relay, b, a)
        self.device_end, self.client_end = paths
        return self.device_end, self.client_end

    @staticmethod
    def _relay(src: int, dst: int) -> None:
        try:
            data = os.read(src, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # the other side closed its end: nothing to carry
            return
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(dst, data)

    def close(self) -> None:
        loop = asyncio.get_running_loop()
        for master, slave in self._pairs:
            with contextlib.suppress(Exception):
                loop.remove_reader(master)
            for fd in (master, slave):
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._pairs.clear()

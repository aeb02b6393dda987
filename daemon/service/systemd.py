"""systemd's notification protocol (sd_notify), for `Type=notify` units: READY=1 once the service records and
serves, WATCHDOG=1 while it is healthy, STOPPING=1 on the way out. Outside systemd (no $NOTIFY_SOCKET) every
call does nothing. The protocol is one datagram on a Unix socket; it needs no library."""
from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable

log = logging.getLogger("labd.systemd")


def notify(state: str) -> bool:
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):          # an abstract socket
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
        return True
    except OSError as exc:
        log.warning("systemd notification %r not sent: %s", state, exc)
        return False


def watchdog_interval() -> float | None:
    """Half the watchdog period systemd asked for (WATCHDOG_USEC for this process), or None."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 2e6
    except ValueError:
        return None


async def watchdog(healthy: Callable[[], bool]) -> None:
    """Pet the watchdog while `healthy()`; when it is not, stay silent so that systemd restarts the service."""
    interval = watchdog_interval()
    if interval is None:
        return
    while True:
        if healthy():
            notify("WATCHDOG=1")
        await asyncio.sleep(interval)

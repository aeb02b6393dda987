"""The event loop the daemon runs on: uvloop where it is installed, asyncio's own otherwise.

Why: at saturation about two fifths of the daemon's time went to the event loop's own machinery (epoll,
handles, the socket transports' writes; bench/daemon_throughput.py, issue 18). uvloop runs the same asyncio
programs on libuv; run back to back it raised the daemon/drivers ratio from 0.52 to 0.59, a modest gain next to
the development VM's own drift (docs/performance.md). Nothing in labd depends on which loop runs it; the suite runs under asyncio's loop and the
command-line runs under the daemon's, so both are exercised.

`LABD_EVENT_LOOP=asyncio` chooses asyncio's loop (to rule the loop out when chasing a fault); `uvloop` insists
on uvloop and says so in one line when it is missing.
"""
from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
CHOICES = ("uvloop", "asyncio")


class EventLoopError(Exception):
    """LABD_EVENT_LOOP names no loop this machine can run."""


def loop_factory(choice: str | None = None) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The factory of the loop chosen by `choice` (default: LABD_EVENT_LOOP, else uvloop when it imports);
    None for asyncio's own."""
    choice = (choice if choice is not None else os.environ.get("LABD_EVENT_LOOP", "")).strip().lower()
    if choice not in ("", *CHOICES):
        raise EventLoopError(f"LABD_EVENT_LOOP={choice!r}: expected one of {', '.join(CHOICES)}")
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise EventLoopError("LABD_EVENT_LOOP=uvloop, but uvloop is not installed here") from None
        return None
    return uvloop.new_event_loop


def name(factory: Callable[[], asyncio.AbstractEventLoop] | None) -> str:
    return "asyncio" if factory is None else "uvloop"


def run(main: Coroutine[Any, Any, T], choice: str | None = None) -> T:
    """`asyncio.run(main)` on the daemon's loop."""
    try:
        factory = loop_factory(choice)
    except EventLoopError:
        main.close()       # never awaited: closed so that Python does not warn about it
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)

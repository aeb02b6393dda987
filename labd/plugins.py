"""Extension points: drivers and procedures (and their simulators) that other packages register through Python
entry points, beside labd's own.

    [project.entry-points."labd.drivers"]       name = "package.module:DriverClass"
    [project.entry-points."labd.procedures"]    name = "package.module"   (the procedure module)
    [project.entry-points."labd.simulators"]    name = "package.module:make_device"   (same name as the driver)

A registry is loaded on first use. A plugin that fails to load, or that would replace a built-in, is left out
with one warning naming it and why: a broken extension must not stop the lab's own instruments.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from importlib import metadata
from typing import Any, Generic, TypeVar

log = logging.getLogger("labd.plugins")
T = TypeVar("T")


class Registry(Mapping[str, T], Generic[T]):
    """Built-in entries plus those of an entry-point group; `accept(name, obj)` checks and converts a plugin's
    object (raising TypeError or ValueError when it is not what the group expects)."""

    def __init__(self, group: str, builtin: Mapping[str, T], accept: Callable[[str, Any], T]) -> None:
        self.group = group
        self._builtin = dict(builtin)
        self._accept = accept
        self._entries: dict[str, T] | None = None
        self.origin: dict[str, str] = {name: "labd" for name in builtin}
        self.failures: dict[str, str] = {}

    def _load(self) -> dict[str, T]:
        if self._entries is not None:
            return self._entries
        entries = dict(self._builtin)
        for ep in metadata.entry_points(group=self.group):
            dist = ep.dist.name if ep.dist is not None else "?"
            if ep.name in entries:
                self.failures[ep.name] = f"{dist} would replace {self.origin.get(ep.name, 'another plugin')}'s"
                log.warning("plugin %s %r from %s ignored: the name is taken", self.group, ep.name, dist)
                continue
            try:
                entries[ep.name] = self._accept(ep.name, ep.load())
            except Exception as exc:   # any failure of someone else's code is reported, never fatal
                self.failures[ep.name] = f"{dist}: {type(exc).__name__}: {exc}"
                log.warning("plugin %s %r from %s not loaded: %s", self.group, ep.name, dist, exc)
                continue
            self.origin[ep.name] = dist
        self._entries = entries
        return entries

    def __getitem__(self, name: str) -> T:
        return self._load()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    def reload(self) -> None:
        """Look for plugins again (after one was installed in this process, as a test does)."""
        self._entries = None
        self.failures.clear()
        self.origin = {name: "labd" for name in self._builtin}

"""The lab's other benches, as their services publish them: every station's retained status and run states on
`<lab>/+/status` and `<lab>/+/runs/+/state` (the topics each service already keeps; `<lab>` is the first level of
this service's own root, `labd`). Read only: a bench never acts for another; a person sends a command to the
bench that runs the procedure, on its own topics.

What the dashboard's fleet view and `status.fleet` show: per station, online or offline (the broker's will says
so when a bench drops off), its instruments, and its runs in progress or queued.
"""
from __future__ import annotations

import json
import time
from typing import Any

ACTIVE = ("created", "queued", "running", "paused", "waiting")     # a run state the view lists
MAX_STATIONS = 200          # a bound on what a misbehaving publisher can make this service keep
MAX_RUNS = 50               # per station: runs in progress and queued


class Fleet:
    def __init__(self, lab_root: str) -> None:
        self.lab_root = lab_root.rstrip("/")
        self.stations: dict[str, dict[str, Any]] = {}

    @property
    def subscriptions(self) -> tuple[str, ...]:
        return f"{self.lab_root}/+/status", f"{self.lab_root}/+/runs/+/state"

    def take(self, topic: str, payload: bytes) -> bool:
        """One message of the lab's topics; True when the fleet changed. Anything else (or malformed) is ignored:
        these are other services' publications, not commands."""
        parts = topic.split("/")
        prefix = self.lab_root.split("/")
        if parts[:len(prefix)] != prefix:
            return False
        rest = parts[len(prefix):]
        try:
            data = json.loads(payload) if payload else None
        except ValueError:
            return False
        if len(rest) == 2 and rest[1] == "status" and isinstance(data, dict):
            station = self._station(rest[0])
            if station is None:
                return False
            station["status"] = {"state": str(data.get("state", "unknown")), "reason": data.get("reason"),
                                 "simulated": bool(data.get("simulated", False)),
                                 "instruments": [str(i) for i in data.get("instruments", [])][:100]}
            station["seen"] = time.time()
            return True
        if len(rest) == 4 and rest[1] == "runs" and rest[3] == "state":
            station = self._station(rest[0])
            if station is None:
                return False
            runs = station["runs"]
            if not isinstance(data, dict) or data.get("state") not in ACTIVE:
                return runs.pop(rest[2], None) is not None        # an emptied retained state, a finished run
            if rest[2] not in runs and len(runs) >= MAX_RUNS:
                return False
            runs[rest[2]] = {"run_id": rest[2], "state": str(data.get("state")), "procedure": data.get("procedure"),
                             "operator": data.get("operator"), "progress": data.get("progress")}
            station["seen"] = time.time()
            return True
        return False

    def _station(self, name: str) -> dict[str, Any] | None:
        if name not in self.stations:
            if len(self.stations) >= MAX_STATIONS:
                return None
            self.stations[name] = {"station": name, "status": {"state": "unknown"}, "runs": {}, "seen": None}
        return self.stations[name]

    def view(self) -> list[dict[str, Any]]:
        """Every station known, by name, with its runs as a list."""
        return [{**s, "runs": list(s["runs"].values())} for _, s in sorted(self.stations.items())]

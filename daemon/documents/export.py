"""A run's record as CSV (its readings, one per row) or JSON (run, readings, events and results).

Each reading also says whether the results used it (`used_in_results`): a reading kept with `used = 0` (taken
while out of limits) is not, nor is one of a point that was interrupted by a crash and measured again."""
from __future__ import annotations

import csv
import dataclasses
import io
import json

from labd.daemon.records import TABLES, RecordsReader
from labd.procedures.context import interrupted


def export_run(reader: RecordsReader, run_id: str, fmt: str) -> str:
    """Raises ReportError when the records fail verification: an export is a document too."""
    from .reports import verified
    summary = reader.run(run_id)
    verified(reader, run_id)
    readings = reader.readings(run_id)
    events = reader.events(run_id)
    _, completed_in = reader.completed_points(run_id)
    for r in readings:
        r["used_in_results"] = int(bool(r["used"]) and not interrupted(r["point"], r["attempt"], completed_in))
    if fmt == "csv":
        out = io.StringIO()
        cols = ["id", *(c for c in TABLES["readings"] if c != "run_id"), "used_in_results"]
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(cols)
        for r in readings:
            writer.writerow([r[c] for c in cols])
        return out.getvalue()
    return json.dumps({"run": dataclasses.asdict(summary), "readings": readings, "events": events,
                       "results": reader.results(run_id)}, indent=1, ensure_ascii=False) + "\n"

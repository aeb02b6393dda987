"""A run's record as CSV (its readings, one per row) or JSON (run, readings, events and results)."""
from __future__ import annotations

import csv
import dataclasses
import io
import json

from .records import TABLES, RecordsReader


def export_run(reader: RecordsReader, run_id: str, fmt: str) -> str:
    summary = reader.run(run_id)
    readings = reader.readings(run_id)
    if fmt == "csv":
        out = io.StringIO()
        cols = ["id", *(c for c in TABLES["readings"] if c != "run_id")]
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(cols)
        for r in readings:
            writer.writerow([r[c] for c in cols])
        return out.getvalue()
    return json.dumps({"run": dataclasses.asdict(summary), "readings": readings,
                       "events": reader.events(run_id), "results": reader.results(run_id)},
                      indent=1, ensure_ascii=False) + "\n"

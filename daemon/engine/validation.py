"""A software validation as a run of the record (SOP Validasi Software steps 6–8): the report of `labd validate`
is kept as the results of a run of the pseudo-procedure `software-validation`, so it is chained, verified,
checked by a supervisor and authorised by the technical manager exactly like a certificate (`labd sign`), and
`labd report` gives it again, issued, from the record.

The run's version is the version of labd validated; what identifies the software (commit, SHA-256 of the calc
source and of the lock file) is in its results, so a signature signs those too.
"""
from __future__ import annotations

import time
from typing import Any

from labd.daemon.config import Config
from labd.daemon.records import Records

from .runner import RunRefused, new_run_id

PROCEDURE = "software-validation"


def check_validator(config: Config, operator: str) -> None:
    """The one who makes the report (SOP step 6) is in the competence register, a technician at least."""
    entry = config.operators.get(operator)
    if entry is None:
        raise RunRefused(f"operator {operator!r} is not in the competence register (operators.toml)")
    if not entry.at_least("technician"):
        raise RunRefused(f"{operator} ({entry.role}) may not make a validation report: it takes a technician")


async def record_validation(records: Records, config: Config, report: dict[str, Any], operator: str,
                            cases: str) -> str:
    """Record the validation `report` as a completed run by `operator`; returns its run id."""
    check_validator(config, operator)
    run_id = new_run_id(station=config.lab.station)
    software = report["software"]
    declared = {"software": software["name"], "cases": cases}
    await records.create_run(run_id=run_id, procedure=PROCEDURE, version=str(software["version"]),
                             operator=operator, station=config.lab.station, params=declared, resolved=declared,
                             simulated=False)
    await records.result(run_id, "results", report)
    records.event(run_id, 1, time.time(), "state", {"state": "completed"})
    await records.flush()
    return run_id

"""Amendments (ISO/IEC 17025 7.5.2): correcting a run's recorded information without touching the record.

Only declared information may be corrected — the parameters a procedure marks `amendable` (customer, work
order, the item's description and serial): nothing a measurement or a calculation used. A wrong reading, set
point or standard is not amended but measured again, because a result must follow from what was measured.
The correction is a row of its own that names the run and the field, with the value before and after, who,
from where and why; documents show the amended value and say so.
"""
from __future__ import annotations

from labd.daemon.config import Config
from labd.daemon.records import RunSummary
from labd.procedures import PROCEDURES
from labd.procedures.params import amendable

from .runner import RunRefused


def check_amendment(config: Config, summary: RunSummary, field: str, value: str, operator: str) -> None:
    """Refuse (RunRefused, one line) unless `operator` may set `field` of this run to `value`."""
    info = PROCEDURES.get(summary.procedure)
    if info is None:
        raise RunRefused(f"run {summary.run_id}: procedure {summary.procedure} is not installed")
    fields = amendable(info.parameters)
    if field not in fields:
        raise RunRefused(f"{field} of {summary.procedure} cannot be amended: only {', '.join(sorted(fields)) or 'nothing'}"
                         f"; what a measurement or calculation used is measured again, not amended")
    fields[field].check(field, value)
    if len(value) > 500 or not value.isprintable():
        raise RunRefused(f"{field}: at most 500 printable characters")
    entry = config.operators.get(operator)
    if config.operators and entry is None:
        raise RunRefused(f"operator {operator!r} is not in the competence register (operators.toml)")
    if entry is not None and operator != summary.operator and not entry.at_least("supervisor"):
        raise RunRefused(f"{operator} ({entry.role}) may not amend run {summary.run_id} of {summary.operator}: "
                         f"it takes the run's operator or a supervisor")

"""Review and approval of a run's document by electronic signature (SOP Kalibrasi Alat steps 5–8; ISO/IEC 17025
7.8.1.2, 7.8.8; 21 CFR 11.50/11.70 as the model of what a signature must carry).

A document goes draft → checked → authorised (= issued). Each step is a signature made with the signer's
password at that moment; the record keeps who, the meaning, when, from where, and the digest of what was
signed (the run's results and its declared information as amended). A signature counts only for the content
it signed: an amendment afterwards returns the document to draft, and issuing it again gives a new
certificate number that says which one it replaces (7.8.8).

Who: checking takes a supervisor (or the technical manager) who is not the run's operator; authorising takes
the technical manager, who is neither the run's operator nor its checker.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from labd.daemon.config import Config
from labd.daemon.config.passwords import PasswordError, Passwords
from labd.daemon.records import CertificateNumber, Records, RecordsError, RecordsReader, RunSummary, content_digest, review

from .runner import RunRefused

MEANINGS = ("checked", "authorised")
log = logging.getLogger("labd.signatures")


def check_signature(config: Config, summary: RunSummary, signatures: list[dict], content: str, meaning: str,
                    operator: str) -> None:
    """Refuse (RunRefused, one line) unless `operator` may sign the run's document with `meaning` now."""
    if meaning not in MEANINGS:
        raise RunRefused(f"a signature means {' or '.join(MEANINGS)}, not {meaning!r}")
    if summary.state != "completed":
        raise RunRefused(f"run {summary.run_id} is {summary.state}: only a completed run's document is signed")
    entry = config.operators.get(operator)
    if entry is None:
        raise RunRefused(f"operator {operator!r} is not in the competence register (operators.toml)")
    if operator == summary.operator:
        raise RunRefused(f"{operator} ran {summary.run_id}: the operator cannot check or authorise their own "
                         f"work")
    now = review(signatures, content)
    if meaning == "checked":
        if not entry.at_least("supervisor"):
            raise RunRefused(f"{operator} ({entry.role}) may not check documents: it takes a supervisor")
        if now.checked is not None:
            raise RunRefused(f"run {summary.run_id} is already checked by {now.checked['operator']}")
        return
    if not entry.at_least("manager"):
        raise RunRefused(f"{operator} ({entry.role}) may not authorise documents: it takes the technical manager")
    if now.authorised is not None:
        raise RunRefused(f"run {summary.run_id} is already issued as {now.number}")
    if now.checked is None:
        raise RunRefused(f"run {summary.run_id} is not checked yet: a supervisor checks it first")
    if now.checked["operator"] == operator:
        raise RunRefused(f"{operator} checked {summary.run_id}: another person authorises it")


def certificate_number(config: Config, year: int) -> CertificateNumber:
    return CertificateNumber(config.lab.certificate_number, config.lab.code, year)


async def sign_document(records: Records, config: Config, run_id: str, meaning: str, operator: str, password: str,
                        source: str) -> str | None:
    """Check, verify the password typed now, and record the signature (the one way to sign, for the CLI, MQTT
    and the dashboard). Returns the certificate number when this signature issued it. Raises RunRefused."""
    def prepare() -> tuple[RunSummary, str, list[dict]]:
        with RecordsReader(records.path, records.keys) as reader:
            summary = reader.run(run_id)
            check = reader.verify(run_id)
            if not check.ok:
                raise RunRefused(f"the records fail verification ({check.problems[0]}): nothing is signed")
            return summary, content_digest(reader, run_id), reader.signatures(run_id)
    try:
        summary, content, signatures = await asyncio.to_thread(prepare)
    except RecordsError as exc:       # said without the records' path: the reply may go to a tablet
        log.warning("signing run %s: %s", run_id, exc)
        raise RunRefused(f"no run {run_id!r} on record" if str(exc).startswith("no run") else
                         "the records cannot be read; the service's log says more") from None
    check_signature(config, summary, signatures, content, meaning, operator)
    passwords = Passwords(records.keys)
    try:
        ok = await asyncio.to_thread(lambda: passwords.has(operator) and passwords.check(operator, password))
    except PasswordError as exc:
        raise RunRefused(str(exc)) from None
    if not ok:
        raise RunRefused(f"wrong password for {operator}, or none set (labd operators passwd {operator})")
    year = datetime.now(ZoneInfo(config.lab.timezone)).year
    authorising = meaning == "authorised"
    return await records.sign(run_id, meaning, operator, source, content,
                              certificate_number(config, year) if authorising else None)

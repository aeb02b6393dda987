"""Where a run's document stands in its review (engine/signatures.py has who may sign): the digest of what a
signature signs, and the state the signatures give for the current content."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from .reader import RecordsReader


def content_digest(reader: RecordsReader, run_id: str) -> str:
    """What a signature signs: the run's identity, its results and its declared information as amended."""
    summary = reader.run(run_id)
    resolved = reader.amended(run_id)
    results = [r["data"] for r in reader.results(run_id) if r["kind"] == "results"]
    text = json.dumps({"run": run_id, "procedure": summary.procedure, "version": summary.version,
                       "resolved": resolved, "results": results[-1] if results else None},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Review:
    """Where a run's document stands, for its current content."""
    state: str                        # draft, checked, issued
    checked: dict[str, Any] | None    # the signature rows that count
    authorised: dict[str, Any] | None
    number: str | None                # the certificate number when issued
    replaces: str | None              # the last number issued for an earlier content of this run


def review(signatures: list[dict], content: str) -> Review:
    current = [s for s in signatures if s["content"] == content]
    checked = next((s for s in reversed(current) if s["meaning"] == "checked"), None)
    authorised = next((s for s in reversed(current) if s["meaning"] == "authorised"), None)
    earlier = [s["certificate"] for s in signatures if s["meaning"] == "authorised" and s["content"] != content]
    replaces = earlier[-1] if earlier else None
    state = "issued" if authorised else "checked" if checked else "draft"
    return Review(state, checked, authorised, authorised["certificate"] if authorised else None, replaces)

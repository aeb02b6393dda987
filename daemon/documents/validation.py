"""The software-validation report as a document of the record (SOP Validasi Software steps 6–8): what was
validated (version, commit, SHA-256 of the calc source and of the lock file, the numerical libraries), every
published number compared with what calc computes, and the review signatures of the base template.

The cases' titles, sources and conventions are cited as their case files give them (the publications are in
English); everything the lab writes is in the document's language.
"""
from __future__ import annotations

from typing import Any

from .words import words

_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "validation_report": "Software validation report", "software": "Software",
        "software_version": "{name} version {version}", "calc_sha256": "SHA-256 of the calc source",
        "commit": "Commit", "commit_unknown": "not known (installed without its source history)",
        "lock_sha256": "SHA-256 of requirements.lock", "no_lock": "no lock file found",
        "libraries": "Numerical libraries", "python_platform": "Python / platform", "generated": "Run on",
        "validated_by": "Validation made by", "conventions": "Conventions",
        "conventions_text": "Intermediate values are never rounded; ν_eff is truncated to the integer below "
                            "before k is taken from Student's t (GUM G.4.1). Where a publication rounded its "
                            "intermediates, the case says so and its tolerance covers the difference.",
        "outcome": "Outcome", "reproduced": "{passed} of {checks} published numbers reproduced",
        "pass": "PASS", "fail": "FAIL", "source": "Source", "confidence": "confidence", "read_in": "Read in",
        "convention": "Convention", "col_command": "Command, input, result",
        "col_published": "Published", "col_expected": "Expected", "col_calculated": "Calculated",
        "col_tolerance": "Tolerance", "col_verdict": "Verdict",
        "conclusion_pass": "The software gives the same numbers as the published reference calculations within "
                           "the stated tolerances: it is fit for the calculations these cases cover.",
        "conclusion_fail": "The software does NOT reproduce every published number: it must not be used for "
                           "the calculations of the failing cases until corrected and validated again.",
    },
    "id": {
        "validation_report": "Laporan Hasil Validasi Software", "software": "Perangkat lunak",
        "software_version": "{name} versi {version}", "calc_sha256": "SHA-256 kode sumber calc",
        "commit": "Revisi (commit)", "commit_unknown": "tidak diketahui (dipasang tanpa riwayat kode sumber)",
        "lock_sha256": "SHA-256 requirements.lock", "no_lock": "berkas lock tidak ditemukan",
        "libraries": "Pustaka numerik", "python_platform": "Python / platform", "generated": "Dijalankan pada",
        "validated_by": "Validasi dibuat oleh", "conventions": "Konvensi",
        "conventions_text": "Nilai antara tidak pernah dibulatkan; ν_eff dibulatkan ke bawah ke bilangan bulat "
                            "sebelum k diambil dari distribusi t Student (GUM G.4.1). Bila suatu publikasi "
                            "membulatkan nilai antaranya, kasus tersebut menyatakannya dan toleransinya "
                            "mencakup selisihnya.",
        "outcome": "Hasil", "reproduced": "{passed} dari {checks} angka terbitan dihasilkan kembali",
        "pass": "LULUS", "fail": "GAGAL", "source": "Sumber", "confidence": "tingkat keyakinan",
        "read_in": "Dibaca pada", "convention": "Konvensi", "col_command": "Perintah, masukan, hasil",
        "col_published": "Terbitan", "col_expected": "Diharapkan",
        "col_calculated": "Dihitung", "col_tolerance": "Toleransi", "col_verdict": "Keputusan",
        "conclusion_pass": "Perangkat lunak menghasilkan angka yang sama dengan perhitungan acuan terbitan dalam "
                           "toleransi yang dinyatakan: layak dipakai untuk perhitungan yang dicakup kasus-kasus ini.",
        "conclusion_fail": "Perangkat lunak TIDAK menghasilkan kembali semua angka terbitan: tidak boleh dipakai "
                           "untuk perhitungan kasus yang gagal sampai diperbaiki dan divalidasi ulang.",
    },
}


def validation_words(lang: str) -> dict[str, str]:
    return {**words(lang), **_WORDS[lang]}


def _number(value: Any) -> str:
    if value is None:
        return "—"
    return f"{value:.10g}" if isinstance(value, float) else str(value)


def validation_context(rec: Any, lab: Any, lang: str) -> dict[str, Any]:
    w = validation_words(lang)
    r = rec.results
    software = r["software"]
    cases = [{**case, "checks": [{**check, "expected": _number(check.get("expected")),
                                  "actual": _number(check.get("actual")),
                                  "tolerance": check.get("rule") or _number(check.get("tolerance"))}
                                 for check in case["checks"]]} for case in r["cases"]]
    return {"w": w, "lang": lang, "lab": lab, "run": rec.summary, "title": w["validation_report"],
            "software": software, "libraries": ", ".join(f"{k} {v}" for k, v in
                                                         (software.get("dependencies") or {}).items()),
            "generated": r["generated"].replace("T", " "), "passed": r["passed"], "cases": cases,
            "outcome": w["reproduced"].format(passed=r["checks"] - r["failed"], checks=r["checks"])}

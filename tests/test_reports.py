"""Documents rendered from the record and read back: PDFs turned into PNG pages (pdftoppm) and text
(pdftotext), in English and Indonesian."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from labd.daemon.records import Records, RecordsReader
from labd.daemon.documents import ReportError, load, render

from .conftest import REPO
from .simlab import day, run_procedure, simulated


def pdf_text(path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout


def pdf_pages(path, out_dir) -> list:
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(path), str(out_dir / "page")], check=True)
    return [Image.open(p).convert("RGB") for p in sorted(out_dir.glob("page-*.png"))]


def has_colour(image, rgb, tolerance=40) -> bool:
    """True when some pixel is close to `rgb` (the charts' series colour, say)."""
    pixels = np.asarray(image, dtype=int).reshape(-1, 3)
    return bool((np.abs(pixels - np.array(rgb)).sum(axis=1) < tolerance).any())


async def _recorded(tmp_path, name, params=None, **kw):
    records = await Records(tmp_path / "labd.sqlite").open()
    try:
        async with simulated(**kw) as (config, instruments, lab, standards):
            outcome, ctx = await run_procedure(name, params, lab=lab, instruments=instruments, standards=standards,
                                               config=config, records=records, run_id=f"{name}-1")
    finally:
        await records.close()
    return config, outcome


async def test_balance_certificate_in_indonesian_carries_results_standards_and_conditions(tmp_path):
    config, outcome = await _recorded(tmp_path, "balance-calibration",
                                      {"repetitions": "3", "customer": "PT Contoh", "work_order": "WO-88"})
    paths = render(load(tmp_path / "labd.sqlite", "balance-calibration-1"), config.lab, "id", tmp_path / "out")
    pdf = next(p for p in paths if p.suffix == ".pdf")
    text = pdf_text(pdf)
    # The balance's serial as it reported it (MT-SICS I4), not a declared default.
    for expected in ("Sertifikat Kalibrasi (konsep)", "KONSEP", "1126493049", "PT Contoh", "WO-88",
                     "KAL-2025/0212/MASSA", "12 Maret 2027", "Diperiksa oleh", "Disetujui oleh", "Kondisi lingkungan",
                     "Instrumen simulasi", "JCGM 100:2008", "Timbangan bukan otomatis",
                     "Ketidakpastian hasil penimbangan W", "Lampiran: anggaran ketidakpastian", "CIPM-2007"):
        assert expected in text, expected     # the item described in Indonesian when nothing was declared
    for r in outcome.result.loads:           # every reported error and U, as rounded, with a decimal comma
        e, U = r.reported()
        assert e.replace(".", ",") in text and U.replace(".", ",") in text
    page = pdf_pages(pdf, tmp_path)[0]
    assert page.size[0] > 300 and has_colour(page, (176, 0, 0))        # the red draft banner is drawn


async def test_thermometer_certificate_in_english(tmp_path):
    config, outcome = await _recorded(tmp_path, "thermometer-calibration",
                                      {"set_points": "30,50", "repetitions": "3", "stability.window": "6"}, speed=400)
    paths = render(load(tmp_path / "labd.sqlite", "thermometer-calibration-1"), config.lab, "en", tmp_path / "out",
                   ("pdf",))
    text = pdf_text(next(p for p in paths if p.suffix == ".pdf"))
    assert "Calibration certificate (draft)" in text and "KAL-2025/0631/SUHU" in text
    assert "Platinum resistance thermometer with readout" in text
    assert "The correction is to be added" in text
    for r in outcome.results:
        assert r.reported()[0] in text and r.reported()[1] in text
    assert text.count("95.45") >= len(outcome.results)            # the coverage probability of each U


async def test_equipment_check_report_has_its_charts_verdict_and_dates(tmp_path):
    records = await Records(tmp_path / "labd.sqlite").open()
    try:
        for i, when in enumerate(["2026-02-01", "2026-02-02", "2026-02-03", "2026-02-04"]):
            async with simulated(start=day(when + "T09:00"), seed=i) as (config, instruments, lab, standards):
                outcome, _ = await run_procedure("equipment-check", {"calibrated_on": "2026-01-15"}, lab=lab,
                                                 instruments=instruments, standards=standards, config=config,
                                                 records=records, run_id=f"eq-{i}")
    finally:
        await records.close()
    pdf = render(load(tmp_path / "labd.sqlite", "eq-3"), config.lab, "en", tmp_path / "out", ("pdf",))[0]
    text = pdf_text(pdf)
    for expected in ("Intermediate check report", "Control chart", "Drift", "Verdict", "within tolerance",
                     "Decision rule", "Simple acceptance (ILAC-G8:09/2019 4.2.1)", "Recommended next calibration", outcome.recommendation.next_calibration.isoformat(),
                     "Next check due", "2026-02-05"):
        assert expected in text, expected
    assert all(c["date"] in text for c in outcome.checks)
    pages = pdf_pages(pdf, tmp_path)
    assert any(has_colour(p, (31, 78, 121)) for p in pages)     # the data series of the charts


async def test_working_standard_check_report_in_indonesian(tmp_path):
    records = await Records(tmp_path / "labd.sqlite").open()
    try:
        for i, when in enumerate(["2026-03-02", "2026-03-03"]):
            async with simulated(start=day(when + "T08:00"), seed=i) as (config, instruments, lab, standards):
                outcome, _ = await run_procedure("working-standard-check", {"readings": "4", "stability.window": "6"},
                                                 lab=lab, instruments=instruments, standards=standards,
                                                 config=config, records=records, run_id=f"ws-{i}")
    finally:
        await records.close()
    pdf = render(load(tmp_path / "labd.sqlite", "ws-1"), config.lab, "id", tmp_path / "out", ("pdf",))[0]
    text = pdf_text(pdf)
    for expected in ("Laporan cek antara", "Bagan kendali", "Kesimpulan", "2 Maret 2026", "3 Maret 2026",
                     "PENUGASAN-2025/07", "Alat yang dicek", "hari ke-2 dari 10: sementara", "Aturan keputusan",
                     "|E_n| ≤ 1"):
        assert expected in text, expected
    assert "provisionally" not in text and "Alat yang dikalibrasi" not in text      # Indonesian throughout


async def test_solution_standardisation_report_gives_the_concentration_its_budget_and_the_replicates(tmp_path):
    config, outcome = await _recorded(tmp_path, "solution-standardisation", {"replicates": "3"})
    pdf = render(load(tmp_path / "labd.sqlite", "solution-standardisation-1"), config.lab, "id", tmp_path / "out",
                 ("pdf",))[0]
    assert pdf.name == "standardisation-report-solution-standardisation-1-id.pdf"
    text = pdf_text(pdf)
    value, U = outcome.result.outputs["c"].reported()
    comma = {"value": value.replace(".", ","), "U": U.replace(".", ",")}
    for expected in ("Laporan pembakuan larutan", "Baku primer", "C8H5KO4", "204,2212", f"c = {comma['value']} mol/L",
                     f"U = {comma['U']} mol/L", "Normalitas", "Anggaran ketidakpastian", "kalibrasi buret", "berat atom K",
                     "Diperiksa oleh"):
        assert expected in text, expected
    for r in outcome.replicates:
        assert f"{r['volume']:.2f}".replace(".", ",") in text
    html = render(load(tmp_path / "labd.sqlite", "solution-standardisation-1"), config.lab, "en", tmp_path / "out",
                  ("html",))[0].read_text()
    assert "Solution standardisation report" in html and "burette calibration" in html


async def test_stability_report_has_the_readings_statistics_and_traceability(tmp_path):
    config, outcome = await _recorded(tmp_path, "stability-run", {"duration_hours": "0.1", "interval": "30"},
                                      speed=600)
    pdf = render(load(tmp_path / "labd.sqlite", "stability-run-1"), config.lab, "en", tmp_path / "out", ("pdf",))[0]
    text = pdf_text(pdf)
    for expected in ("Stability run report", "ref_readout, channel 1", "dry_block, 50 °C", "KAL-2025/0631/SUHU",
                     f"{outcome.mean:.4f} °C", f"{outcome.sd:.4f} °C", f"{outcome.corrected_mean:.4f} °C",
                     f"{outcome.corrected_mean - 50:+.4f} °C", "Drift per hour", "Environmental conditions",
                     "Still settling"):
        assert expected in text, expected
    assert "not recorded" not in text
    pages = pdf_pages(pdf, tmp_path)
    assert any(has_colour(p, (31, 78, 121)) for p in pages)     # the readings are drawn


async def test_no_document_for_an_unfinished_run(tmp_path):
    records = await Records(tmp_path / "labd.sqlite").open()
    try:
        async with simulated() as (config, instruments, lab, standards):
            with pytest.raises(Exception):
                await run_procedure("solution-standardisation", {}, lab=lab, instruments=instruments,
                                    standards=standards, config=config, records=records, run_id="broken",
                                    answers={"volume_1": "n/a"})
    finally:
        await records.close()
    with pytest.raises(ReportError, match="run broken is failed: documents are made from completed runs only"):
        load(tmp_path / "labd.sqlite", "broken")


def test_validation_report_as_pdf(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "labd", "validate", "--out", str(tmp_path)], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    text = pdf_text(tmp_path / "validation-report.pdf")
    assert "PASS" in text and "GUM" in text
    assert len(pdf_pages(tmp_path / "validation-report.pdf", tmp_path)) >= 2


async def test_a_declared_serial_that_differs_from_the_reported_one_is_asked_about_and_both_are_recorded(tmp_path):
    records = await Records(tmp_path / "labd.sqlite").open()
    try:
        async with simulated() as (config, instruments, lab, standards):
            await run_procedure("balance-calibration", {"repetitions": "2", "uut_serial": "TMB-2026-017"}, lab=lab,
                                instruments=instruments, standards=standards, config=config, records=records,
                                run_id="b1", answers={"item_serial": "1126493049"})
    finally:
        await records.close()
    with RecordsReader(tmp_path / "labd.sqlite") as reader:
        (asked,) = [e for e in reader.events("b1", "prompt") if e["data"]["key"] == "item_serial"]
        (item,) = reader.events("b1", "item")
    assert "reports serial 1126493049, but TMB-2026-017 was declared" in asked["data"]["question"]
    assert item["data"] == {"serial": "1126493049", "declared_serial": "TMB-2026-017",
                            "reported_serial": "1126493049", "manufacturer": "Mettler Toledo",
                            "model": item["data"]["model"]}


async def test_the_item_is_described_in_each_documents_language_as_declared(tmp_path):
    config, _ = await _recorded(tmp_path, "dmm-calibration",
                                {"repetitions": "2", "points": "1", "uut_description": "Bench multimeter, 6½ digits",
                                 "uut_description_id": "Multimeter meja, 6½ digit"})
    rec = load(tmp_path / "labd.sqlite", "dmm-calibration-1")
    en = pdf_text(next(p for p in render(rec, config.lab, "en", tmp_path / "en", ("pdf",)) if p.suffix == ".pdf"))
    id_ = pdf_text(next(p for p in render(rec, config.lab, "id", tmp_path / "id", ("pdf",)) if p.suffix == ".pdf"))
    assert "Bench multimeter, 6½ digits" in en and "Multimeter meja" not in en
    assert "Multimeter meja, 6½ digit" in id_ and "Bench multimeter" not in id_


def test_every_word_of_the_documents_exists_in_both_languages():
    """A key missing in one language would raise (or fall back to English) only in that language's document."""
    from labd.daemon.documents.validation import _WORDS
    from labd.daemon.documents.words import TEXT
    for table in (TEXT, _WORDS):
        assert set(table["en"]) == set(table["id"]), set(table["en"]) ^ set(table["id"])
        assert all(table["id"][k] for k in table["id"]), "an empty Indonesian entry"


def test_every_recommendation_calc_makes_is_translated():
    from labd.daemon.documents.words import translated
    for reason in ("out of tolerance: adjust or recalibrate now", "no significant drift: the maximum interval",
                   "the deviation with its uncertainty already reaches the tolerance: calibrate now",
                   "the drift stays within tolerance up to the maximum interval",
                   "the drift already reaches the tolerance: calibrate now",
                   "drift 1.2e-05/day reaches the tolerance (with k=2.57 uncertainty) after 212 days"):
        assert translated(reason, "id") != reason, reason


def test_the_staircase_recommendation_is_translated():
    from labd.daemon.documents.words import translated
    text = "staircase (ILAC-G24 method 1): within tolerance, the interval of 365 days lengthened to 456 days"
    assert translated(text, "id").startswith("metode tangga") and "456 hari" in translated(text, "id")

"""Documents laid out for paper (issue 15, item 6): nothing runs off a page, no page holds only the signatures,
every column says its unit. Pages read back with pdftotext and rendered with pdftoppm."""
from __future__ import annotations

import subprocess

import numpy as np
import pytest

from labd.daemon.documents import load, render

from .test_reports import _recorded, pdf_pages

CASES = [
    ("balance-calibration", {"repetitions": "3"}, "id"),
    ("thermometer-calibration", {"set_points": "30,50", "repetitions": "3", "stability.window": "6"}, "en"),
    ("solution-standardisation", {"replicates": "3"}, "id"),
    ("solution-standardisation", {"replicates": "3"}, "en"),
]
SIGNATURE_WORDS = ("Checked by", "Approved by", "Technical supervisor", "Technical manager", "not signed",
                   "Diperiksa oleh", "Disetujui oleh", "Penyelia teknis", "Manajer teknis", "belum ditandatangani")


def page_texts(pdf) -> list[str]:
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return [p for p in text.split("\f") if p.strip()]


@pytest.mark.parametrize("procedure, params, lang", CASES)
async def test_nothing_runs_off_the_page_and_signatures_never_stand_alone(tmp_path, procedure, params, lang):
    config, _ = await _recorded(tmp_path, procedure, params, speed=400)
    written = render(load(tmp_path / "labd.sqlite", f"{procedure}-1"), config.lab, lang, tmp_path / "out", ("pdf",))
    pdf = next(p for p in written if p.suffix == ".pdf")
    for number, text in enumerate(page_texts(pdf), 1):
        lines = [line for line in text.splitlines() if line.strip()]
        body = [line for line in lines[:-2] if not any(w in line for w in SIGNATURE_WORDS)]
        # Beyond the signature lines and the footer, a page has content of its own.
        assert len(body) > 3, f"page {number} of {pdf.name} holds only signatures: {lines}"
    for number, page in enumerate(pdf_pages(pdf, tmp_path), 1):
        pixels = np.asarray(page.convert("L"), dtype=int)
        margin = pixels[:, -int(pixels.shape[1] * 0.03):]            # the outer 3 % of the page's width
        assert margin.min() > 200, f"page {number} of {pdf.name}: something runs into the right margin"


async def test_every_budget_column_says_its_unit(tmp_path):
    config, _ = await _recorded(tmp_path, "solution-standardisation", {"replicates": "3"})
    html = render(load(tmp_path / "labd.sqlite", "solution-standardisation-1"), config.lab, "en", tmp_path / "out",
                  ("html",))
    text = next(p for p in html if p.suffix == ".html").read_text()
    budget = text[text.index("Uncertainty budget"):]
    header = budget[budget.index("<thead>"):budget.index("</thead>")]
    for column in ("Unit", "Sensitivity coefficient (mol/L per unit)", "Contribution (mol/L)", "Share (%)"):
        assert column in header, column
    assert "<td>g</td>" in budget and "<td>mL</td>" in budget

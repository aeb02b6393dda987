"""Review and approval by electronic signature (issue 15, item 3): draft → checked → authorised (issued), each a
signature with the signer's password typed at that moment; the issued certificate has its number, no DRAFT
banner, and names both signers; an amendment afterwards needs a new issue that replaces the old number."""
from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

from labd.daemon.records import RecordsReader
from labd.procedures.thermometer_calibration import VERSION as THERMOMETER_VERSION

from .conftest import REPO

PASSWORDS = {"demo": "demo-password-1", "supervisor": "supervisor-password-1", "manager": "manager-password-1"}


def labd(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labd", *args], cwd=REPO, input=stdin, capture_output=True,
                          text=True, timeout=300)


def sign(run_id: str, meaning: str, operator: str, password: str | None = None) -> subprocess.CompletedProcess:
    return labd("sign", run_id, "--as", meaning, "--operator", operator,
                stdin=(password or PASSWORDS[operator]) + "\n")


def pdf_text(path) -> str:
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return re.sub(r"(?<=\w)- (?=\w)", "-", " ".join(text.split()))     # a name broken at its hyphen, joined


def test_checked_then_authorised_issues_the_certificate_and_an_amendment_needs_a_new_one(tmp_path):
    for operator, password in PASSWORDS.items():
        assert labd("operators", "passwd", operator, stdin=password + "\n").returncode == 0
    answers = REPO / "config" / "demo-answers.toml"
    run = labd("run", "thermometer-calibration", "--simulate", "--answers", str(answers), "--param", "set_points=30",
               "--param", "repetitions=3", "--param", "stability.window=6", "--out", str(tmp_path / "runs"))
    assert run.returncode == 0, run.stderr
    with RecordsReader(tmp_path / "labd.sqlite") as reader:
        run_id = reader.runs()[0].run_id

    own = sign(run_id, "checked", "demo")
    assert own.returncode == 1 and "cannot check or authorise their own work" in own.stderr
    early = sign(run_id, "authorised", "manager")
    assert early.returncode == 1 and "not checked yet" in early.stderr
    wrong = sign(run_id, "checked", "supervisor", "not-the-password")
    assert wrong.returncode == 1 and "wrong password" in wrong.stderr
    assert sign(run_id, "checked", "supervisor").returncode == 0
    role = sign(run_id, "authorised", "supervisor")
    assert role.returncode == 1 and "it takes the technical manager" in role.stderr
    issued = sign(run_id, "authorised", "manager")
    year = datetime.now(ZoneInfo("Asia/Makassar")).year
    assert issued.returncode == 0 and f"BPSMB-KAL/{year}/0001" in issued.stdout, issued.stderr

    docs = tmp_path / "docs"
    assert labd("report", run_id, "--format", "pdf", "--out", str(docs)).returncode == 0
    assert labd("report", run_id, "--format", "pdf", "--lang", "id", "--out", str(docs)).returncode == 0
    en, id_ = pdf_text(docs / f"certificate-{run_id}-en.pdf"), pdf_text(docs / f"certificate-{run_id}-id.pdf")
    for text in (en, id_):
        assert "DRAFT" not in text and "KONSEP" not in text
        assert f"BPSMB-KAL/{year}/0001" in text and "Penyelia Teknis" in text and "Manajer Teknis" in text
    assert "signed electronically" in en and "ditandatangani secara elektronik" in id_
    # The issued PDF is PDF/A-3 with its DCC inside, and the DCC beside it carries the same number.
    attached = subprocess.run(["pdfdetach", "-list", str(docs / f"certificate-{run_id}-en.pdf")],
                              capture_output=True, text=True, check=True).stdout
    assert f"dcc-{run_id}.xml" in attached
    info = subprocess.run(["pdfinfo", "-meta", str(docs / f"certificate-{run_id}-en.pdf")], capture_output=True,
                          text=True, check=True).stdout
    assert "pdfaid:part" in info and "3" in info.split("pdfaid:part")[1][:10]
    dcc = (docs / f"dcc-{run_id}.xml").read_text()
    assert f"<dcc:uniqueIdentifier>BPSMB-KAL/{year}/0001</dcc:uniqueIdentifier>" in dcc and "DRAFT" not in dcc

    with RecordsReader(tmp_path / "labd.sqlite") as reader:
        signatures = reader.signatures(run_id)
        refused = [c["outcome"] for c in reader.commands() if '"sign"' in c["payload"]]
        assert reader.verify().ok
    assert [(s["meaning"], s["operator"]) for s in signatures] == [("checked", "supervisor"),
                                                                   ("authorised", "manager")]
    # Every attempt is on record: own work, not checked yet, wrong password, checked, wrong role, authorised.
    assert [o.split(":")[0] for o in refused] == ["refused"] * 3 + ["ok", "refused", "ok"]
    assert "wrong password for supervisor" in refused[2]

    # 7.8.8: a change after issue is a new certificate that replaces the old one.
    assert labd("amend", run_id, "customer", "PT Maju Jaya", "--reason", "customer left out", "--operator", "demo",
                stdin=PASSWORDS["demo"] + "\n").returncode == 0
    assert labd("report", run_id, "--format", "pdf", "--out", str(docs)).returncode == 0
    assert "DRAFT" in pdf_text(docs / f"certificate-{run_id}-en.pdf")
    assert sign(run_id, "checked", "supervisor").returncode == 0
    again = sign(run_id, "authorised", "manager")
    assert again.returncode == 0 and f"BPSMB-KAL/{year}/0002" in again.stdout
    assert labd("report", run_id, "--format", "pdf", "--out", str(docs)).returncode == 0
    text = pdf_text(docs / f"certificate-{run_id}-en.pdf")
    assert f"BPSMB-KAL/{year}/0002" in text and f"replaces certificate BPSMB-KAL/{year}/0001" in text
    assert "PT Maju Jaya" in text and "DRAFT" not in text


ITEM = {"customer": "PT Contoh Sejahtera", "customer_address": "Jl. Pahlawan No. 10, Samarinda",
        "work_order": "WO-2026-0417", "received": "2026-11-20", "uut_manufacturer": "Contoh Instruments",
        "uut_model": "PT100-4W", "uut_condition": "good, no visible damage", "uut_serial": "UUT-0042"}


def test_the_issued_certificate_carries_what_17025_7_8_asks_in_both_languages(tmp_path):
    for operator, password in PASSWORDS.items():
        assert labd("operators", "passwd", operator, stdin=password + "\n").returncode == 0
    params = [a for k, v in ITEM.items() for a in ("--param", f"{k}={v}")]
    run = labd("run", "thermometer-calibration", "--simulate", "--answers", str(REPO / "config" / "demo-answers.toml"),
               "--param", "set_points=30", "--param", "repetitions=3", "--param", "stability.window=6", *params,
               "--out", str(tmp_path / "runs"))
    assert run.returncode == 0, run.stderr
    with RecordsReader(tmp_path / "labd.sqlite") as reader:
        run_id = reader.runs()[0].run_id
    assert sign(run_id, "checked", "supervisor").returncode == 0
    assert sign(run_id, "authorised", "manager").returncode == 0
    docs = tmp_path / "docs"
    texts = {}
    for lang in ("en", "id"):
        assert labd("report", run_id, "--lang", lang, "--format", "pdf", "--out", str(docs)).returncode == 0
        texts[lang] = pdf_text(docs / f"certificate-{run_id}-{lang}.pdf")
    today = datetime.now(ZoneInfo("Asia/Makassar")).date()
    months = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
              "November", "Desember")
    dates = {"en": [ITEM["received"], "2027-06-30", today.isoformat()],
             "id": ["20 November 2026", "30 Juni 2027", f"{today.day} {months[today.month - 1]} {today.year}"]}
    common = [ITEM["customer"], ITEM["customer_address"], ITEM["work_order"],
              ITEM["uut_manufacturer"], ITEM["uut_model"], ITEM["uut_serial"], ITEM["uut_condition"],
              "Jl. Contoh No. 1, Samarinda", "kalibrasi@bpsmb.example",          # the lab's address and contact
              "BPSMB-KAL/", run_id,                                             # number, and the run it refers to
              "thermometer-calibration", THERMOMETER_VERSION,                     # method and version
              "KAL-2025/0631/SUHU", "SNSU",                                      # traceability: cert, issuer
              "ref_readout", "A1B234", "dry_block",                             # equipment used, identified
              "Demo Technician", "Penyelia Teknis", "Manajer Teknis"]
    words = {"en": ["Calibration certificate", "Date of receipt", "Date of calibration", "Date of issue",
                    "Condition on receipt", "Metrological traceability", "relate only to the item calibrated",
                    "shall not be reproduced except in full", "End of certificate", "Page 1 of",
                    "coverage probability", "Equipment used", "Environmental conditions",
                    "Annex: uncertainty budgets", "axial uniformity", "immersion", "hysteresis", "KAR-2025/11"],
             "id": ["Sertifikat Kalibrasi", "Tanggal diterima", "Tanggal kalibrasi", "Tanggal terbit",
                    "Kondisi saat diterima", "Ketertelusuran metrologi", "hanya berlaku untuk alat yang dikalibrasi",
                    "tidak boleh digandakan", "Akhir sertifikat", "Halaman 1 dari",
                    "Peralatan yang digunakan", "Kondisi lingkungan", "95,45 %",
                    "Lampiran: anggaran ketidakpastian", "keseragaman aksial", "pencelupan", "histeresis"]}
    for lang, text in texts.items():
        missing = [w for w in common + words[lang] + dates[lang] if w not in text]
        assert not missing, (lang, missing)
    assert "95.45" not in texts["id"] and "95.45 %" in texts["en"]          # decimal comma in Indonesian
    # The register's descriptions in the document's language (description_id for Indonesian).
    assert "Termometer tahanan platina acuan" in texts["id"] and "Reference PRT" not in texts["id"]
    assert "Reference PRT" in texts["en"]


def test_a_software_validation_is_recorded_checked_and_authorised_like_a_certificate(tmp_path):
    """SOP Validasi Software 6–8: the technician makes the report, a supervisor checks it, the technical
    manager signs it; the issued report names what was validated and both signers, in both languages."""
    for operator, password in PASSWORDS.items():
        assert labd("operators", "passwd", operator, stdin=password + "\n").returncode == 0
    trainee = labd("validate", "--operator", "trainee", "--no-pdf", "--out", str(tmp_path / "t"))
    assert trainee.returncode == 1 and "it takes a technician" in trainee.stderr
    made = labd("validate", "--operator", "demo", "--no-pdf", "--out", str(tmp_path / "v"))
    assert made.returncode == 0, made.stderr
    with RecordsReader(tmp_path / "labd.sqlite") as reader:
        (run,) = reader.runs()
        assert run.procedure == "software-validation" and run.operator == "demo" and run.state == "completed"
        assert reader.verify().ok
    assert (tmp_path / "v" / f"validation-report-{run.run_id}-id.html").exists()
    own = sign(run.run_id, "checked", "demo")
    assert own.returncode == 1 and "cannot check or authorise their own work" in own.stderr
    assert sign(run.run_id, "checked", "supervisor").returncode == 0
    issued = sign(run.run_id, "authorised", "manager")
    assert issued.returncode == 0 and f"issued as BPSMB-KAL/{datetime.now(ZoneInfo('Asia/Makassar')).year}/0001" in issued.stdout

    docs = tmp_path / "docs"
    for lang in ("en", "id"):
        assert labd("report", run.run_id, "--format", "pdf", "--lang", lang, "--out", str(docs)).returncode == 0
    en = pdf_text(docs / f"validation-report-{run.run_id}-en.pdf")
    id_ = pdf_text(docs / f"validation-report-{run.run_id}-id.pdf")
    year = datetime.now(ZoneInfo("Asia/Makassar")).year
    assert "Software validation report" in en and "Report number" in en and "published numbers reproduced" in en
    assert "Laporan Hasil Validasi Software" in id_ and "Nomor laporan" in id_ and "LULUS" in id_
    for text in (en, id_):
        assert "DRAFT" not in text and "KONSEP" not in text and f"BPSMB-KAL/{year}/0001" in text
        assert "Penyelia Teknis" in text and "Manajer Teknis" in text and "Demo Technician" in text
        assert run.version in text and "GUM" in text

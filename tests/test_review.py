"""Review and approval by electronic signature (issue 15, item 3): draft → checked → authorised (issued), each a
signature with the signer's password typed at that moment; the issued certificate has its number, no DRAFT
banner, and names both signers; an amendment afterwards needs a new issue that replaces the old number."""
from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

from labd.daemon.records import RecordsReader

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
    return " ".join(text.split())


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

    with RecordsReader(tmp_path / "labd.sqlite") as reader:
        signatures = reader.signatures(run_id)
        refused = [c["outcome"] for c in reader.commands() if '"sign"' in c["payload"]]
        assert reader.verify().ok
    assert [(s["meaning"], s["operator"]) for s in signatures] == [("checked", "supervisor"),
                                                                   ("authorised", "manager")]
    assert refused == ["refused: wrong password or none set", "ok", "ok"]

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
